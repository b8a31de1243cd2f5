//! Client quotas, Kafka's model: byte-rate (and request-time) quotas set on users, client
//! ids or both, with defaults, resolved by Kafka's eight levels of precedence
//! (`entity.rs`), measured over 11 windows of 1 s with Kafka's arithmetic (`rate.rs`).
//! All connections (Kafka and HTTP) of one quota group share one measured rate.
//!
//! Quota settings are kept in `__strom_security` under `quota/` (key: the entity's
//! `[type, name]` pairs as JSON, value: `{key: value}` JSON) and loaded at start; a change is
//! written durably first and takes effect for the next request. Front ends call
//! `record_*` after serving a request and throttle the client for the delay returned; this
//! service never sleeps or touches sockets.

mod entity;
mod rate;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};

use entity::{candidates, Group};
pub use entity::{
    EntityName, QuotaEntity, QuotaFilter, QuotaKey, QuotaMatch, ENTITY_CLIENT_ID, ENTITY_USER,
};
use rate::{Rate, WINDOW_MS};

use crate::store::{Store, QUOTA_PREFIX};
use crate::{AuthError, Principal};

/// The values set on one entity.
pub type QuotaValues = BTreeMap<QuotaKey, f64>;

/// One AlterClientQuotas entry after its entity was parsed: `(key, Some(value))` sets,
/// `(key, None)` removes.
#[derive(Debug, Clone)]
pub struct QuotaAlteration {
    pub entity: QuotaEntity,
    pub ops: Vec<(String, Option<f64>)>,
}

/// Measured rates are dropped once this many exist and they have been idle for 11 s.
const PURGE_FLOOR: usize = 1024;

pub struct Quotas {
    store: Arc<Store>,
    configs: RwLock<BTreeMap<QuotaEntity, QuotaValues>>,
    /// Serialises alterations: each one reads, writes to the store, then updates `configs`.
    write: Mutex<()>,
    rates: Mutex<Rates>,
    epoch: Instant,
}

#[derive(Default)]
struct Rates {
    by_group: HashMap<(QuotaKey, Group), Rate>,
    purge_at: usize,
}

impl Quotas {
    /// Loads the quotas stored under `quota/`; a record that does not parse is skipped
    /// with a warning (stored data never stops the server starting).
    pub(crate) fn new(store: Arc<Store>) -> Quotas {
        let mut configs = BTreeMap::new();
        for (key, value) in store.entries(QUOTA_PREFIX) {
            match decode(&key, &value) {
                Ok((entity, values)) => {
                    configs.insert(entity, values);
                }
                Err(err) => tracing::warn!(key, error = %err, "skipping unreadable stored quota"),
            }
        }
        Quotas {
            store,
            configs: RwLock::new(configs),
            write: Mutex::new(()),
            rates: Mutex::new(Rates {
                purge_at: PURGE_FLOOR,
                ..Rates::default()
            }),
            epoch: Instant::now(),
        }
    }

    /// Records `bytes` produced by (`principal`, `client_id`); returns how long the client
    /// must be throttled to come back under its quota (zero when within it).
    pub fn record_produce(&self, principal: &Principal, client_id: &str, bytes: u64) -> Duration {
        self.charge(
            QuotaKey::ProducerByteRate,
            principal,
            client_id,
            bytes as f64,
            false,
        )
    }

    /// As [`Quotas::record_produce`], for a Kafka fetch response of `bytes`. When the result
    /// is not zero the bytes were taken back (Kafka's rule): answer with no data.
    pub fn record_fetch(&self, principal: &Principal, client_id: &str, bytes: u64) -> Duration {
        self.charge(
            QuotaKey::ConsumerByteRate,
            principal,
            client_id,
            bytes as f64,
            true,
        )
    }

    /// Charges `bytes` already delivered (an HTTP read); returns the delay as
    /// [`Quotas::record_produce`] does.
    pub fn record_consumed(&self, principal: &Principal, client_id: &str, bytes: u64) -> Duration {
        self.charge(
            QuotaKey::ConsumerByteRate,
            principal,
            client_id,
            bytes as f64,
            false,
        )
    }

