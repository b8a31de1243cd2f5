//! [`ApiKeys`]: long-lived HTTP API keys, each bound to a principal. A key is 256 random
//! bits shown once, when it is created (`strom_<base64url>`); the server keeps only its
//! SHA-256 digest, persisted in `__strom_security` under `apikey/<id>` before the key
//! works. `id` (12 hex digits of the digest) names a key in lists and deletions; it is not
//! a secret and does not help to guess one.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use parking_lot::RwLock;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::{Store, API_KEY_PREFIX};
use crate::{AuthError, Principal};

/// Every key starts with this, so `Authorization: Bearer strom_...` is told apart from a JWT.
pub const API_KEY_PREFIX_TEXT: &str = "strom_";

/// What is stored and listed about a key (never the key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyInfo {
    pub id: String,
    /// `User:alice`.
    pub principal: String,
    /// A label chosen by whoever created the key.
    pub name: String,
    pub created_ms: i64,
    /// Hex SHA-256 of the whole key text.
    #[serde(rename = "sha256")]
    digest: String,
}

/// The API keys, indexed by digest for authentication.
pub struct ApiKeys {
    store: Arc<Store>,
    /// digest (hex) → info.
    keys: RwLock<BTreeMap<String, ApiKeyInfo>>,
}

impl ApiKeys {
    /// Loads the stored keys; an unreadable entry is skipped with a warning.
    pub(crate) fn new(store: Arc<Store>) -> ApiKeys {
        let mut keys = BTreeMap::new();
        for (id, value) in store.entries(API_KEY_PREFIX) {
            match serde_json::from_slice::<ApiKeyInfo>(&value) {
                Ok(info) if info.id == id => {
                    keys.insert(info.digest.clone(), info);
                }
                _ => tracing::warn!(id, "skipping an unreadable stored API key"),
            }
        }
        ApiKeys {
            store,
            keys: RwLock::new(keys),
        }
    }

    /// Creates a key for `principal`; returns its info and the key text, which is not kept.
    /// Blocking (one durable write). Errors: `Invalid` for a name over 200 characters;
    /// `Storage`.
    pub fn create(
        &self,
        principal: &Principal,
        name: &str,
    ) -> Result<(ApiKeyInfo, String), AuthError> {
        if name.chars().count() > 200 || name.chars().any(char::is_control) {
            return Err(AuthError::Invalid(
                "an API key name is at most 200 characters without control characters".into(),
            ));
        }
        let mut secret = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut secret);
        let key = format!(
            "{API_KEY_PREFIX_TEXT}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret)
        );
        let digest = hex_digest(&key);
        let info = ApiKeyInfo {
            id: digest[..12].to_string(),
            principal: principal.to_string(),
            name: name.to_string(),
            created_ms: now_ms(),
            digest: digest.clone(),
        };
        let json = serde_json::to_vec(&info)
            .map_err(|e| AuthError::Storage(format!("cannot encode an API key: {e}")))?;
        let mut keys = self.keys.write();
        self.store
            .put_many(&[(format!("{API_KEY_PREFIX}{}", info.id), Some(json))])?;
        keys.insert(digest, info.clone());
        Ok((info, key))
    }

    /// The principal a presented key belongs to, if it is a current key.
    pub fn authenticate(&self, key: &str) -> Option<Principal> {
        if !key.starts_with(API_KEY_PREFIX_TEXT) {
            return None;
        }
        let keys = self.keys.read();
        Principal::parse(&keys.get(&hex_digest(key))?.principal)
    }

    /// The keys, all of them or those of one principal.
    pub fn list(&self, principal: Option<&Principal>) -> Vec<ApiKeyInfo> {
        let wanted = principal.map(Principal::to_string);
        let mut list: Vec<ApiKeyInfo> = self
            .keys
            .read()
            .values()
            .filter(|k| wanted.as_ref().is_none_or(|p| &k.principal == p))
            .cloned()
            .collect();
        list.sort_by(|a, b| (a.created_ms, &a.id).cmp(&(b.created_ms, &b.id)));
        list
    }

    /// The key with this id.
    pub fn get(&self, id: &str) -> Option<ApiKeyInfo> {
        self.keys.read().values().find(|k| k.id == id).cloned()
    }

    /// Deletes the key with this id; it stops working at once. Blocking.
    /// Errors: `NotFound`; `Storage` (the key still works then).
    pub fn delete(&self, id: &str) -> Result<(), AuthError> {
        let mut keys = self.keys.write();
        let Some(digest) = keys.values().find(|k| k.id == id).map(|k| k.digest.clone()) else {
            return Err(AuthError::NotFound(format!("no API key with id '{id}'")));
        };
        self.store
            .put_many(&[(format!("{API_KEY_PREFIX}{id}"), None)])?;
        keys.remove(&digest);
        Ok(())
    }
}

fn hex_digest(key: &str) -> String {
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_authenticate_until_deleted_and_survive_reload_as_digests_only() {
        let store = Arc::new(Store::in_memory());
        let keys = ApiKeys::new(Arc::clone(&store));
        let alice = Principal::user("alice");
        let (info, key) = keys.create(&alice, "ci").expect("create");
        assert!(key.starts_with("strom_") && key.len() == 6 + 43, "{key}");
        assert_eq!(keys.authenticate(&key), Some(alice.clone()));
        assert_eq!(keys.authenticate(&format!("{key}x")), None);
        assert_eq!(keys.authenticate("strom_nothing"), None);
        // Only the digest is stored.
        let stored = store.entries(API_KEY_PREFIX);
        assert_eq!(stored.len(), 1);
        let text = String::from_utf8_lossy(&stored[0].1).to_string();
        assert!(
            !text.contains(&key[6..]),
            "the key itself is stored: {text}"
        );
        let reloaded = ApiKeys::new(Arc::clone(&store));
        assert_eq!(reloaded.authenticate(&key), Some(alice.clone()));
        assert_eq!(reloaded.list(Some(&alice)), vec![info.clone()]);
        assert!(reloaded.list(Some(&Principal::user("bob"))).is_empty());
        reloaded.delete(&info.id).expect("delete");
        assert_eq!(reloaded.authenticate(&key), None);
        assert!(matches!(
            reloaded.delete(&info.id),
            Err(AuthError::NotFound(_))
        ));
        assert!(ApiKeys::new(store).list(None).is_empty());
    }
}
