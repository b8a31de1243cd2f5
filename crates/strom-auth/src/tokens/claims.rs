//! The claim checks every token passes after its signature (or, for unsecured tokens,
//! instead of one): `exp` required and in the future, `nbf` / `iat` not in the future, `iss`
//! and `aud` as configured, the principal claim, required scopes. Also [`TokenError`], the
//! client-safe reasons a token is refused: they name the check, never token content.

use serde_json::{Map, Value};

use super::TokenConfig;
use crate::{Principal, ValidatedToken};

/// Why a token was refused. Messages are safe to send to the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum TokenError {
    #[error("bearer tokens are not configured on this server")]
    NotConfigured,
    #[error("the token is not a well-formed JWT ({0})")]
    Malformed(&'static str),
    #[error("unsigned tokens (alg none) are not accepted")]
    Unsigned,
    #[error("the token's signing algorithm is not accepted")]
    AlgorithmNotAllowed,
    #[error("the token's key id is unknown")]
    UnknownKeyId,
    #[error("the signing keys are not available yet")]
    KeysUnavailable,
    #[error("the token's signature is invalid")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet (nbf)")]
    NotYetValid,
    #[error("the token was issued in the future (iat)")]
    IssuedInFuture,
    #[error("the token has no '{0}' claim")]
    MissingClaim(String),
    #[error("the token's '{0}' claim has the wrong type")]
    WrongClaimType(String),
    #[error("the token's issuer is not the expected one")]
    WrongIssuer,
    #[error("the token's audience does not include this server")]
    WrongAudience,
    #[error("the token lacks the required scope '{0}'")]
    MissingScope(String),
}

/// The claim rules of a configuration.
#[derive(Debug, Clone)]
pub(super) struct Rules {
    issuer: Option<String>,
    audience: Vec<String>,
    principal_claim: String,
    scope_claim: String,
    required_scopes: Vec<String>,
    skew: f64,
}

impl Rules {
    pub fn new(config: &TokenConfig) -> Rules {
        Rules {
            issuer: config
                .expected_issuer
                .clone()
                .filter(|_| !config.allow_unverified_issuer),
            audience: if config.allow_unverified_audience {
                Vec::new()
            } else {
                config.expected_audience.clone()
            },
            principal_claim: config.principal_claim.clone(),
            scope_claim: config.scope_claim.clone(),
            required_scopes: config.required_scopes.clone(),
            skew: config.clock_skew_seconds as f64,
        }
    }

    /// Checks the claims at `now` (seconds since the epoch). `iss` and `aud` are checked only
    /// for signed tokens: an unsigned token's claims prove nothing (Kafka's unsecured
    /// validator does not check them either).
    pub fn check(
        &self,
        claims: &Map<String, Value>,
        now: f64,
        signed: bool,
    ) -> Result<ValidatedToken, TokenError> {
        let exp = number(claims, "exp")?.ok_or_else(|| missing("exp"))?;
        if now >= exp + self.skew {
            return Err(TokenError::Expired);
        }
        if number(claims, "nbf")?.is_some_and(|nbf| nbf - self.skew > now) {
            return Err(TokenError::NotYetValid);
        }
        if number(claims, "iat")?.is_some_and(|iat| iat - self.skew > now) {
            return Err(TokenError::IssuedInFuture);
        }
        if signed {
            self.check_issuer(claims)?;
            self.check_audience(claims)?;
        }
        let name = match claims.get(&self.principal_claim) {
            Some(Value::String(name)) if !name.is_empty() => name,
            Some(Value::String(_)) | None => return Err(missing(&self.principal_claim)),
            Some(_) => return Err(TokenError::WrongClaimType(self.principal_claim.clone())),
        };
        self.check_scopes(claims)?;
        Ok(ValidatedToken {
            principal: Principal::user(name.clone()),
            // Whole milliseconds; far-future values saturate.
            expires_at_ms: (exp * 1000.0).min(i64::MAX as f64) as i64,
        })
    }

    fn check_issuer(&self, claims: &Map<String, Value>) -> Result<(), TokenError> {
        let Some(expected) = &self.issuer else {
            return Ok(());
        };
        match claims.get("iss") {
            Some(Value::String(iss)) if iss == expected => Ok(()),
            Some(Value::String(_)) => Err(TokenError::WrongIssuer),
            Some(_) => Err(TokenError::WrongClaimType("iss".into())),
            None => Err(missing("iss")),
        }
    }

    fn check_audience(&self, claims: &Map<String, Value>) -> Result<(), TokenError> {
        if self.audience.is_empty() {
            return Ok(());
        }
        let audiences = strings(claims, "aud")?.ok_or_else(|| missing("aud"))?;
        if audiences.iter().any(|aud| self.audience.contains(aud)) {
            Ok(())
        } else {
            Err(TokenError::WrongAudience)
        }
    }

    fn check_scopes(&self, claims: &Map<String, Value>) -> Result<(), TokenError> {
        let Some(first) = self.required_scopes.first() else {
            return Ok(());
        };
        let scopes = match claims.get(&self.scope_claim) {
            Some(Value::String(text)) => text.split(' ').map(str::to_string).collect(),
            Some(_) => strings(claims, &self.scope_claim)?.unwrap_or_default(),
            None => return Err(TokenError::MissingScope(first.clone())),
        };
        match self.required_scopes.iter().find(|s| !scopes.contains(s)) {
            Some(scope) => Err(TokenError::MissingScope(scope.clone())),
            None => Ok(()),
        }
    }
}

fn missing(claim: &str) -> TokenError {
    TokenError::MissingClaim(claim.to_string())
}

/// A NumericDate claim (RFC 7519 §2: seconds, possibly fractional).
fn number(claims: &Map<String, Value>, name: &str) -> Result<Option<f64>, TokenError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(value) if value.is_finite() => Ok(Some(value)),
            _ => Err(TokenError::WrongClaimType(name.into())),
        },
        Some(_) => Err(TokenError::WrongClaimType(name.into())),
    }
}

/// A claim that is one string or a list of strings (`aud`, list-valued scopes).
fn strings(claims: &Map<String, Value>, name: &str) -> Result<Option<Vec<String>>, TokenError> {
    let wrong = || TokenError::WrongClaimType(name.into());
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(one)) => Ok(Some(vec![one.clone()])),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_string).ok_or_else(wrong))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(wrong()),
    }
}
