//! Standard Webhooks signing: `whsec_` secrets (base64 of 24 to 64 random bytes) and the
//! `webhook-signature` header, `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, one
//! signature per live secret (space separated) so receivers keep verifying during rotation.
//! Each secret's key is decoded and its HMAC state (the key's inner and outer pads) set up
//! once, on first use; an event's signature starts from a copy of it.

use base64::engine::general_purpose::STANDARD;
use std::sync::OnceLock;

use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::error::{Result, WebhookError};

const PREFIX: &str = "whsec_";
const GENERATED_BYTES: usize = 32;

/// One signing secret, as `whsec_…`, with the time after which it no longer signs.
#[derive(Clone, Serialize, Deserialize)]
pub struct Secret {
    pub secret: String,
    #[serde(default)]
    pub expires_ms: Option<i64>,
    /// The HMAC state keyed with the secret, set up on first use (`None`: not decodable).
    #[serde(skip)]
    keyed: OnceLock<Option<Hmac<Sha256>>>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secret")
            .field("secret", &"<redacted>")
            .field("expires_ms", &self.expires_ms)
            .finish()
    }
}

impl Secret {
    /// A new random secret.
    pub fn generate() -> Secret {
        let mut key = [0u8; GENERATED_BYTES];
        rand::thread_rng().fill_bytes(&mut key);
        Secret {
            secret: format!("{PREFIX}{}", STANDARD.encode(key)),
            expires_ms: None,
            keyed: OnceLock::new(),
        }
    }

    /// A client's secret; errors: `Invalid` unless `whsec_` + base64 of 24 to 64 bytes.
    pub fn parse(text: &str) -> Result<Secret> {
        let key = decode(text)
            .ok_or_else(|| WebhookError::Invalid("secret must be whsec_ + base64".into()))?;
        if !(24..=64).contains(&key.len()) {
            return Err(WebhookError::Invalid(
                "secret must hold 24 to 64 bytes".into(),
            ));
        }
        Ok(Secret {
            secret: text.to_string(),
            expires_ms: None,
            keyed: OnceLock::new(),
        })
    }

    fn key(&self) -> Option<Vec<u8>> {
        decode(&self.secret)
    }

    /// The HMAC state keyed with this secret.
    fn keyed(&self) -> Option<&Hmac<Sha256>> {
        self.keyed
            .get_or_init(|| {
                let key = self.key()?;
                Hmac::<Sha256>::new_from_slice(&key).ok()
            })
            .as_ref()
    }
}

fn decode(text: &str) -> Option<Vec<u8>> {
    STANDARD.decode(text.strip_prefix(PREFIX)?).ok()
}

/// One `v1,<base64>` signature of `id.timestamp.body`.
pub fn sign_one(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length, so this cannot fail.
    let Ok(mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    let mut out = String::new();
    sign_keyed(mac, id, timestamp, body, &mut out);
    out
}

/// Appends `v1,<base64>`, the signature of `id.timestamp.body` with `mac` (a keyed state).
fn sign_keyed(mut mac: Hmac<Sha256>, id: &str, timestamp: i64, body: &[u8], out: &mut String) {
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(itoa::Buffer::new().format(timestamp).as_bytes());
    mac.update(b".");
    mac.update(body);
    out.push_str("v1,");
    STANDARD.encode_string(mac.finalize().into_bytes(), out);
}

/// Length of one `v1,<base64 of an HMAC-SHA256>` signature.
const SIGNATURE_LEN: usize = 3 + 44;

/// The `webhook-signature` value: one signature per secret not expired at `now_ms`. Its
/// buffer is sized exactly (signatures and the spaces between them), so turning it into a
/// header value's bytes keeps the allocation instead of adding one.
pub fn signature_header(
    secrets: &[Secret],
    now_ms: i64,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    let live = || {
        secrets
            .iter()
            .filter(|s| s.expires_ms.is_none_or(|e| e > now_ms))
            .filter_map(Secret::keyed)
    };
    let count = live().count();
    let mut out = String::with_capacity((count * (SIGNATURE_LEN + 1)).saturating_sub(1));
    for mac in live() {
        if !out.is_empty() {
            out.push(' ');
        }
        sign_keyed(mac.clone(), id, timestamp, body, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example from the Standard Webhooks reference libraries' tests.
    #[test]
    fn matches_the_standard_webhooks_test_vector() {
        let secret = Secret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("secret");
        let key = secret.key().expect("key");
        let sig = sign_one(
            &key,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn rotation_signs_with_every_live_secret() {
        let mut old = Secret::generate();
        let new = Secret::generate();
        let header = signature_header(&[new.clone(), old.clone()], 1000, "i", 1, b"b");
        assert_eq!(header.split(' ').count(), 2);
        // Sized exactly: the header value takes the buffer as it is.
        assert_eq!(header.len(), header.capacity());
        // The cached keyed state signs as a fresh one does, every time.
        let fresh = sign_one(&new.key().expect("key"), "i", 1, b"b");
        assert_eq!(header.split(' ').next(), Some(fresh.as_str()));
        let again = signature_header(&[new.clone(), old.clone()], 1000, "i", 1, b"b");
        assert_eq!(again, header);
        old.expires_ms = Some(500);
        let header = signature_header(&[new, old], 1000, "i", 1, b"b");
        assert_eq!(header.split(' ').count(), 1);
        assert!(Secret::parse("whsec_c2hvcnQ=").is_err());
        assert!(!format!("{:?}", Secret::generate()).contains("whsec_"));
    }
}