    /// Records `busy` handler time; the delay is at most one window (Kafka's request quota).
    pub fn record_request_time(
        &self,
        principal: &Principal,
        client_id: &str,
        busy: Duration,
    ) -> Duration {
        // Percent-seconds: a request busy for 10 ms at 100 % of one handler.
        let value = busy.as_secs_f64() * 100.0;
        let delay = self.charge(
            QuotaKey::RequestPercentage,
            principal,
            client_id,
            value,
            false,
        );
        delay.min(Duration::from_millis(WINDOW_MS))
    }

    /// Most bytes one Kafka fetch may return to (`principal`, `client_id`): its consumer
    /// byte rate over the ten-window minimum (Kafka's `getMaxValueInQuotaWindow`), so a
    /// fetch never asks for more than the quota could ever let through. `None` without a
    /// quota.
    pub fn fetch_window_bytes(&self, principal: &Principal, client_id: &str) -> Option<u64> {
        let (bound, _) = self.resolve(QuotaKey::ConsumerByteRate, principal.name(), client_id)?;
        let seconds = (rate::SAMPLES as u64 - 1) * WINDOW_MS / 1000;
        Some((bound * seconds as f64).min(u64::MAX as f64) as u64)
    }

    /// How long a client must still wait before its next request of `key`'s kind is within
    /// quota, without recording anything (HTTP answers 429 while it is not zero).
    pub fn delay(&self, key: QuotaKey, principal: &Principal, client_id: &str) -> Duration {
        let Some((bound, group)) = self.resolve(key, principal.name(), client_id) else {
            return Duration::ZERO;
        };
        let now = self.now_ms();
        let mut rates = self.rates.lock();
        match rates.by_group.get_mut(&(key, group)) {
            Some(rate) => rate.delay(bound, now),
            None => Duration::ZERO,
        }
    }

    /// The quota of `key` that applies to (`user`, `client_id`) and the entity it is set
    /// on, by Kafka's precedence; `None` when no quota applies.
    pub fn effective(
        &self,
        key: QuotaKey,
        user: &str,
        client_id: &str,
    ) -> Option<(f64, QuotaEntity)> {
        let configs = self.configs.read();
        candidates(user, client_id)
            .into_iter()
            .find_map(|(entity, _)| Some((*configs.get(&entity)?.get(&key)?, entity)))
    }

    /// Every entity matching `filter` with its values. Errors: `Invalid` filter.
    pub fn describe(
        &self,
        filter: &QuotaFilter,
    ) -> Result<Vec<(QuotaEntity, QuotaValues)>, AuthError> {
        filter.validate()?;
        Ok(self
            .configs
            .read()
            .iter()
            .filter(|(entity, _)| filter.matches(entity))
            .map(|(e, v)| (e.clone(), v.clone()))
            .collect())
    }

    /// Applies each alteration (or with `validate_only` only checks it), in order. One
    /// result per alteration: `Invalid` (unknown or repeated key, bad value) leaves that one
    /// out; the valid ones are written to the store together, and a `Storage` failure
    /// fails all of them with nothing changed.
    pub fn alter(
        &self,
        alterations: &[QuotaAlteration],
        validate_only: bool,
    ) -> Vec<Result<(), AuthError>> {
        let _write = self.write.lock();
        let mut next = self.configs.read().clone();
        let mut results = Vec::with_capacity(alterations.len());
        let mut touched = Vec::new();
        for alteration in alterations {
            let result = apply(&mut next, alteration);
            if result.is_ok() {
                touched.push(alteration.entity.clone());
            }
            results.push(result);
        }
        if validate_only || touched.is_empty() {
            return results;
        }
        touched.sort();
        touched.dedup();
        let writes: Vec<(String, Option<Vec<u8>>)> = touched
            .iter()
            .map(|e| (store_key(e), next.get(e).map(encode_values)))
            .collect();
        if let Err(err) = self.store.put_many(&writes) {
            tracing::error!(error = %err, "cannot store client quotas");
            let message = err.to_string();
            for r in results.iter_mut().filter(|r| r.is_ok()) {
                *r = Err(AuthError::Storage(message.clone()));
            }
            return results;
        }
        for entity in &touched {
            tracing::info!(entity = %entity, values = ?next.get(entity), "client quota changed");
        }
        *self.configs.write() = next;
        results
    }

