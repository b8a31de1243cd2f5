//! Incremental fetch sessions (KIP-227): the broker-wide cache of sessions, shared by every
//! Kafka listener (sessions are not tied to a connection, as in Kafka).
//!
//! A session remembers, per partition a consumer fetches, its fetch offset and limit and the
//! high watermark, last stable offset and log start offset last sent. An incremental fetch
//! then lists only the partitions whose position changed (and those to forget), and its
//! answer lists only partitions with records, an error, or a changed offset. The Fetch
//! handler (`handlers/fetch.rs`) drives it: [`FetchSessionCache::begin`] checks the session
//! id and epoch and applies the request's changes, [`FetchSessionCache::create`] and
//! [`FetchSessionCache::commit`] record what an answer sent.
//!
//! Bounded as Kafka bounds it: at most `slots` sessions (`max_incremental_fetch_session_cache_slots`);
//! a full cache evicts, for a new session, first a stale one (unused for
//! [`EVICTION_AGE`]), else the smallest one older than that if the new one is larger
//! (Kafka's `FetchSessionCache.tryEvict`). Strom also bounds the partitions one session may
//! hold and all sessions together, so no client can make the cache grow without limit.
//! A session belongs to the principal that created it: another principal naming its id gets
//! FETCH_SESSION_ID_NOT_FOUND.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use kafka_protocol::messages::TopicName;
use kafka_protocol::ResponseError;
use parking_lot::Mutex;
use rand::Rng;
use strom_auth::Principal;
use uuid::Uuid;

/// Kafka's default `max.incremental.fetch.session.cache.slots`.
pub const DEFAULT_SLOTS: usize = 1000;
/// Kafka's `min.incremental.fetch.session.eviction.ms`: how long a session is protected from
/// eviction by a larger one, and after how long unused it is stale.
pub const EVICTION_AGE: Duration = Duration::from_secs(120);
/// Most partitions one session may hold (a larger consumer gets full fetches).
pub const MAX_SESSION_PARTITIONS: usize = 20_000;
/// Most partitions all sessions together may hold (about 100 bytes each).
pub const MAX_CACHED_PARTITIONS: usize = 1_000_000;

/// A partition of a session: by topic id from Fetch v13 on (name empty), else by name (id nil).
pub type PartitionKey = (Uuid, TopicName, i32);

/// What a session remembers of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cached {
    pub fetch_offset: i64,
    pub max_bytes: i32,
    /// The offsets last sent; -1 until sent (and after an error), so the partition is sent.
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    pub log_start_offset: i64,
}

impl Cached {
    /// A partition the client asks for whose offsets were never sent.
    pub fn unsent(fetch_offset: i64, max_bytes: i32) -> Cached {
        Cached {
            fetch_offset,
            max_bytes,
            high_watermark: -1,
            last_stable_offset: -1,
            log_start_offset: -1,
        }
    }
}

/// What one answered partition sent, for [`FetchSessionCache::commit`].
#[derive(Debug, Clone)]
pub struct Sent {
    pub key: PartitionKey,
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    pub log_start_offset: i64,
    pub error: bool,
    pub records: bool,
}

/// How a Fetch is to be answered.
#[derive(Debug)]
pub enum Begin {
    /// A full fetch without a session (epoch -1, or a client too old for sessions).
    Sessionless,
    /// A full fetch that opens a session once answered (epoch 0).
    New,
    /// An incremental fetch of session `id`: the session's partitions (in its order, with
    /// what was last sent); `epoch` is the session's epoch once this fetch is answered.
    Incremental {
        id: i32,
        epoch: i32,
        partitions: Vec<(PartitionKey, Cached)>,
    },
}

struct Session {
    principal: Principal,
    uses_ids: bool,
    /// The epoch the next incremental fetch must carry.
    epoch: i32,
    partitions: IndexMap<PartitionKey, Cached>,
    created: Instant,
    last_used: Instant,
}

#[derive(Default)]
struct Inner {
    sessions: HashMap<i32, Session>,
    partitions: usize,
}

/// The fetch session cache of one server.
pub struct FetchSessionCache {
    slots: usize,
    eviction_age: Duration,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for FetchSessionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchSessionCache")
            .field("slots", &self.slots)
            .finish_non_exhaustive()
    }
}

impl Default for FetchSessionCache {
    fn default() -> Self {
        FetchSessionCache::new(DEFAULT_SLOTS, EVICTION_AGE)
    }
}

/// The epoch after `epoch` (1 after `i32::MAX`, as Kafka's `nextEpoch`).
fn next_epoch(epoch: i32) -> i32 {
    if epoch == i32::MAX {
        1
    } else {
        epoch + 1
    }
}

