//! One event until it is done: attempts on the subscription's retry schedule (or the
//! endpoint's `Retry-After`), the attempt history, the run of failures that disables an
//! endpoint after `disable_after_ms`, and at the end a delivery, a dead letter (`exhausted`,
//! or `skipped` by an operator) or, with the block policy, retries at the schedule's last
//! delay until one of those. Never commits a position: the callers do.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use serde_json::{json, Value};
use strom_broker::StoredRecord;

use crate::dlq;
use crate::events;
use crate::model::FailurePolicy;
use crate::payload;
use crate::reads::Rec;
use crate::runtime::{AttemptRecord, Runtime};
use crate::send::{self, Failure, Outcome};
use crate::Ctx;

/// Delay before attempt `n` (0-based): the schedule's entry with ±10 % jitter, at least a
/// `Retry-After`; past the schedule's end its last entry.
pub fn delay(schedule: &[u64], n: usize, retry_after: Option<Duration>) -> Duration {
    let ms = schedule.get(n).or(schedule.last()).copied().unwrap_or(0);
    let jittered = if ms == 0 {
        0
    } else {
        let spread = ms / 10;
        rand::thread_rng().gen_range(ms - spread..=ms + spread)
    };
    Duration::from_millis(jittered).max(retry_after.unwrap_or_default())
}

/// Waits `wait` (counted as a pending retry when `retry`) and until the endpoint is active;
/// false when the subscription stops.
async fn wait_turn(rt: &Runtime, wait: Duration, retry: bool) -> bool {
    if wait.is_zero() && !retry {
        // A first attempt: no pause, no signal to subscribe to.
        return rt.wait_active().await;
    }
    if retry {
        rt.metrics.retries_pending.fetch_add(1, Relaxed);
    }
    let awake = rt.pause(wait).await && rt.wait_active().await;
    if retry {
        rt.metrics.retries_pending.fetch_sub(1, Relaxed);
    }
    awake
}

/// Delivers one record read from `topic`/`partition` until it is delivered or
/// dead-lettered (true), or the subscription stops (false).
pub async fn deliver(
    ctx: &Arc<Ctx>,
    rt: &Runtime,
    topic: &str,
    partition: i32,
    record: Rec,
) -> bool {
    let progress = Progress::new(crate::now_ms());
    deliver_from(ctx, rt, (topic, partition), record, progress).await
}

/// A dead letter's earlier life, carried into the letter written when its redrive fails
/// too.
#[derive(Debug, Clone, Copy)]
pub struct Redriven {
    /// Attempts before this redrive.
    pub attempts: u32,
    /// Redrives before this one.
    pub redrives: u32,
}

/// Where an event's attempts stand.
pub struct Progress {
    /// Attempts made in this round (the schedule's index).
    pub attempts: u32,
    pub first_attempt_ms: i64,
    /// The last attempt's failure.
    pub last: Option<Failure>,
    /// Set for a redriven dead letter: it is dead-lettered again (never blocks) when the
    /// schedule is used up.
    pub redriven: Option<Redriven>,
}

impl Progress {
    pub fn new(first_attempt_ms: i64) -> Progress {
        Progress {
            attempts: 0,
            first_attempt_ms,
            last: None,
            redriven: None,
        }
    }
}

/// [`deliver`] from `progress` on: the next attempt waits the schedule's delay for the
/// attempts already made; when they used up the schedule the event is dead-lettered (or,
/// with the block policy, blocks) without another attempt.
pub async fn deliver_from(
    ctx: &Arc<Ctx>,
    rt: &Runtime,
    (topic, partition): (&str, i32),
    record: Rec,
    mut p: Progress,
) -> bool {
    let offset = record.offset;
    let at = || (topic.to_string(), partition, offset);
    loop {
        let sub = rt.current();
        let exhausted = p.attempts as usize >= sub.retry_schedule_ms.len();
        if let Some(f) = p.last.as_ref().filter(|f| f.reason != "gone" && exhausted) {
            if sub.failure_policy == FailurePolicy::DeadLetter || p.redriven.is_some() {
                let done = Done::new(&p, f.clone(), "exhausted");
                return dead_letter(ctx, rt, &at(), &record, done).await;
            }
            if rt.blocked.lock().insert(at()) {
                tracing::warn!(subscription = %sub.name, topic, partition, offset = record.offset,
                    "webhook: partition blocked at a failing event");
                let id = payload::event_id(&record, topic, partition);
                let data = json!({"event_id": id, "attempts": p.attempts, "status": f.status,
                    "error": f.error});
                publish_at(ctx, &sub.name, "partition.blocked", &at(), data);
            }
        }
        let retry_after = p.last.as_ref().and_then(|f| f.retry_after);
        let wait = delay(&sub.retry_schedule_ms, p.attempts as usize, retry_after);
        if !wait_turn(rt, wait, p.last.is_some()).await {
            return false;
        }
        if rt.take_skip(topic, partition, record.offset) {
            let f = p.last.take().unwrap_or_else(skipped);
            let done = Done::new(&p, f, "skipped");
            return dead_letter(ctx, rt, &at(), &record, done).await;
        }
        let decoder = ctx.decoder.as_ref();
        let event = record.event(topic, partition, sub.payload, decoder);
        let result = {
            let _permit = rt.inflight.acquire().await;
            rt.rate_limit().await;
            send::attempt(&rt.client, &rt.url, &ctx.policy, &sub, &event).await
        };
        p.attempts += 1;
        rt.record(history(&event, p.attempts, &result));
        match result.outcome {
            Outcome::Delivered { .. } => {
                rt.metrics.delivered();
                rt.metrics.observe(result.latency);
                if rt.unblock((topic, partition, record.offset)) {
                    let data = json!({"event_id": &*event.id, "attempts": p.attempts});
                    publish_at(ctx, &sub.name, "partition.unblocked", &at(), data);
                }
                if rt.note_success() {
                    crate::edit::store_failing_since(ctx, rt, None).await;
                }
                return true;
            }
            Outcome::Gone => {
                rt.metrics.failed("gone");
                let reason = "the endpoint answered 410 Gone".to_string();
                crate::edit::disable(ctx, rt, reason).await;
                p.last = Some(gone());
                p.attempts = 0;
            }
            Outcome::Failed(f) => {
                rt.metrics.failed(f.reason);
                note_failure(ctx, rt).await;
                p.last = Some(f);
            }
        }
    }
}

