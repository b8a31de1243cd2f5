//! Operational events: what the webhook runtime does on its own (an endpoint disabled or
//! enabled, an event dead-lettered, a partition blocked, unblocked or skipped, a subscription
//! created, deleted, paused or resumed), published as CloudEvents JSON records (structured
//! mode, `content-type: application/cloudevents+json`) to the internal topic
//! `__strom_events`, keyed by subscription name (so in order per subscription). Clients read
//! it like any topic (READ on it); nothing but Strom writes it. Publishing never blocks
//! delivery: events go through a bounded queue to one writer task; a full queue or a failed
//! append is logged and counted (`strom_events_publish_failures_total`).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use rand::Rng;
use serde_json::{json, Value};
use strom_broker::{Broker, EventLog, NewRecord, RecordHeader};
use tokio::sync::mpsc;

/// The state topic's short name: the topic is `__strom_events`.
pub const NAME: &str = "events";
/// How long events are kept: 7 days.
pub const RETENTION_MS: i64 = 7 * 24 * 3600 * 1000;
/// Events waiting to be written at most; more are dropped (and counted).
const QUEUE: usize = 10_000;
/// Events written in one batch at most.
const BATCH: usize = 256;

/// Publishes operational events; cheap to call from any task.
pub struct Events {
    tx: mpsc::Sender<NewRecord>,
    failures: Arc<AtomicU64>,
}

impl Events {
    /// Opens (creates) `__strom_events` and starts the writer task. When the topic cannot be
    /// opened, every event counts as a failure (delivery goes on).
    pub async fn start(broker: Arc<Broker>) -> Events {
        let opened =
            tokio::task::spawn_blocking(move || EventLog::open(broker, NAME, RETENTION_MS)).await;
        let log = match opened {
            Ok(Ok(log)) => Some(log),
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "events topic not opened; operational events are dropped");
                None
            }
            Err(err) => {
                tracing::warn!(error = %err, "events topic not opened; operational events are dropped");
                None
            }
        };
        let (tx, rx) = mpsc::channel(QUEUE);
        let failures = Arc::new(AtomicU64::new(0));
        tokio::spawn(write_loop(log.map(Arc::new), rx, Arc::clone(&failures)));
        Events { tx, failures }
    }

    /// Queues the event `kind` (`strom.webhook.<kind>`) of subscription `sub` about
    /// `subject` with `data`.
    pub fn publish(&self, sub: &str, kind: &str, subject: &str, data: Value) {
        let record = record(sub, kind, subject, data, crate::now_ms());
        if self.tx.try_send(record).is_err() {
            self.failures.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                subscription = sub,
                kind,
                "operational event dropped: queue full"
            );
        }
    }

    /// Appends the failure counter to `out` (Prometheus text).
    pub fn render_metrics(&self, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP strom_events_publish_failures_total Operational events not written to __strom_events.\n\
             # TYPE strom_events_publish_failures_total counter\n\
             strom_events_publish_failures_total {}",
            self.failures.load(Ordering::Relaxed)
        );
    }
}

async fn write_loop(
    log: Option<Arc<EventLog>>,
    mut rx: mpsc::Receiver<NewRecord>,
    failures: Arc<AtomicU64>,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let n = batch.len() as u64;
        let Some(log) = log.clone() else {
            failures.fetch_add(n, Ordering::Relaxed);
            continue;
        };
        let written = tokio::task::spawn_blocking(move || log.append(&batch)).await;
        let error = match written {
            Ok(Ok(_)) => continue,
            Ok(Err(err)) => err.to_string(),
            Err(err) => err.to_string(),
        };
        failures.fetch_add(n, Ordering::Relaxed);
        tracing::warn!(events = n, %error, "operational events not written");
    }
}

fn rfc3339(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

/// The CloudEvents record of one event.
fn record(sub: &str, kind: &str, subject: &str, data: Value, now: i64) -> NewRecord {
    let id: [u8; 16] = rand::thread_rng().gen();
    let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let kind = format!("strom.webhook.{kind}");
    let doc = json!({
        "specversion": "1.0",
        "id": id,
        "source": format!("/strom/webhooks/{sub}"),
        "type": kind,
        "subject": subject,
        "time": rfc3339(now),
        "datacontenttype": "application/json",
        "data": data,
    });
    let header = |k: &str, v: &str| RecordHeader {
        key: k.into(),
        value: Some(Bytes::copy_from_slice(v.as_bytes())),
    };
    NewRecord {
        key: Some(Bytes::copy_from_slice(sub.as_bytes())),
        value: Some(Bytes::from(doc.to_string())),
        headers: vec![
            header("content-type", "application/cloudevents+json"),
            header("ce_type", &kind),
        ],
        timestamp: Some(now),
    }
}

/// The `subject` of an event about one record: `<topic>/<partition>/<offset>`.
pub fn at(topic: &str, partition: i32, offset: i64) -> String {
    format!("{topic}/{partition}/{offset}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_cloudevents_keyed_by_subscription() {
        let r = record(
            "orders-hook",
            "endpoint.disabled",
            "orders-hook",
            json!({"reason": "410"}),
            0,
        );
        assert_eq!(r.key.as_deref(), Some(&b"orders-hook"[..]));
        let doc: Value = serde_json::from_slice(r.value.as_deref().unwrap()).unwrap();
        assert_eq!(doc["type"], "strom.webhook.endpoint.disabled");
        assert_eq!(doc["source"], "/strom/webhooks/orders-hook");
        assert_eq!(doc["specversion"], "1.0");
        assert_eq!(doc["time"], "1970-01-01T00:00:00.000Z");
        assert_eq!(doc["data"]["reason"], "410");
        assert_eq!(doc["id"].as_str().unwrap().len(), 32);
        assert_eq!(doc["subject"], "orders-hook");
        assert_eq!(doc["datacontenttype"], "application/json");
        assert_eq!(r.timestamp, Some(0));
        let headers: Vec<(&str, &[u8])> = r
            .headers
            .iter()
            .map(|h| (h.key.as_str(), h.value.as_deref().unwrap()))
            .collect();
        assert_eq!(
            headers,
            [
                ("content-type", &b"application/cloudevents+json"[..]),
                ("ce_type", &b"strom.webhook.endpoint.disabled"[..]),
            ]
        );
    }
}
