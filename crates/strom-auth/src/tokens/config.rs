//! [`TokenConfig`]: how bearer tokens (JWTs) are validated, the `[oauth]` section of the
//! server configuration. Defaults live only in `Default`; `TokenValidator::from_config`
//! checks the combination.

use std::path::PathBuf;

use serde::Deserialize;

use crate::AuthError;

/// Bearer-token settings (Kafka's `sasl.oauthbearer.*` broker settings, Strom's names).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenConfig {
    /// A JWKS (RFC 7517 key set) file, read once at start.
    pub jwks_file: Option<PathBuf>,
    /// A JWKS URL (`https://` or `http://`), fetched in the background.
    pub jwks_url: Option<String>,
    /// How often the JWKS URL is fetched again (Kafka's `jwks.endpoint.refresh.ms`).
    pub jwks_refresh_ms: u64,
    /// Least time between two fetches, also when tokens name an unknown key id.
    pub jwks_min_refresh_ms: u64,
    /// A PEM file of one or more public keys (RSA, EC P-256/P-384, Ed25519).
    pub pem_file: Option<PathBuf>,
    /// A file holding an HMAC secret for HS256/384/512 tokens (whitespace trimmed).
    pub hmac_secret_file: Option<PathBuf>,
    /// The `iss` every signed token must carry; required unless `allow_unverified_issuer`.
    pub expected_issuer: Option<String>,
    /// Accepted `aud` values (a token needs one); required unless `allow_unverified_audience`.
    #[serde(deserialize_with = "one_or_many")]
    pub expected_audience: Vec<String>,
    pub allow_unverified_issuer: bool,
    pub allow_unverified_audience: bool,
    /// The claim that names the principal (`User:<value>`).
    pub principal_claim: String,
    /// The claim that holds the token's scopes (a space-separated string or a list).
    pub scope_claim: String,
    /// Scopes every token must have (all of them).
    #[serde(deserialize_with = "one_or_many")]
    pub required_scopes: Vec<String>,
    /// Clock skew allowed for `exp`, `nbf` and `iat`, in seconds.
    pub clock_skew_seconds: u64,
    /// Accept unsigned (`alg: none`) tokens. For development only.
    pub allow_unsecured_jwt: bool,
    /// How long a verified token is remembered (never past its `exp`); 0 turns caching off.
    pub token_cache_ttl_ms: u64,
    /// Most verified tokens remembered (least recently used go first); 0 turns caching off.
    pub token_cache_size: usize,
}

impl Default for TokenConfig {
    fn default() -> Self {
        TokenConfig {
            jwks_file: None,
            jwks_url: None,
            jwks_refresh_ms: 60 * 60 * 1000,
            jwks_min_refresh_ms: 10_000,
            pem_file: None,
            hmac_secret_file: None,
            expected_issuer: None,
            expected_audience: Vec::new(),
            allow_unverified_issuer: false,
            allow_unverified_audience: false,
            principal_claim: "sub".to_string(),
            scope_claim: "scope".to_string(),
            required_scopes: Vec::new(),
            clock_skew_seconds: 30,
            allow_unsecured_jwt: false,
            token_cache_ttl_ms: 60_000,
            token_cache_size: 10_000,
        }
    }
}

impl TokenConfig {
    /// Whether any way of accepting a token is configured.
    pub fn enabled(&self) -> bool {
        self.has_keys() || self.allow_unsecured_jwt
    }

    /// Whether signing keys are configured (a JWKS, PEM keys or an HMAC secret).
    pub fn has_keys(&self) -> bool {
        self.jwks_file.is_some()
            || self.jwks_url.is_some()
            || self.pem_file.is_some()
            || self.hmac_secret_file.is_some()
    }
}

impl TokenConfig {
    /// Checks the combination without touching files or the network.
    /// Errors: `Invalid` when signing keys are configured without `expected_issuer` /
    /// `expected_audience` (and the matching `allow_unverified_*` is off), an empty claim
    /// name, refresh intervals out of order, or a `jwks_url` that is not http(s).
    pub fn check(&self) -> Result<(), AuthError> {
        let invalid = |text: &str| Err(AuthError::Invalid(text.to_string()));
        if self.has_keys() && self.expected_issuer.is_none() && !self.allow_unverified_issuer {
            return invalid(
                "oauth.expected_issuer is required with signing keys \
                 (or set oauth.allow_unverified_issuer = true)",
            );
        }
        if self.has_keys() && self.expected_audience.is_empty() && !self.allow_unverified_audience {
            return invalid(
                "oauth.expected_audience is required with signing keys \
                 (or set oauth.allow_unverified_audience = true)",
            );
        }
        if self.principal_claim.is_empty() || self.scope_claim.is_empty() {
            return invalid("oauth.principal_claim and oauth.scope_claim must not be empty");
        }
        if self.jwks_min_refresh_ms == 0 || self.jwks_refresh_ms < self.jwks_min_refresh_ms {
            return invalid(
                "oauth.jwks_min_refresh_ms must be greater than 0 and at most \
                 oauth.jwks_refresh_ms",
            );
        }
        self.jwks_url().map(|_| ())
    }

    /// The parsed `jwks_url`. Errors: `Invalid` unless it is an http:// or https:// URL.
    pub(super) fn jwks_url(&self) -> Result<Option<reqwest::Url>, AuthError> {
        let Some(text) = &self.jwks_url else {
            return Ok(None);
        };
        reqwest::Url::parse(text)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .map(Some)
            .ok_or_else(|| {
                AuthError::Invalid("oauth.jwks_url must be an http:// or https:// URL".into())
            })
    }
}

/// A string or a list of strings.
fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(value) => vec![value],
        OneOrMany::Many(values) => values,
    })
}
