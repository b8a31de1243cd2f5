//! Partitions added to a subscribed topic while a subscription runs (CreatePartitions):
//! a watcher per subscription runtime looks at the partition counts every
//! [`CHECK_EVERY`] and starts a worker for each new partition. A new partition has no
//! committed position, so its worker starts at its first record: nothing produced to it is
//! missed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::runtime::Runtime;
use crate::{worker, Ctx};

/// How often the partition counts are compared.
pub const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Starts one worker per partition of every topic of `rt`'s subscription and the watcher
/// that adds workers for partitions created later; all handles go to `rt.workers`.
pub fn start(ctx: &Arc<Ctx>, rt: &Arc<Runtime>) {
    let mut known = BTreeMap::new();
    for topic in rt.current().topics.iter() {
        let count = partition_count(ctx, topic);
        spawn_workers(ctx, rt, topic, 0..count);
        known.insert(topic.clone(), count);
    }
    let watcher = tokio::spawn(watch(Arc::clone(ctx), Arc::clone(rt), known));
    rt.workers.lock().push(watcher);
}

fn partition_count(ctx: &Ctx, topic: &str) -> i32 {
    ctx.broker.topic(topic).map_or(0, |t| t.partition_count())
}

fn spawn_workers(ctx: &Arc<Ctx>, rt: &Arc<Runtime>, topic: &str, parts: std::ops::Range<i32>) {
    let mut workers = rt.workers.lock();
    for p in parts {
        workers.push(tokio::spawn(worker::run(
            Arc::clone(ctx),
            Arc::clone(rt),
            topic.to_string(),
            p,
        )));
    }
}

async fn watch(ctx: Arc<Ctx>, rt: Arc<Runtime>, mut known: BTreeMap<String, i32>) {
    let mut stop = rt.stop.subscribe();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(CHECK_EVERY) => {}
            _ = stop.changed() => {}
        }
        if rt.stopped() {
            return;
        }
        for (topic, count) in known.iter_mut() {
            let now = partition_count(&ctx, topic);
            if now > *count {
                tracing::info!(subscription = %rt.current().name, topic = %topic,
                    from = *count, to = now, "webhook: delivering from new partitions");
                spawn_workers(&ctx, &rt, topic, *count..now);
                *count = now;
            }
        }
    }
}
