//! Resend (Svix's "resend"): one retained record of a subscribed topic delivered once more
//! to the endpoint with its original `webhook-id`, outside the ordered stream: one attempt,
//! recorded in the attempt history, no retries, no dead letter, and the committed position
//! does not move.

use std::sync::Arc;

use serde::Deserialize;
use strom_broker::{Broker, StoredRecord};

use crate::deliver::history;
use crate::error::{Result, WebhookError};
use crate::runtime::AttemptRecord;
use crate::send::{self, Outcome};
use crate::{payload, Webhooks};

/// Which record to resend.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResendRequest {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

impl Webhooks {
    /// Delivers the record at `req` once more with its original event id and answers the
    /// attempt. Errors: `NotFound`, `Invalid` (a topic the subscription does not read, a
    /// record its filter leaves out), `OutOfRange` (no such partition or offset), `Broker`.
    pub async fn resend_event(&self, name: &str, req: &ResendRequest) -> Result<AttemptRecord> {
        let rt = self.runtime(name)?;
        let sub = rt.current();
        if !sub.topics.iter().any(|t| t == &req.topic) {
            return Err(WebhookError::Invalid(format!(
                "subscription '{name}' does not read topic '{}'",
                req.topic
            )));
        }
        let broker = Arc::clone(&self.ctx.broker);
        let at = req.clone();
        let record = tokio::task::spawn_blocking(move || read_one(&broker, &at))
            .await
            .map_err(|_| WebhookError::Broker(strom_broker::BrokerError::ShuttingDown))??;
        if !crate::worker::matches(&sub.filter, &record) {
            return Err(WebhookError::Invalid(format!(
                "the record at {}/{}/{} does not pass the subscription's filter",
                req.topic, req.partition, req.offset
            )));
        }
        let decoder = self.ctx.decoder.as_ref();
        let event = payload::build(&record, &req.topic, req.partition, sub.payload, decoder);
        let attempt = {
            let _permit = rt.inflight.acquire().await;
            rt.rate_limit().await;
            send::attempt(&rt.client, &rt.url, &self.ctx.policy, &sub, &event).await
        };
        match &attempt.outcome {
            Outcome::Delivered { .. } => rt.metrics.observe(attempt.latency),
            Outcome::Gone => rt.metrics.failed("gone"),
            Outcome::Failed(f) => rt.metrics.failed(f.reason),
        }
        let shown = history(&event, 1, &attempt);
        rt.record(shown.clone());
        if matches!(attempt.outcome, Outcome::Gone) {
            let reason = "the endpoint answered 410 Gone".to_string();
            crate::edit::disable(&self.ctx, &rt, reason).await;
        }
        Ok(shown)
    }
}

/// The record at `at` (blocking). Errors: `OutOfRange`, `Broker`.
fn read_one(broker: &Broker, at: &ResendRequest) -> Result<StoredRecord> {
    let out_of_range = |what: String| WebhookError::OutOfRange(what);
    let part = broker.partition(&at.topic, at.partition).map_err(|_| {
        out_of_range(format!(
            "topic '{}' has no partition {}",
            at.topic, at.partition
        ))
    })?;
    let (start, end) = (part.log_start_offset(), part.high_watermark());
    if !(start..end).contains(&at.offset) {
        return Err(out_of_range(format!(
            "offset {} is outside {}/{}'s retained offsets [{start}, {end})",
            at.offset, at.topic, at.partition
        )));
    }
    if let Some(r) = crate::reads::record_at(&part, at.offset)? {
        return Ok(r);
    }
    Err(out_of_range(format!(
        "no record at {}/{}/{} (removed by compaction or a control record)",
        at.topic, at.partition, at.offset
    )))
}