impl FetchSessionCache {
    /// A cache of at most `slots` sessions (0: no sessions, every fetch is full).
    pub fn new(slots: usize, eviction_age: Duration) -> FetchSessionCache {
        FetchSessionCache {
            slots,
            eviction_age,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The sessions held now.
    pub fn len(&self) -> usize {
        self.inner.lock().sessions.len()
    }

    /// Whether no session is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Starts answering a Fetch v7+ carrying `id` and `epoch`: epoch -1 closes the session
    /// and answers without one, epoch 0 closes it and opens a new one, any other epoch is an
    /// incremental fetch that adds or updates the partitions of `updates` (key, fetch
    /// offset, limit) and drops those of `forgotten`.
    /// Errors: FETCH_SESSION_ID_NOT_FOUND (unknown id, another principal's session, or the
    /// session grew past its bound), INVALID_FETCH_SESSION_EPOCH, FETCH_SESSION_TOPIC_ID_ERROR
    /// (a session opened with topic names fetched with ids, or the reverse).
    pub fn begin(
        &self,
        principal: &Principal,
        uses_ids: bool,
        (id, epoch): (i32, i32),
        updates: impl Iterator<Item = (PartitionKey, i64, i32)>,
        forgotten: impl Iterator<Item = PartitionKey>,
        now: Instant,
    ) -> Result<Begin, ResponseError> {
        let mut inner = self.inner.lock();
        if epoch == -1 || epoch == 0 {
            if id != 0 {
                inner.remove(id);
            }
            return Ok(if epoch == 0 {
                Begin::New
            } else {
                Begin::Sessionless
            });
        }
        let Some(session) = inner.sessions.get_mut(&id) else {
            return Err(ResponseError::FetchSessionIdNotFound);
        };
        if session.principal != *principal {
            return Err(ResponseError::FetchSessionIdNotFound);
        }
        if session.epoch != epoch {
            return Err(ResponseError::InvalidFetchSessionEpoch);
        }
        if session.uses_ids != uses_ids {
            return Err(ResponseError::FetchSessionTopicIdError);
        }
        let before = session.partitions.len();
        for (key, offset, max_bytes) in updates {
            session
                .partitions
                .entry(key)
                .and_modify(|c| {
                    c.fetch_offset = offset;
                    c.max_bytes = max_bytes;
                })
                .or_insert(Cached::unsent(offset, max_bytes));
        }
        for key in forgotten {
            session.partitions.shift_remove(&key);
        }
        session.epoch = next_epoch(epoch);
        session.last_used = now;
        let (after, epoch) = (session.partitions.len(), session.epoch);
        let partitions: Vec<_> = session
            .partitions
            .iter()
            .map(|(k, c)| (k.clone(), *c))
            .collect();
        inner.partitions = inner.partitions + after - before;
        if after > MAX_SESSION_PARTITIONS || inner.partitions > MAX_CACHED_PARTITIONS {
            inner.remove(id);
            return Err(ResponseError::FetchSessionIdNotFound);
        }
        Ok(Begin::Incremental {
            id,
            epoch,
            partitions,
        })
    }

    /// Opens a session holding `partitions` (as just sent in a full answer) for `principal`;
    /// returns its id, or 0 when there is no room (the client keeps sending full fetches).
    pub fn create(
        &self,
        principal: &Principal,
        uses_ids: bool,
        partitions: IndexMap<PartitionKey, Cached>,
        now: Instant,
    ) -> i32 {
        let size = partitions.len();
        let mut inner = self.inner.lock();
        if self.slots == 0
            || size > MAX_SESSION_PARTITIONS
            || inner.partitions + size > MAX_CACHED_PARTITIONS
            || (inner.sessions.len() >= self.slots && !inner.evict(size, now, self.eviction_age))
        {
            return 0;
        }
        let mut rng = rand::thread_rng();
        let id = loop {
            let id = rng.gen_range(1..=i32::MAX);
            if !inner.sessions.contains_key(&id) {
                break id;
            }
        };
        inner.partitions += size;
        metrics::gauge!("strom_kafka_fetch_sessions").set((inner.sessions.len() + 1) as f64);
        inner.sessions.insert(
            id,
            Session {
                principal: principal.clone(),
                uses_ids,
                epoch: 1,
                partitions,
                created: now,
                last_used: now,
            },
        );
        id
    }

    /// Records what the answer to the incremental fetch that moved session `id` to `epoch`
    /// sent; partitions that sent records move to the end of the session's order, so the
    /// others come first next time (fairness under `max_bytes`). Nothing happens when the
    /// session was closed or used again meanwhile.
    pub fn commit(&self, id: i32, epoch: i32, sent: &[Sent]) {
        let mut inner = self.inner.lock();
        let Some(session) = inner.sessions.get_mut(&id) else {
            return;
        };
        if session.epoch != epoch {
            return;
        }
        for s in sent {
            if let Some(c) = session.partitions.get_mut(&s.key) {
                c.high_watermark = if s.error { -1 } else { s.high_watermark };
                c.last_stable_offset = s.last_stable_offset;
                c.log_start_offset = s.log_start_offset;
            }
        }
        for s in sent.iter().filter(|s| s.records) {
            if let Some((key, cached)) = session.partitions.shift_remove_entry(&s.key) {
                session.partitions.insert(key, cached);
            }
        }
    }
}

impl Inner {
    fn remove(&mut self, id: i32) {
        if let Some(session) = self.sessions.remove(&id) {
            self.partitions -= session.partitions.len();
            metrics::gauge!("strom_kafka_fetch_sessions").set(self.sessions.len() as f64);
        }
    }

    /// Makes room for a new session of `size` partitions, as Kafka's `tryEvict`: the least
    /// recently used session if stale, else the smallest session older than `age` when it
    /// is smaller than the new one.
    fn evict(&mut self, size: usize, now: Instant, age: Duration) -> bool {
        let stale = self
            .sessions
            .iter()
            .min_by_key(|(_, s)| s.last_used)
            .filter(|(_, s)| now.saturating_duration_since(s.last_used) > age)
            .map(|(id, _)| *id);
        let victim = stale.or_else(|| {
            self.sessions
                .iter()
                .filter(|(_, s)| now.saturating_duration_since(s.created) > age)
                .min_by_key(|(id, s)| (s.partitions.len(), **id))
                .filter(|(_, s)| s.partitions.len() < size)
                .map(|(id, _)| *id)
        });
        match victim {
            Some(id) => {
                self.remove(id);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
#[path = "fetch_sessions_tests.rs"]
mod tests;
