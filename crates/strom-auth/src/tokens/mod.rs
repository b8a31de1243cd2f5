//! Bearer-token (JWT) validation shared by SASL/OAUTHBEARER and HTTP Bearer.
//!
//! (Skeleton: validation against configured keys arrives with the OAUTHBEARER work; until
//! then no token is accepted.)

mod oauthbearer;

pub use oauthbearer::{
    oauthbearer_error_challenge, parse_oauthbearer, ChallengeStatus, OAuthBearerMessage,
    OAUTHBEARER_ERROR_ACK,
};

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