/// Counts a failed attempt towards `disable_after_ms` and disables the endpoint when the
/// run of failures has lasted that long.
async fn note_failure(ctx: &Arc<Ctx>, rt: &Runtime) {
    let now = crate::now_ms();
    let (since, store) = rt.note_failure(now);
    let limit = rt.current().disable_after_ms;
    if limit > 0 && now - since >= limit as i64 {
        rt.metrics.auto_disabled.fetch_add(1, Relaxed);
        let reason = format!(
            "failing continuously for {} s (disable_after_ms {limit})",
            (now - since) / 1000
        );
        crate::edit::disable(ctx, rt, reason).await;
    } else if store {
        crate::edit::store_failing_since(ctx, rt, Some(since)).await;
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

pub(crate) fn gone() -> Failure {
    Failure {
        reason: "gone",
        status: Some(410),
        error: "HTTP 410 Gone: endpoint disabled".into(),
        retry_after: None,
        excerpt: String::new(),
    }
}

/// The history entry of one attempt.
pub fn history(event: &payload::Event, attempt: u32, result: &send::Attempt) -> AttemptRecord {
    let (status, outcome, error) = match &result.outcome {
        Outcome::Delivered { status } => (Some(*status), "delivered", None),
        Outcome::Gone => (Some(410), "gone", None),
        Outcome::Failed(f) => (f.status, f.reason, Some(f.error.clone())),
    };
    AttemptRecord {
        event_id: Arc::clone(&event.id),
        topic: Arc::clone(&event.topic),
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

/// How an event's attempts ended, for its dead letter.
struct Done {
    /// All attempts, those before earlier redrives included.
    attempts: u32,
    first_attempt_ms: i64,
    redrives: u32,
    failure: Failure,
    reason: &'static str,
}

impl Done {
    fn new(p: &Progress, failure: Failure, reason: &'static str) -> Done {
        let earlier = p.redriven.map_or(0, |r| r.attempts);
        Done {
            attempts: earlier + p.attempts,
            first_attempt_ms: p.first_attempt_ms,
            redrives: p.redriven.map_or(0, |r| r.redrives + 1),
            failure,
            reason,
        }
    }
}

/// Writes the dead letter of `record` (retrying the write until it succeeds); false when
/// the subscription stops first.
async fn dead_letter(
    ctx: &Ctx,
    rt: &Runtime,
    at: &(String, i32, i64),
    record: &StoredRecord,
    done: Done,
) -> bool {
    let sub = rt.current();
    let (topic, partition, _) = at;
    let why = dlq::Reason {
        subscription: sub.name.clone(),
        event_id: payload::event_id(record, topic, *partition),
        topic: topic.clone(),
        partition: *partition,
        attempts: done.attempts,
        redrives: done.redrives,
        first_attempt_ms: done.first_attempt_ms,
        last_attempt_ms: crate::now_ms(),
        reason: done.reason,
        status: done.failure.status,
        error: done.failure.error,
        response: done.failure.excerpt,
    };
    let letter = dlq::letter(record, &why);
    let dlq_offset;
    loop {
        let broker = Arc::clone(&ctx.broker);
        let (dlq_topic, l) = (sub.dead_letter_topic.clone(), letter.clone());
        let written = tokio::task::spawn_blocking(move || dlq::write(&broker, &dlq_topic, l)).await;
        match written {
            Ok(Ok(offset)) => {
                dlq_offset = offset;
                break;
            }
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
    rt.metrics.dead_lettered.fetch_add(1, Relaxed);
    rt.blocked.lock().remove(at);
    let kind = match why.reason {
        "skipped" => "partition.skipped",
        _ => "message.exhausted",
    };
    let data = json!({"event_id": why.event_id, "attempts": why.attempts,
        "redrives": why.redrives, "reason": why.reason, "status": why.status, "error": why.error,
        "dead_letter_topic": sub.dead_letter_topic, "dead_letter_offset": dlq_offset});
    publish_at(ctx, &sub.name, kind, at, data);
    true
}

/// Publishes the operational event `kind` about the event at `at` (its topic, partition and
/// offset added to `data`, and its subject `<topic>/<partition>/<offset>`).
fn publish_at(ctx: &Ctx, sub: &str, kind: &str, at: &(String, i32, i64), mut data: Value) {
    let (topic, partition, offset) = at;
    data["topic"] = json!(topic);
    data["partition"] = json!(partition);
    data["offset"] = json!(offset);
    let subject = events::at(topic, *partition, *offset);
    ctx.events.publish(sub, kind, &subject, data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_follow_the_schedule_with_jitter_and_retry_after() {
        let schedule = [0, 1000, 5000];
        assert_eq!(delay(&schedule, 0, None), Duration::ZERO);
        let d = delay(&schedule, 1, None).as_millis();
        assert!((900..=1100).contains(&d), "{d}");
        let past_end = delay(&schedule, 7, None).as_millis();
        assert!((4500..=5500).contains(&past_end), "{past_end}");
        let ra = delay(&schedule, 1, Some(Duration::from_secs(30)));
        assert_eq!(ra, Duration::from_secs(30));
    }
}
