//! What `GET /v1/webhooks/{name}` shows beyond the settings: the last attempts, the
//! delivery and failure rates of the last minute, lag in records and seconds, blocked
//! events, retries pending and the counters. Reads the log only to date the oldest
//! undelivered record of each lagging partition.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use serde::Serialize;
use strom_broker::{decode_records, Broker};

use crate::error::Result;
use crate::metrics::Rates;
use crate::model::SubscriptionView;
use crate::runtime::AttemptRecord;
use crate::Webhooks;

/// Attempts shown with a subscription (all of them: `GET …/attempts`).
pub const RECENT: usize = 20;

/// A blocked event (block policy), retried until it succeeds or is skipped.
#[derive(Debug, Clone, Serialize)]
pub struct Blocked {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// A subscription with its live delivery state.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    #[serde(flatten)]
    pub subscription: SubscriptionView,
    pub rates: Rates,
    /// Records not yet delivered or dead-lettered (committed position to log end).
    pub lag_records: i64,
    /// Age of the oldest record not yet delivered or dead-lettered; 0 when caught up.
    pub lag_seconds: f64,
    pub delivered_total: u64,
    pub dead_lettered_total: u64,
    pub retries_pending: i64,
    pub blocked: Vec<Blocked>,
    /// Newest first, at most [`RECENT`].
    pub recent_attempts: Vec<AttemptRecord>,
}

impl Webhooks {
    /// The subscription `name` with its delivery state. Errors: `NotFound`.
    pub async fn status(&self, name: &str) -> Result<Status> {
        let rt = self.runtime(name)?;
        let sub = rt.current();
        let (lag_records, lag_seconds) = self.lag(&sub.group()).await;
        let now = crate::now_ms();
        let blocked = rt
            .blocked
            .lock()
            .iter()
            .map(|(topic, partition, offset)| Blocked {
                topic: topic.clone(),
                partition: *partition,
                offset: *offset,
            })
            .collect();
        let recent_attempts = rt
            .history
            .lock()
            .iter()
            .rev()
            .take(RECENT)
            .cloned()
            .collect();
        Ok(Status {
            subscription: sub.view(),
            rates: rt.metrics.rates(now),
            lag_records,
            lag_seconds,
            delivered_total: rt.metrics.delivered.load(Relaxed),
            dead_lettered_total: rt.metrics.dead_lettered.load(Relaxed),
            retries_pending: rt.metrics.retries_pending.load(Relaxed),
            blocked,
            recent_attempts,
        })
    }
}

impl Webhooks {
    /// The lag of subscription group `group`: records from the committed positions to the
    /// log ends, and the age in seconds of the oldest of them (0 without lag).
    pub async fn lag(&self, group: &str) -> (i64, f64) {
        let lags = self.ctx.groups.lag(group).unwrap_or_default();
        let records = lags.iter().filter_map(|p| p.lag).sum();
        let behind: Vec<(String, i32, i64)> = lags
            .iter()
            .filter(|p| p.lag.unwrap_or(0) > 0)
            .map(|p| (p.topic.clone(), p.partition, p.committed_offset))
            .collect();
        if behind.is_empty() {
            return (records, 0.0);
        }
        let broker = Arc::clone(&self.ctx.broker);
        let oldest = tokio::task::spawn_blocking(move || oldest_timestamp(&broker, &behind))
            .await
            .ok()
            .flatten();
        let now = crate::now_ms();
        (
            records,
            oldest.map_or(0.0, |t| (now - t).max(0) as f64 / 1000.0),
        )
    }
}

/// The smallest timestamp of the records at the given positions (blocking).
fn oldest_timestamp(broker: &Broker, at: &[(String, i32, i64)]) -> Option<i64> {
    at.iter()
        .filter_map(|(topic, partition, offset)| {
            let part = broker.partition(topic, *partition).ok()?;
            let fetched = part.read(*offset, 1).ok()?;
            let records = decode_records(&fetched.records).ok()?;
            records
                .into_iter()
                .find(|r| r.offset >= *offset)
                .map(|r| r.timestamp)
        })
        .min()
}
