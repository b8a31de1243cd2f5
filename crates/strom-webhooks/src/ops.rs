//! The operator side of [`Webhooks`]: secrets and rotation, attempt history, dead-letter
//! listing, redrive and skip, test events and the metrics of every subscription.

use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;
use strom_broker::{RecordHeader, StoredRecord};

use crate::error::{Result, WebhookError};
use crate::metrics::{self, Snapshot};
use crate::model::EndpointState;
use crate::payload;
use crate::runtime::AttemptRecord;
use crate::send::{self, Outcome};
use crate::signing::Secret;
use crate::Webhooks;

/// Most dead letters one list or redrive handles.
pub const MAX_BATCH: usize = 1000;

/// A dead letter as listed.
#[derive(Debug, Clone, Serialize)]
pub struct DeadLetter {
    pub offset: i64,
    pub timestamp_ms: i64,
    pub key: Option<String>,
    pub value: Option<String>,
    pub headers: Vec<(String, String)>,
}

/// What a redrive did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Redrive {
    pub delivered: Vec<i64>,
    pub failed: Vec<i64>,
}

/// Which dead letters to redrive: those at `offsets`, else those written since
/// `since_ms`, else all.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selection {
    #[serde(default)]
    pub offsets: Option<Vec<i64>>,
    #[serde(default)]
    pub since_ms: Option<i64>,
}