    fn charge(
        &self,
        key: QuotaKey,
        principal: &Principal,
        client_id: &str,
        value: f64,
        take_back: bool,
    ) -> Duration {
        let Some((bound, group)) = self.resolve(key, principal.name(), client_id) else {
            return Duration::ZERO;
        };
        let now = self.now_ms();
        let mut rates = self.rates.lock();
        rates.purge_idle(now);
        let rate = rates.by_group.entry((key, group)).or_default();
        rate.record(value, now);
        let delay = rate.delay(bound, now);
        if take_back && !delay.is_zero() {
            rate.unrecord(value, now);
        }
        delay
    }

    /// The bound and quota group of `key` for (`user`, `client_id`).
    fn resolve(&self, key: QuotaKey, user: &str, client_id: &str) -> Option<(f64, Group)> {
        let configs = self.configs.read();
        if configs.is_empty() {
            return None;
        }
        candidates(user, client_id)
            .into_iter()
            .find_map(|(entity, group)| Some((*configs.get(&entity)?.get(&key)?, group)))
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

impl Rates {
    /// Forgets groups idle for the whole window once there are many (clients come and go).
    fn purge_idle(&mut self, now_ms: u64) {
        if self.by_group.len() < self.purge_at {
            return;
        }
        self.by_group.retain(|_, rate| !rate.idle(now_ms));
        self.purge_at = (self.by_group.len() * 2).max(PURGE_FLOOR);
    }
}

/// Applies one alteration to `configs`. Errors: `Invalid`; `configs` unchanged then.
fn apply(
    configs: &mut BTreeMap<QuotaEntity, QuotaValues>,
    alteration: &QuotaAlteration,
) -> Result<(), AuthError> {
    let mut values = configs.get(&alteration.entity).cloned().unwrap_or_default();
    let mut seen = Vec::new();
    for (key, value) in &alteration.ops {
        let parsed = QuotaKey::parse(key)?;
        if seen.contains(&parsed) {
            return Err(AuthError::Invalid(format!(
                "quota key '{key}' given more than once"
            )));
        }
        seen.push(parsed);
        match value {
            Some(v) => {
                parsed.validate(*v)?;
                values.insert(parsed, *v);
            }
            None => {
                values.remove(&parsed);
            }
        }
    }
    if values.is_empty() {
        configs.remove(&alteration.entity);
    } else {
        configs.insert(alteration.entity.clone(), values);
    }
    Ok(())
}

/// `quota/` + the entity's `[type, name]` pairs as JSON (`null` for a default).
fn store_key(entity: &QuotaEntity) -> String {
    let parts = serde_json::to_string(&entity.parts()).unwrap_or_default();
    format!("{QUOTA_PREFIX}{parts}")
}

fn encode_values(values: &QuotaValues) -> Vec<u8> {
    let map: BTreeMap<&str, f64> = values.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    serde_json::to_vec(&map).unwrap_or_default()
}

/// Parses a stored record (key without the prefix). Errors: `Invalid` naming what is wrong.
fn decode(key: &str, value: &[u8]) -> Result<(QuotaEntity, QuotaValues), AuthError> {
    let bad = |e: serde_json::Error| AuthError::Invalid(format!("not a stored quota: {e}"));
    let parts: Vec<(String, Option<String>)> = serde_json::from_str(key).map_err(bad)?;
    let entity = QuotaEntity::from_parts(parts.iter().map(|(k, n)| (k.as_str(), n.as_deref())))?;
    let raw: BTreeMap<String, f64> = serde_json::from_slice(value).map_err(bad)?;
    let mut values = QuotaValues::new();
    for (k, v) in raw {
        let key = QuotaKey::parse(&k)?;
        key.validate(v)?;
        values.insert(key, v);
    }
    Ok((entity, values))
}
