//! Short-lived signed tokens for EventSource and WebSocket, which cannot send an
//! `Authorization` header across origins: `POST /v1/stream-tokens` mints one for the caller,
//! and the live routes (feeds, Atom, SSE, WebSocket) accept it as `?access_token=`. A token
//! is `v1.<payload>.<mac>` (base64url): the payload is JSON with the principal, the expiry
//! (ms since the epoch) and an optional topic scope; the MAC is HMAC-SHA256 under a random
//! key made when the server starts, so tokens end with the process. The middleware takes
//! the parameter out of the request before anything can log or parse it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use strom_auth::Principal;
use subtle::ConstantTimeEq;

/// What a valid token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamGrant {
    pub principal: Principal,
    pub expires_ms: i64,
    /// Only this topic, when set.
    pub topic: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Payload {
    p: String,
    e: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    t: Option<String>,
}

pub struct Signer {
    key: [u8; 32],
}

impl Signer {
    /// A signer with a fresh random key.
    pub fn random() -> Signer {
        let mut key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut key);
        Signer { key }
    }

    fn mac(&self, data: &[u8]) -> Vec<u8> {
        // HMAC accepts keys of any length.
        let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(&self.key) else {
            return Vec::new();
        };
        mac.update(data);
        mac.finalize().into_bytes().to_vec()
    }

    /// Signs `grant` into a token.
    pub fn sign(&self, grant: &StreamGrant) -> String {
        let payload = Payload {
            p: grant.principal.to_string(),
            e: grant.expires_ms,
            t: grant.topic.clone(),
        };
        let json = serde_json::to_vec(&payload).unwrap_or_default();
        let body = format!("v1.{}", URL_SAFE_NO_PAD.encode(json));
        let mac = URL_SAFE_NO_PAD.encode(self.mac(body.as_bytes()));
        format!("{body}.{mac}")
    }

    /// The grant of a token signed here and not expired at `now_ms`.
    /// Errors: a client-safe reason (never the token).
    pub fn verify(&self, token: &str, now_ms: i64) -> Result<StreamGrant, &'static str> {
        let (body, mac) = token.rsplit_once('.').ok_or("malformed stream token")?;
        let payload = body.strip_prefix("v1.").ok_or("malformed stream token")?;
        let mac = URL_SAFE_NO_PAD
            .decode(mac)
            .map_err(|_| "malformed stream token")?;
        if !bool::from(self.mac(body.as_bytes()).ct_eq(&mac)) {
            return Err("invalid stream token");
        }
        let json = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| "malformed stream token")?;
        let payload: Payload =
            serde_json::from_slice(&json).map_err(|_| "malformed stream token")?;
        if payload.e <= now_ms {
            return Err("expired stream token");
        }
        Ok(StreamGrant {
            principal: Principal::parse(&payload.p).ok_or("malformed stream token")?,
            expires_ms: payload.e,
            topic: payload.t,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_until_expiry_and_only_with_the_servers_key() {
        let signer = Signer::random();
        let grant = StreamGrant {
            principal: Principal::user("alice"),
            expires_ms: 2_000,
            topic: Some("orders".into()),
        };
        let token = signer.sign(&grant);
        assert_eq!(signer.verify(&token, 1_999), Ok(grant.clone()));
        assert_eq!(signer.verify(&token, 2_000), Err("expired stream token"));
        assert_eq!(
            Signer::random().verify(&token, 0),
            Err("invalid stream token")
        );
        // A changed payload (another principal) breaks the MAC.
        let forged_payload = URL_SAFE_NO_PAD.encode(br#"{"p":"User:admin","e":9999}"#);
        let mac = token.rsplit_once('.').map(|(_, m)| m).unwrap_or_default();
        let forged = format!("v1.{forged_payload}.{mac}");
        assert_eq!(signer.verify(&forged, 0), Err("invalid stream token"));
        assert_eq!(signer.verify("garbage", 0), Err("malformed stream token"));
    }
}
