//! A bounded LRU of verified bearer tokens, so a client that sends the same JWT on every
//! HTTP request (or reconnects with it over OAUTHBEARER) pays for its signature check once.
//! Keyed by the SHA-256 of the token (the token itself is never kept); an entry lives until
//! the token's `exp` or the configured TTL, whichever comes first. Only tokens that passed
//! validation are cached; a refused token is checked again every time. A key removed from
//! the JWKS stops accepting its cached tokens within the TTL.

use std::num::NonZeroUsize;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lru::LruCache;
use parking_lot::Mutex;
use sha2::{Digest, Sha256};

use super::ValidatedToken;

struct Entry {
    token: ValidatedToken,
    until: Instant,
}

pub(crate) struct TokenCache {
    ttl: Duration,
    entries: Mutex<LruCache<[u8; 32], Entry>>,
}

impl TokenCache {
    /// `None` when `ttl` or `size` is zero (caching off).
    pub(crate) fn new(ttl: Duration, size: usize) -> Option<TokenCache> {
        let size = NonZeroUsize::new(size)?;
        if ttl.is_zero() {
            return None;
        }
        Some(TokenCache {
            ttl,
            entries: Mutex::new(LruCache::new(size)),
        })
    }

    pub(crate) fn key(token: &str) -> [u8; 32] {
        Sha256::digest(token.as_bytes()).into()
    }

    /// The cached result for this token, if still fresh.
    pub(crate) fn get(&self, key: &[u8; 32]) -> Option<ValidatedToken> {
        let mut entries = self.entries.lock();
        let entry = entries.get(key)?;
        if entry.until > Instant::now() {
            return Some(entry.token.clone());
        }
        entries.pop(key);
        None
    }

    /// Remembers a verified token until min(its `exp`, now + TTL).
    pub(crate) fn put(&self, key: [u8; 32], token: &ValidatedToken) {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let left = Duration::from_millis(token.expires_at_ms.saturating_sub(now_ms).max(0) as u64);
        let life = left.min(self.ttl);
        if life.is_zero() {
            return;
        }
        let entry = Entry {
            token: token.clone(),
            until: Instant::now() + life,
        };
        self.entries.lock().put(key, entry);
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.lock().len()
    }
}
