//! A partition worker: follows one partition of a subscribed topic from the group's
//! committed position, delivers matching records one at a time in offset order (ordering
//! `partition`), retries on the subscription's schedule, dead-letters or blocks when the
//! retries are used up, and commits the position only past events that were delivered or
//! dead-lettered, so a restart resumes without losing any.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use strom_broker::group::{OffsetCommitEntry, OffsetCommitRequest, TopicPartitions};
use strom_broker::{decode_records, StoredRecord};

use crate::dlq;
use crate::model::{FailurePolicy, Filter};
use crate::payload::{self, event_type};
use crate::runtime::{AttemptRecord, Runtime};
use crate::send::{self, Failure, Outcome};
use crate::Ctx;

const READ_BYTES: usize = 256 * 1024;
const IDLE_WAIT: Duration = Duration::from_secs(1);

/// Runs until the subscription stops.
pub async fn run(ctx: Arc<Ctx>, rt: Arc<Runtime>, topic: String, partition: i32) {
    let group = rt.current().group();
    let mut pos = committed(&ctx, &group, &topic, partition);
    while rt.wait_active().await {
        let Ok(part) = ctx.broker.partition(&topic, partition) else {
            if !rt.pause(IDLE_WAIT).await {
                return;
            }
            continue;
        };
        pos = pos.max(part.log_start_offset());
        if pos >= part.high_watermark() {
            let mut stop = rt.stop.subscribe();
            tokio::select! {
                _ = part.wait_for_data(pos, IDLE_WAIT) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        let from = pos;
        let read = tokio::task::spawn_blocking(move || part.read(from, READ_BYTES)).await;
        let records = match read {
            Ok(Ok(fetched)) => decode_records(&fetched.records).unwrap_or_else(|err| {
                tracing::warn!(%topic, partition, error = %err, "webhook: undecodable batch skipped");
                Vec::new()
            }),
            _ => Vec::new(),
        };
        let next = records.last().map_or(pos + 1, |r| r.offset + 1);
        let start = pos;
        for record in records.into_iter().filter(|r| r.offset >= start) {
            let offset = record.offset;
            if matches(&rt.current().filter, &record)
                && !deliver(&ctx, &rt, &topic, partition, record).await
            {
                commit(&ctx, &group, &topic, partition, offset).await;
                return;
            }
            pos = offset + 1;
        }
        pos = pos.max(next);
        commit(&ctx, &group, &topic, partition, pos).await;
    }
}

fn committed(ctx: &Ctx, group: &str, topic: &str, partition: i32) -> i64 {
    let wanted = [TopicPartitions {
        topic: topic.to_string(),
        partitions: vec![partition],
    }];
    ctx.groups
        .fetch_offsets(group, Some(&wanted))
        .first()
        .map_or(-1, |f| f.offset)
        .max(0)
}

/// Commits `offset` as the group's position (standalone commit, generation -1).
pub async fn commit(ctx: &Ctx, group: &str, topic: &str, partition: i32, offset: i64) {
    let req = OffsetCommitRequest {
        group_id: group.to_string(),
        generation_id: -1,
        member_id: String::new(),
        group_instance_id: None,
        offsets: vec![OffsetCommitEntry {
            topic: topic.to_string(),
            partition,
            offset,
            leader_epoch: -1,
            metadata: None,
        }],
    };
    match ctx.groups.commit_offsets(req).await {
        Ok(results) => {
            if let Some(err) = results.iter().find_map(|r| r.error.as_ref()) {
                tracing::warn!(group, topic, partition, error = %err, "webhook: commit failed");
            }
        }
        Err(err) => tracing::warn!(group, topic, partition, error = %err, "webhook: commit failed"),
    }
}

/// Whether `record` passes the subscription's filter.
pub fn matches(filter: &Filter, record: &StoredRecord) -> bool {
    if let Some(prefix) = &filter.key_prefix {
        let key = record.key.as_deref().unwrap_or_default();
        if !key.starts_with(prefix.as_bytes()) {
            return false;
        }
    }
    let header_ok = filter.headers.iter().all(|(name, value)| {
        record
            .headers
            .iter()
            .any(|h| &h.key == name && h.value.as_deref() == Some(value.as_bytes()))
    });
    let type_ok =
        filter.types.is_empty() || event_type(record).is_some_and(|t| filter.types.contains(&t));
    header_ok && type_ok
}

/// Delay before attempt `n` (0-based): the schedule's entry with ±10 % jitter, at least a
/// `Retry-After`; past the schedule's end its last entry.
fn delay(schedule: &[u64], n: usize, retry_after: Option<Duration>) -> Duration {
    let ms = schedule.get(n).or(schedule.last()).copied().unwrap_or(0);
    let jittered = if ms == 0 {
        0
    } else {
        let spread = ms / 10;
        rand::thread_rng().gen_range(ms - spread..=ms + spread)
    };
    Duration::from_millis(jittered).max(retry_after.unwrap_or_default())
}

/// Delivers one record until it is delivered or dead-lettered (true), or the subscription
/// stops (false).
async fn deliver(
    ctx: &Arc<Ctx>,
    rt: &Runtime,
    topic: &str,
    partition: i32,
    record: StoredRecord,
) -> bool {
    let first_ms = crate::now_ms();
    let mut attempts = 0u32;
    let mut last: Option<Failure> = None;
    loop {
        let sub = rt.current();
        let wait = match &last {
            None => delay(&sub.retry_schedule_ms, 0, None),
            Some(f) => delay(&sub.retry_schedule_ms, attempts as usize, f.retry_after),
        };
        if last.is_some() {
            rt.metrics
                .retries_pending
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let awake = rt.pause(wait).await && rt.wait_active().await;
        if last.is_some() {
            rt.metrics
                .retries_pending
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
        if !awake {
            return false;
        }
        if rt.take_skip(topic, partition) {
            let f = last.take().unwrap_or_else(skipped);
            return dead_letter(
                ctx, rt, topic, partition, &record, attempts, first_ms, f, "skipped",
            )
            .await;
        }
        let event = payload::build(&record, topic, partition, sub.payload);
        let result = {
            let _permit = rt.inflight.acquire().await;
            rt.rate_limit().await;
            send::attempt(&rt.client, &rt.url, &ctx.policy, &sub, &event).await
        };
        attempts += 1;
        rt.record(history(&event, attempts, &result));
        match result.outcome {
            Outcome::Delivered { .. } => {
                rt.metrics
                    .delivered
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                rt.metrics.observe(result.latency);
                unblock(rt, topic, partition);
                return true;
            }
            Outcome::Gone => {
                rt.metrics.failed("gone");
                crate::registry::disable(ctx, rt).await;
                last = Some(gone());
                attempts = 0;
            }
            Outcome::Failed(f) => {
                rt.metrics.failed(f.reason);
                let exhausted = attempts as usize >= sub.retry_schedule_ms.len();
                if exhausted && sub.failure_policy == FailurePolicy::DeadLetter {
                    return dead_letter(
                        ctx,
                        rt,
                        topic,
                        partition,
                        &record,
                        attempts,
                        first_ms,
                        f,
                        "exhausted",
                    )
                    .await;
                }
                if exhausted && rt.blocked.lock().insert((topic.to_string(), partition)) {
                    rt.metrics
                        .blocked
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::warn!(subscription = %sub.name, topic, partition, offset = record.offset,
                        "webhook: partition blocked at a failing event");
                }
                last = Some(f);
            }
        }
    }
}

fn unblock(rt: &Runtime, topic: &str, partition: i32) {
    if rt.blocked.lock().remove(&(topic.to_string(), partition)) {
        rt.metrics
            .blocked
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

fn skipped() -> Failure {
    Failure {
        reason: "skipped",
        status: None,
        error: "skipped by an operator".into(),
        retry_after: None,
        excerpt: String::new(),
    }
}

fn gone() -> Failure {
    Failure {
        reason: "gone",
        status: Some(410),
        error: "HTTP 410 Gone: endpoint disabled".into(),
        retry_after: None,
        excerpt: String::new(),
    }
}

fn history(event: &payload::Event, attempt: u32, result: &send::Attempt) -> AttemptRecord {
    let (status, outcome, error) = match &result.outcome {
        Outcome::Delivered { status } => (Some(*status), "delivered".to_string(), None),
        Outcome::Gone => (Some(410), "gone".to_string(), None),
        Outcome::Failed(f) => (f.status, f.reason.to_string(), Some(f.error.clone())),
    };
    AttemptRecord {
        event_id: event.id.clone(),
        topic: event.topic.clone(),
        partition: event.partition,
        offset: event.offset,
        attempt,
        at_ms: crate::now_ms(),
        latency_ms: result.latency.as_millis() as u64,
        status,
        result: outcome,
        error,
    }
}

#[allow(clippy::too_many_arguments)]
async fn dead_letter(
    ctx: &Ctx,
    rt: &Runtime,
    topic: &str,
    partition: i32,
    record: &StoredRecord,
    attempts: u32,
    first_attempt_ms: i64,
    failure: Failure,
    reason: &'static str,
) -> bool {
    let sub = rt.current();
    let why = dlq::Reason {
        subscription: sub.name.clone(),
        event_id: payload::event_id(record, topic, partition),
        topic: topic.to_string(),
        partition,
        attempts,
        first_attempt_ms,
        last_attempt_ms: crate::now_ms(),
        reason,
        status: failure.status,
        error: failure.error,
        response: failure.excerpt,
    };
    let letter = dlq::letter(record, &why);
    loop {
        let broker = Arc::clone(&ctx.broker);
        let (dlq_topic, l) = (sub.dead_letter_topic.clone(), letter.clone());
        let written = tokio::task::spawn_blocking(move || dlq::write(&broker, &dlq_topic, l)).await;
        match written {
            Ok(Ok(_)) => break,
            Ok(Err(err)) => {
                tracing::warn!(subscription = %sub.name, error = %err, "webhook: dead letter not written; retrying")
            }
            Err(err) => {
                tracing::warn!(subscription = %sub.name, error = %err, "webhook: dead letter task failed; retrying")
            }
        }
        if !rt.pause(Duration::from_secs(1)).await {
            return false;
        }
    }
    rt.metrics
        .dead_lettered
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    unblock(rt, topic, partition);
    true
}
