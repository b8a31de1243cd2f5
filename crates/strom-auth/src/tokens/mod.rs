//! Bearer-token (JWT) validation shared by SASL/OAUTHBEARER and HTTP Bearer.
//!
//! Layout: `config.rs` has the settings ([`TokenConfig`]); `keys.rs` the verification keys
//! (JWKS, PEM, HMAC) and their lookup by `kid`; `jwks_url.rs` the background refresh of a
//! JWKS URL; `jwt.rs` splits tokens and checks signatures; `claims.rs` checks `exp`, `nbf`,
//! `iat`, `iss`, `aud`, the principal and scopes; `oauthbearer.rs` the SASL messages.
//! The rule: validation is pure CPU work on a snapshot of the keys and never waits for the
//! network, and no error or log line carries token content or key material.

mod cache;
mod claims;
mod config;
mod jwks_url;
mod jwt;
mod keys;
mod oauthbearer;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use jsonwebtoken::Algorithm;

pub use config::TokenConfig;
pub use oauthbearer::{
    oauthbearer_error_challenge, parse_oauthbearer, ChallengeStatus, OAuthBearerMessage,
    OAUTHBEARER_ERROR_ACK,
};

use crate::{AuthError, Principal};
use claims::{Rules, TokenError};
use keys::{KeySet, KeyStore, Lookup};

/// A token that passed validation.
#[derive(Debug, Clone)]
pub struct ValidatedToken {
    pub principal: Principal,
    /// When the token expires (ms since the epoch); sessions end then (KIP-368).
    pub expires_at_ms: i64,
}

/// Validates bearer tokens against the configured keys and claim rules. The default
/// accepts no token ("bearer tokens are not configured").
#[derive(Default)]
pub struct TokenValidator {
    rules: Option<Rules>,
    allow_unsecured: bool,
    /// `None`: no signing keys configured (only unsecured tokens, if allowed).
    keys: Option<Arc<KeyStore>>,
    refresher: Option<jwks_url::Refresher>,
    /// Verified tokens (`None`: caching off).
    cache: Option<cache::TokenCache>,
}

impl TokenValidator {
    /// Builds the validator: reads the key files and, with `jwks_url`, starts the refresh
    /// task (on the current tokio runtime, or a thread of its own). Blocking (file reads).
    /// Errors: `Invalid` when signing keys are configured without `expected_issuer` /
    /// `expected_audience` (and the matching `allow_unverified_*` is off), when a key file
    /// cannot be read or parsed, or when a setting is out of range.
    pub fn from_config(config: &TokenConfig) -> Result<TokenValidator, AuthError> {
        if !config.enabled() {
            return Ok(TokenValidator::default());
        }
        config.check()?;
        if config.allow_unsecured_jwt {
            tracing::warn!(
                "oauth.allow_unsecured_jwt is ON: unsigned (alg none) bearer tokens are \
                 accepted and anyone can claim any principal. For development only"
            );
        }
        let mut validator = TokenValidator {
            rules: Some(Rules::new(config)),
            allow_unsecured: config.allow_unsecured_jwt,
            keys: None,
            refresher: None,
            cache: cache::TokenCache::new(
                std::time::Duration::from_millis(config.token_cache_ttl_ms),
                config.token_cache_size,
            ),
        };
        if config.has_keys() {
            let store = Arc::new(KeyStore::new(file_keys(config)?));
            if let Some(url) = config.jwks_url()? {
                let schedule = jwks_url::Schedule {
                    every: std::time::Duration::from_millis(config.jwks_refresh_ms),
                    min_gap: std::time::Duration::from_millis(config.jwks_min_refresh_ms),
                };
                let refresher = jwks_url::Refresher::start(url, Arc::downgrade(&store), schedule)
                    .map_err(AuthError::Invalid)?;
                validator.refresher = Some(refresher);
            }
            validator.keys = Some(store);
        }
        Ok(validator)
    }

