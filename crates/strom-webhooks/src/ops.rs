//! The operator side of [`Webhooks`]: secrets and rotation, attempt history and status
//! (rates, lag), skip of blocked events, test events and the metrics of every subscription.
//! Dead letters are in [`crate::redrive`].

use bytes::Bytes;
use strom_broker::{RecordHeader, StoredRecord};

use crate::error::Result;
use crate::metrics::{self, Snapshot};
use crate::model::EndpointState;
use crate::payload;
use crate::runtime::{AttemptRecord, EventAt};
use crate::send;
use crate::signing::Secret;
use crate::Webhooks;

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
        let fresh = Secret::generate();
        let text = fresh.secret.clone();
        crate::edit::modify(&self.ctx, &rt, |sub| {
            crate::edit::rotate_into(&mut sub.secrets, fresh, keep_old_ms, crate::now_ms());
            true
        })
        .await?;
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

    /// Skips the events blocked partitions are stopped at (each is dead-lettered as
    /// `skipped`): those of `only` (topic, partition), else all. Returns how many.
    pub fn skip(&self, name: &str, only: Option<(String, i32)>) -> Result<usize> {
        let rt = self.runtime(name)?;
        let blocked: Vec<EventAt> = rt
            .blocked
            .lock()
            .iter()
            .filter(|(t, p, _)| only.as_ref().is_none_or(|(ot, op)| ot == t && op == p))
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
        let event = payload::build(&record, "test", 0, sub.payload, self.ctx.decoder.as_ref());
        let attempt = send::attempt(&rt.client, &rt.url, &self.ctx.policy, &sub, &event).await;
        let mut shown = crate::deliver::history(&event, 1, &attempt);
        shown.topic = "".into();
        rt.record(shown.clone());
        Ok(shown)
    }

    /// Appends every subscription's metrics to `out`.
    pub async fn render_metrics(&self, out: &mut String) {
        let subs: Vec<_> = self.subs.lock().values().cloned().collect();
        let mut facts = Vec::new();
        for rt in &subs {
            let sub = rt.current();
            let lag = self.lag(&sub.group()).await;
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
            facts.push((sub, lag, dlq, state, rt.blocked_partitions() as i64));
        }
        let snaps: Vec<Snapshot<'_>> = facts
            .iter()
            .zip(&subs)
            .map(|((sub, lag, dlq, state, blocked), rt)| Snapshot {
                name: &sub.name,
                metrics: &rt.metrics,
                lag: lag.0,
                lag_seconds: lag.1,
                blocked_partitions: *blocked,
                dead_letter_records: *dlq,
                state,
            })
            .collect();
        metrics::render(&snaps, out);
        self.ctx.events.render_metrics(out);
    }
}
