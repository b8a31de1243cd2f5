//! Client quotas (Kafka's user / client-id model).
//!
//! (Skeleton: byte-rate quotas and their management arrive with the quota work; until then
//! nothing is throttled.)

use std::sync::Arc;
use std::time::Duration;

use crate::store::Store;
use crate::Principal;

pub struct Quotas {
    #[allow(dead_code)]
    store: Arc<Store>,
}

impl Quotas {
    pub(crate) fn new(store: Arc<Store>) -> Quotas {
        Quotas { store }
    }

    /// Records `bytes` produced by (`principal`, `client_id`); returns how long the client
    /// must be throttled to come back under its quota (zero when within it).
    pub fn record_produce(
        &self,
        _principal: &Principal,
        _client_id: &str,
        _bytes: u64,
    ) -> Duration {
        Duration::ZERO
    }

    /// As [`Quotas::record_produce`], for fetched bytes.
    pub fn record_fetch(&self, _principal: &Principal, _client_id: &str, _bytes: u64) -> Duration {
        Duration::ZERO
    }
}