fn lossy(b: &Option<Bytes>) -> Option<String> {
    b.as_deref()
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

impl Webhooks {
    /// The live signing secrets, newest first.
    pub fn secrets(&self, name: &str) -> Result<Vec<Secret>> {
        let now = crate::now_ms();
        let sub = self.runtime(name)?.current();
        Ok(sub
            .secrets
            .iter()
            .filter(|s| s.expires_ms.is_none_or(|e| e > now))
            .cloned()
            .collect())
    }

    /// Adds a new secret (returned) that signs from now on; the others keep signing for
    /// `keep_old_ms` (default 24 h), so receivers can switch without a gap.
    pub async fn rotate(&self, name: &str, keep_old_ms: Option<i64>) -> Result<String> {
        let rt = self.runtime(name)?;
        let now = crate::now_ms();
        let expires = now + keep_old_ms.unwrap_or(24 * 3600 * 1000).max(0);
        let mut sub = (*rt.current()).clone();
        sub.secrets.retain(|s| s.expires_ms.is_none_or(|e| e > now));
        for s in &mut sub.secrets {
            s.expires_ms = Some(s.expires_ms.map_or(expires, |e| e.min(expires)));
        }
        let fresh = Secret::generate();
        let text = fresh.secret.clone();
        sub.secrets.insert(0, fresh);
        self.persist(&sub).await?;
        *rt.sub.write() = Arc::new(sub);
        Ok(text)
    }

    pub fn attempts(&self, name: &str) -> Result<Vec<AttemptRecord>> {
        Ok(self
            .runtime(name)?
            .history
            .lock()
            .iter()
            .rev()
            .cloned()
            .collect())
    }

    /// Dead letters from offset `from`, at most `limit`.
    pub async fn dead_letters(
        &self,
        name: &str,
        from: i64,
        limit: usize,
    ) -> Result<Vec<DeadLetter>> {
        let records = self.read_dead_letters(name, from, limit).await?;
        Ok(records
            .into_iter()
            .map(|r| DeadLetter {
                offset: r.offset,
                timestamp_ms: r.timestamp,
                key: lossy(&r.key),
                value: lossy(&r.value),
                headers: r
                    .headers
                    .iter()
                    .map(|h| (h.key.clone(), lossy(&h.value).unwrap_or_default()))
                    .collect(),
            })
            .collect())
    }

    async fn read_dead_letters(
        &self,
        name: &str,
        from: i64,
        limit: usize,
    ) -> Result<Vec<StoredRecord>> {
        let topic = self.runtime(name)?.current().dead_letter_topic.clone();
        let broker = Arc::clone(&self.ctx.broker);
        let limit = limit.min(MAX_BATCH);
        tokio::task::spawn_blocking(move || crate::dlq::read(&broker, &topic, from, limit))
            .await
            .map_err(|_| WebhookError::Broker(strom_broker::BrokerError::ShuttingDown))?
    }

    /// Delivers the selected dead letters again, once each, with their original event ids.
    pub async fn redrive(&self, name: &str, selection: &Selection) -> Result<Redrive> {
        let rt = self.runtime(name)?;
        let letters = self.read_dead_letters(name, 0, MAX_BATCH).await?;
        let mut done = Redrive::default();
        for letter in letters {
            let wanted = match (&selection.offsets, selection.since_ms) {
                (Some(offsets), _) => offsets.contains(&letter.offset),
                (None, Some(since)) => letter.timestamp >= since || written_since(&letter, since),
                (None, None) => true,
            };
            let Some((record, topic, partition)) =
                wanted.then(|| crate::dlq::original(&letter)).flatten()
            else {
                continue;
            };
            let sub = rt.current();
            let event = payload::build(&record, &topic, partition, sub.payload);
            let attempt = send::attempt(&rt.client, &rt.url, &self.ctx.policy, &sub, &event).await;
            match attempt.outcome {
                Outcome::Delivered { .. } => {
                    rt.metrics
                        .delivered
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    done.delivered.push(letter.offset)
                }
                _ => done.failed.push(letter.offset),
            }
        }
        Ok(done)
    }

    /// Skips the event a blocked partition is stuck at (dead-letters it as `skipped`);
    /// every blocked partition when none is named. Returns how many were skipped.
    pub fn skip(&self, name: &str, only: Option<(String, i32)>) -> Result<usize> {
        let rt = self.runtime(name)?;
        let blocked: Vec<(String, i32)> = rt
            .blocked
            .lock()
            .iter()
            .filter(|b| only.as_ref().is_none_or(|o| o == *b))
            .cloned()
            .collect();
        rt.skip.lock().extend(blocked.iter().cloned());
        rt.notify();
        Ok(blocked.len())
    }

    /// Sends one test event (`strom.test`) now, outside the log.
    pub async fn test(&self, name: &str) -> Result<AttemptRecord> {
        let rt = self.runtime(name)?;
        let sub = rt.current();
        let now = crate::now_ms();
        let record = StoredRecord {
            offset: -1,
            timestamp: now,
            key: None,
            value: Some(Bytes::from_static(br#"{"test":true}"#)),
            headers: vec![
                RecordHeader {
                    key: "ce_type".into(),
                    value: Some(Bytes::from_static(b"strom.test")),
                },
                RecordHeader {
                    key: "ce_id".into(),
                    value: Some(Bytes::from(format!("test-{now}"))),
                },
            ],
        };
        let event = payload::build(&record, "test", 0, sub.payload);
        let attempt = send::attempt(&rt.client, &rt.url, &self.ctx.policy, &sub, &event).await;
        let (status, result, error) = match attempt.outcome {
            Outcome::Delivered { status } => (Some(status), "delivered".to_string(), None),
            Outcome::Gone => (Some(410), "gone".to_string(), None),
            Outcome::Failed(f) => (f.status, f.reason.to_string(), Some(f.error)),
        };
        Ok(AttemptRecord {
            event_id: event.id,
            topic: String::new(),
            partition: 0,
            offset: -1,
            attempt: 1,
            at_ms: now,
            latency_ms: attempt.latency.as_millis() as u64,
            status,
            result,
            error,
        })
    }

    /// Appends every subscription's metrics to `out`.
    pub fn render_metrics(&self, out: &mut String) {
        let subs: Vec<_> = self.subs.lock().values().cloned().collect();
        let mut facts = Vec::new();
        for rt in &subs {
            let sub = rt.current();
            let lag = self
                .ctx
                .groups
                .lag(&sub.group())
                .map(|l| l.iter().filter_map(|p| p.lag).sum::<i64>())
                .unwrap_or(0);
            let dlq = self
                .ctx
                .broker
                .partition(&sub.dead_letter_topic, 0)
                .map(|p| p.high_watermark() - p.log_start_offset())
                .unwrap_or(0);
            let state = match sub.state {
                EndpointState::Active => "active",
                EndpointState::Paused => "paused",
                EndpointState::Disabled => "disabled",
            };
            facts.push((sub, lag, dlq, state));
        }
        let snaps: Vec<Snapshot<'_>> = facts
            .iter()
            .zip(&subs)
            .map(|((sub, lag, dlq, state), rt)| Snapshot {
                name: &sub.name,
                metrics: &rt.metrics,
                lag: *lag,
                dead_letter_records: *dlq,
                state,
            })
            .collect();
        metrics::render(&snaps, out);
    }
}

fn written_since(letter: &StoredRecord, since_ms: i64) -> bool {
    crate::dlq::field(letter, "last-attempt")
        .and_then(|t| humantime::parse_rfc3339(&t).ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .is_some_and(|d| d.as_millis() as i64 >= since_ms)
}