    /// Whether any token can be accepted.
    pub fn enabled(&self) -> bool {
        self.rules.is_some()
    }

    /// Errors: `Authentication` with a client-safe reason (expired, wrong audience, bad
    /// signature, unknown key id, ...), never token content.
    pub fn validate(&self, token: &str) -> Result<ValidatedToken, AuthError> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        let key = self.cache.as_ref().map(|_| cache::TokenCache::key(token));
        if let (Some(cache), Some(key)) = (&self.cache, &key) {
            if let Some(hit) = cache.get(key) {
                return Ok(hit);
            }
        }
        let valid = self
            .check(token, now)
            .map_err(|e| AuthError::Authentication(e.to_string()))?;
        if let (Some(cache), Some(key)) = (&self.cache, key) {
            cache.put(key, &valid);
        }
        Ok(valid)
    }

    /// How many verified tokens are cached.
    pub fn cached_tokens(&self) -> usize {
        self.cache.as_ref().map_or(0, cache::TokenCache::len)
    }

    fn check(&self, token: &str, now: f64) -> Result<ValidatedToken, TokenError> {
        let rules = self.rules.as_ref().ok_or(TokenError::NotConfigured)?;
        let parts = jwt::split(token)?;
        if parts.alg == "none" {
            if !self.allow_unsecured {
                return Err(TokenError::Unsigned);
            }
            return rules.check(&jwt::unsecured_claims(&parts)?, now, false);
        }
        let alg: Algorithm = parts
            .alg
            .parse()
            .map_err(|_| TokenError::AlgorithmNotAllowed)?;
        let store = self.keys.as_ref().ok_or(TokenError::AlgorithmNotAllowed)?;
        let keys = store.current();
        if keys.len() == 0 {
            // The first fetch is under way (or retried every `jwks_min_refresh_ms`).
            return Err(TokenError::KeysUnavailable);
        }
        let candidates = match keys.lookup(parts.kid.as_deref(), alg) {
            Lookup::Keys(candidates) => candidates,
            Lookup::UnknownKid => {
                self.wake_refresher();
                return Err(TokenError::UnknownKeyId);
            }
            Lookup::NoKeyForAlgorithm => return Err(TokenError::AlgorithmNotAllowed),
        };
        rules.check(&jwt::verify(token, alg, &candidates)?, now, true)
    }

    fn wake_refresher(&self) {
        if let Some(refresher) = &self.refresher {
            refresher.wake();
        }
    }
}

/// The keys from `jwks_file`, `pem_file` and `hmac_secret_file`.
fn file_keys(config: &TokenConfig) -> Result<KeySet, AuthError> {
    let read = |setting: &str, path: &std::path::Path| {
        std::fs::read(path).map_err(|e| {
            invalid(&format!(
                "cannot read oauth.{setting} {}: {e}",
                path.display()
            ))
        })
    };
    let mut set = KeySet::default();
    if let Some(path) = &config.jwks_file {
        let (keys, skipped) = KeySet::from_jwks(&read("jwks_file", path)?)
            .map_err(|e| invalid(&format!("oauth.jwks_file {}: {e}", path.display())))?;
        tracing::info!(keys = keys.len(), skipped, "loaded the JWKS file");
        set.extend(keys);
    }
    if let Some(path) = &config.pem_file {
        let keys = KeySet::from_pem(&read("pem_file", path)?)
            .map_err(|e| invalid(&format!("oauth.pem_file {}: {e}", path.display())))?;
        set.extend(keys);
    }
    if let Some(path) = &config.hmac_secret_file {
        let secret = read("hmac_secret_file", path)?;
        let keys = KeySet::from_hmac_secret(secret.trim_ascii())
            .map_err(|e| invalid(&format!("oauth.hmac_secret_file: {e}")))?;
        set.extend(keys);
    }
    Ok(set)
}

fn invalid(message: &str) -> AuthError {
    AuthError::Invalid(message.to_string())
}
