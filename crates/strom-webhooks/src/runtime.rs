//! [`Runtime`]: the live side of one subscription: its current settings, HTTP client,
//! stop and change signals, concurrency and rate limits, blocked and skipped events, the
//! current run of failures, attempt history and metrics. Shared by its partition workers and
//! the API. A `PATCH` replaces the runtime; metrics and history carry over.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use reqwest::Url;
use serde::Serialize;
use tokio::sync::{watch, Semaphore};

use crate::metrics::SubMetrics;
use crate::model::{EndpointState, Subscription};
use crate::send::Clients;

/// Attempts kept per subscription.
pub const HISTORY: usize = 200;

/// One delivery attempt, as the history shows it.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptRecord {
    #[serde(serialize_with = "text")]
    pub event_id: Arc<str>,
    #[serde(serialize_with = "text")]
    pub topic: Arc<str>,
    pub partition: i32,
    pub offset: i64,
    pub attempt: u32,
    pub at_ms: i64,
    pub latency_ms: u64,
    /// HTTP status, when one was received.
    pub status: Option<u16>,
    /// `delivered`, `gone`, or the failure reason.
    pub result: &'static str,
    pub error: Option<String>,
}

fn text<S: serde::Serializer>(value: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(value)
}

/// An event a worker is stopped at: topic, partition, offset.
pub type EventAt = (String, i32, i64);

/// A run of failed attempts with no delivery in between.
#[derive(Debug, Default, Clone, Copy)]
pub struct Failing {
    pub since_ms: Option<i64>,
    /// `since_ms` is written to the stored subscription.
    pub stored: bool,
}

pub struct Runtime {
    pub sub: RwLock<Arc<Subscription>>,
    pub client: Clients,
    pub url: Url,
    /// Bumped on every state change (pause, resume, disable, skip).
    pub changed: watch::Sender<u64>,
    /// True once the subscription is deleted, changed or the server stops.
    pub stop: watch::Sender<bool>,
    pub metrics: Arc<SubMetrics>,
    pub history: Arc<Mutex<VecDeque<AttemptRecord>>>,
    /// Events retried at the schedule's last delay (block policy).
    pub blocked: Mutex<BTreeSet<EventAt>>,
    /// Blocked events an operator skipped, not yet dead-lettered.
    pub skip: Mutex<BTreeSet<EventAt>>,
    pub failing: Mutex<Failing>,
    pub inflight: Semaphore,
    pub workers: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// The workers' position commits, one request per interval for all partitions.
    pub commits: Arc<crate::commit::Batch>,
    next_slot: Mutex<Instant>,
}

impl Runtime {
    /// The runtime of `sub`; `carry` is the one it replaces (metrics and history go on).
    pub fn new(sub: Subscription, client: Clients, url: Url, carry: Option<&Runtime>) -> Runtime {
        let permits = sub.concurrency.max(1) as usize;
        let failing = Failing {
            since_ms: sub.failing_since_ms,
            stored: sub.failing_since_ms.is_some(),
        };
        Runtime {
            sub: RwLock::new(Arc::new(sub)),
            client,
            url,
            changed: watch::channel(0).0,
            stop: watch::channel(false).0,
            metrics: carry.map_or_else(Default::default, |c| Arc::clone(&c.metrics)),
            history: carry.map_or_else(Default::default, |c| Arc::clone(&c.history)),
            blocked: Mutex::new(BTreeSet::new()),
            skip: Mutex::new(BTreeSet::new()),
            failing: Mutex::new(failing),
            inflight: Semaphore::new(permits),
            workers: Mutex::new(Vec::new()),
            commits: Arc::default(),
            next_slot: Mutex::new(Instant::now()),
        }
    }

    /// Stops the workers and waits for them, at most `grace`; the rest are aborted (their
    /// positions were committed only past finished events).
    pub async fn shut(&self, grace: Duration) {
        let _ = self.stop.send(true);
        let handles: Vec<_> = self.workers.lock().drain(..).collect();
        let deadline = tokio::time::Instant::now() + grace;
        for mut h in handles {
            if tokio::time::timeout_at(deadline, &mut h).await.is_err() {
                h.abort();
            }
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
        if self.stopped() {
            return false;
        }
        if self.state() == EndpointState::Active {
            return true;
        }
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

    /// Takes a pending operator skip of the event at `offset`.
    pub fn take_skip(&self, topic: &str, partition: i32, offset: i64) -> bool {
        let mut skip = self.skip.lock();
        !skip.is_empty() && skip.remove(&(topic.to_string(), partition, offset))
    }

    /// Ends the block of the event at `at` (delivered or dead-lettered); whether it was
    /// blocked.
    pub fn unblock(&self, at: (&str, i32, i64)) -> bool {
        let mut blocked = self.blocked.lock();
        !blocked.is_empty() && blocked.remove(&(at.0.to_string(), at.1, at.2))
    }

    /// Partitions with a blocked event.
    pub fn blocked_partitions(&self) -> usize {
        let blocked = self.blocked.lock();
        let parts: BTreeSet<(&String, i32)> = blocked.iter().map(|(t, p, _)| (t, *p)).collect();
        parts.len()
    }

    /// Notes a delivery: the run of failures ends. Returns whether a stored
    /// `failing_since_ms` must be cleared.
    pub fn note_success(&self) -> bool {
        let mut f = self.failing.lock();
        let stored = f.stored;
        *f = Failing::default();
        stored
    }

    /// Notes a failed attempt at `now`; returns the run's start and whether it must be
    /// stored now (it has lasted a minute and is not stored yet).
    pub fn note_failure(&self, now: i64) -> (i64, bool) {
        const STORE_AFTER_MS: i64 = 60_000;
        let mut f = self.failing.lock();
        let since = *f.since_ms.get_or_insert(now);
        let store = !f.stored && now - since >= STORE_AFTER_MS;
        if store {
            f.stored = true;
        }
        (since, store)
    }
}
