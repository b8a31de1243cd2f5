//! [`Runtime`]: the live side of one subscription: its current settings, HTTP client,
//! stop and change signals, concurrency and rate limits, blocked and skipped partitions,
//! attempt history and metrics. Shared by its partition workers and the API.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use reqwest::{Client, Url};
use serde::Serialize;
use tokio::sync::{watch, Semaphore};

use crate::metrics::SubMetrics;
use crate::model::{EndpointState, Subscription};

/// Attempts kept per subscription.
pub const HISTORY: usize = 200;

/// One delivery attempt, as the history shows it.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptRecord {
    pub event_id: String,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub attempt: u32,
    pub at_ms: i64,
    pub latency_ms: u64,
    /// HTTP status, when one was received.
    pub status: Option<u16>,
    /// `delivered`, `gone`, or the failure reason.
    pub result: String,
    pub error: Option<String>,
}

pub struct Runtime {
    pub sub: RwLock<Arc<Subscription>>,
    pub client: Client,
    pub url: Url,
    /// Bumped on every state change (pause, resume, disable, skip).
    pub changed: watch::Sender<u64>,
    /// True once the subscription is deleted or the server stops.
    pub stop: watch::Sender<bool>,
    pub metrics: SubMetrics,
    pub history: Mutex<VecDeque<AttemptRecord>>,
    pub blocked: Mutex<BTreeSet<(String, i32)>>,
    pub skip: Mutex<BTreeSet<(String, i32)>>,
    pub inflight: Semaphore,
    next_slot: Mutex<Instant>,
}

impl Runtime {
    pub fn new(sub: Subscription, client: Client, url: Url) -> Runtime {
        let permits = sub.concurrency.max(1) as usize;
        Runtime {
            sub: RwLock::new(Arc::new(sub)),
            client,
            url,
            changed: watch::channel(0).0,
            stop: watch::channel(false).0,
            metrics: SubMetrics::default(),
            history: Mutex::new(VecDeque::new()),
            blocked: Mutex::new(BTreeSet::new()),
            skip: Mutex::new(BTreeSet::new()),
            inflight: Semaphore::new(permits),
            next_slot: Mutex::new(Instant::now()),
        }
    }

    pub fn current(&self) -> Arc<Subscription> {
        Arc::clone(&self.sub.read())
    }

    pub fn state(&self) -> EndpointState {
        self.sub.read().state
    }

    pub fn stopped(&self) -> bool {
        *self.stop.borrow()
    }

    pub fn notify(&self) {
        self.changed.send_modify(|n| *n += 1);
    }

    /// Waits until the endpoint is active; false if the subscription stops first.
    pub async fn wait_active(&self) -> bool {
        let mut changed = self.changed.subscribe();
        let mut stop = self.stop.subscribe();
        loop {
            if self.stopped() {
                return false;
            }
            if self.state() == EndpointState::Active {
                return true;
            }
            tokio::select! {
                _ = changed.changed() => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Sleeps `delay`, cut short by a stop (false) or a state change (true, e.g. a skip).
    pub async fn pause(&self, delay: Duration) -> bool {
        if delay.is_zero() {
            return !self.stopped();
        }
        let mut changed = self.changed.subscribe();
        let mut stop = self.stop.subscribe();
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = changed.changed() => {}
            _ = stop.changed() => {}
        }
        !self.stopped()
    }

    /// Waits for the rate limit's next slot.
    pub async fn rate_limit(&self) {
        let Some(per_sec) = self.sub.read().rate_limit_per_sec.filter(|r| *r > 0) else {
            return;
        };
        let slot = {
            let mut next = self.next_slot.lock();
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + Duration::from_secs(1) / per_sec;
            slot
        };
        tokio::time::sleep_until(slot.into()).await;
    }

    pub fn record(&self, attempt: AttemptRecord) {
        let mut h = self.history.lock();
        if h.len() >= HISTORY {
            h.pop_front();
        }
        h.push_back(attempt);
    }

    /// Takes a pending operator skip of `topic`/`partition`.
    pub fn take_skip(&self, topic: &str, partition: i32) -> bool {
        self.skip.lock().remove(&(topic.to_string(), partition))
    }
}
