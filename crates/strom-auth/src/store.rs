//! Where the security services keep durable state: one [`StateTopic`], `__strom_security`,
//! with one key prefix per owner. Values are JSON. An in-memory store serves tests and a
//! server without security state to keep.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use strom_broker::{Broker, StateTopic};

use crate::AuthError;

/// Name of the state topic (`__strom_security`).
pub(crate) const TOPIC: &str = "security";
/// Key prefixes, one per owner.
pub(crate) const ACL_PREFIX: &str = "acl/";
pub(crate) const USER_PREFIX: &str = "user/";
pub(crate) const QUOTA_PREFIX: &str = "quota/";
pub(crate) const API_KEY_PREFIX: &str = "apikey/";

pub(crate) struct Store {
    topic: Option<StateTopic>,
    /// Everything loaded or written, so owners can load their prefix and tests can look.
    memory: Mutex<BTreeMap<Bytes, Bytes>>,
}

impl Store {
    /// Opens `__strom_security` and loads it. Blocking. Errors: `Storage`.
    pub(crate) fn open(broker: Arc<Broker>) -> Result<Store, AuthError> {
        let topic = StateTopic::open(broker, TOPIC)?;
        let memory = topic.load()?;
        Ok(Store {
            topic: Some(topic),
            memory: Mutex::new(memory),
        })
    }

    /// A store that keeps nothing across restarts.
    pub(crate) fn in_memory() -> Store {
        Store {
            topic: None,
            memory: Mutex::new(BTreeMap::new()),
        }
    }

    /// Every (key without prefix, value) under `prefix`.
    pub(crate) fn entries(&self, prefix: &str) -> Vec<(String, Bytes)> {
        self.memory
            .lock()
            .iter()
            .filter_map(|(k, v)| {
                let k = std::str::from_utf8(k).ok()?;
                Some((k.strip_prefix(prefix)?.to_string(), v.clone()))
            })
            .collect()
    }

    /// Writes (or with `None` deletes) several keys at once, durably. Blocking.
    /// Errors: `Storage`; nothing changed in memory then.
    pub(crate) fn put_many(&self, entries: &[(String, Option<Vec<u8>>)]) -> Result<(), AuthError> {
        if let Some(topic) = &self.topic {
            let raw: Vec<(&[u8], Option<&[u8]>)> = entries
                .iter()
                .map(|(k, v)| (k.as_bytes(), v.as_deref()))
                .collect();
            topic.put_many(&raw)?;
        }
        let mut memory = self.memory.lock();
        for (k, v) in entries {
            let k = Bytes::copy_from_slice(k.as_bytes());
            match v {
                Some(v) => memory.insert(k, Bytes::copy_from_slice(v)),
                None => memory.remove(&k),
            };
        }
        Ok(())
    }
}
