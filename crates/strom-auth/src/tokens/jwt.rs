//! The compact JWT itself: splitting it into header, claims and signature, reading the
//! header's `alg` and `kid`, decoding an unsecured (`alg: none`) token's claims, and checking
//! a signature against candidate keys with `jsonwebtoken`. Claims are checked elsewhere
//! (`claims.rs`); nothing here logs or returns token content.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};

use super::claims::TokenError;
use super::keys::VerifyKey;

/// Longest token accepted (a bound on decoding work; real JWTs are a few KiB).
pub(super) const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// A token split at its dots, with its header read.
pub(super) struct Parts<'a> {
    pub alg: String,
    pub kid: Option<String>,
    pub payload: &'a str,
    pub signature: &'a str,
}

/// Splits a compact JWS and reads its header.
/// Errors: `Malformed` unless there are three base64url parts and the header is a JSON
/// object with a string `alg`.
pub(super) fn split(token: &str) -> Result<Parts<'_>, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::Malformed("too large"));
    }
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed(
            "a JWT has three parts separated by '.'",
        ));
    };
    let header = json_object(header, "the header is not base64url-encoded JSON")?;
    let alg = match header.get("alg") {
        Some(Value::String(alg)) => alg.clone(),
        _ => return Err(TokenError::Malformed("the header has no 'alg'")),
    };
    let kid = match header.get("kid") {
        Some(Value::String(kid)) => Some(kid.clone()),
        None => None,
        Some(_) => return Err(TokenError::Malformed("the header's 'kid' is not a string")),
    };
    Ok(Parts {
        alg,
        kid,
        payload,
        signature,
    })
}

/// The claims of an unsecured token. Errors: `Malformed` when the payload is not a
/// base64url JSON object or the signature part is not empty.
pub(super) fn unsecured_claims(parts: &Parts<'_>) -> Result<Map<String, Value>, TokenError> {
    if !parts.signature.is_empty() {
        return Err(TokenError::Malformed(
            "an unsigned token has an empty signature",
        ));
    }
    json_object(parts.payload, "the claims are not base64url-encoded JSON")
}

/// Verifies the signature with each candidate key in turn and returns the claims.
/// Errors: `BadSignature` when no key verifies it; `Malformed` for undecodable parts.
pub(super) fn verify(
    token: &str,
    alg: Algorithm,
    keys: &[&VerifyKey],
) -> Result<Map<String, Value>, TokenError> {
    // Only the signature: every claim is checked by `claims.rs`, with its own messages.
    let mut validation = Validation::new(alg);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    for key in keys {
        match jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation) {
            Ok(data) => return Ok(data.claims),
            Err(err) => match err.kind() {
                ErrorKind::InvalidSignature
                | ErrorKind::InvalidAlgorithm
                | ErrorKind::InvalidKeyFormat
                | ErrorKind::InvalidEcdsaKey
                | ErrorKind::InvalidEddsaKey
                | ErrorKind::InvalidRsaKey(_) => continue,
                _ => return Err(TokenError::Malformed("a part cannot be decoded")),
            },
        }
    }
    Err(TokenError::BadSignature)
}

fn json_object(part: &str, what: &'static str) -> Result<Map<String, Value>, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenError::Malformed(what))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(TokenError::Malformed(what)),
    }
}
