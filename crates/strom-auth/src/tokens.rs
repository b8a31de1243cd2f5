//! Bearer-token (JWT) validation shared by SASL/OAUTHBEARER and HTTP Bearer.
//!
//! (Skeleton: validation against configured keys arrives with the OAUTHBEARER work; until
//! then no token is accepted.)

use crate::{AuthError, Principal};

/// A token that passed validation.
#[derive(Debug, Clone)]
pub struct ValidatedToken {
    pub principal: Principal,
    /// When the token expires (ms since the epoch); sessions end then (KIP-368).
    pub expires_at_ms: i64,
}

#[derive(Default)]
pub struct TokenValidator {}

impl TokenValidator {
    /// Errors: `Authentication` with a client-safe reason.
    pub fn validate(&self, _token: &str) -> Result<ValidatedToken, AuthError> {
        Err(AuthError::Authentication(
            "bearer tokens are not configured on this server".into(),
        ))
    }
}

/// The parts of an OAUTHBEARER client message (RFC 7628 §3.1:
/// `n,[a=<authzid>],\x01auth=Bearer <token>\x01[key=value\x01]*\x01`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthBearerMessage {
    pub authzid: Option<String>,
    pub token: String,
}

/// Parses an OAUTHBEARER client message.
/// Errors: `Invalid` saying what is malformed (never echoing the token).
pub fn parse_oauthbearer(_message: &[u8]) -> Result<OAuthBearerMessage, AuthError> {
    Err(AuthError::Invalid(
        "OAUTHBEARER is not supported yet".into(),
    ))
}
