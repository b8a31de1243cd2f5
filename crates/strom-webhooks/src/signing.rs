//! Standard Webhooks signing: `whsec_` secrets (base64 of 24 to 64 random bytes) and the
//! `webhook-signature` header, `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, one
//! signature per live secret (space separated) so receivers keep verifying during rotation.

use base64::engine::general_purpose::STANDARD;
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
        })
    }

    fn key(&self) -> Option<Vec<u8>> {
        decode(&self.secret)
    }
}

fn decode(text: &str) -> Option<Vec<u8>> {
    STANDARD.decode(text.strip_prefix(PREFIX)?).ok()
}

/// One `v1,<base64>` signature of `id.timestamp.body`.
pub fn sign_one(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length, so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` value: one signature per secret not expired at `now_ms`.
pub fn signature_header(
    secrets: &[Secret],
    now_ms: i64,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    secrets
        .iter()
        .filter(|s| s.expires_ms.is_none_or(|e| e > now_ms))
        .filter_map(Secret::key)
        .map(|k| sign_one(&k, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
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
        old.expires_ms = Some(500);
        let header = signature_header(&[new, old], 1000, "i", 1, b"b");
        assert_eq!(header.split(' ').count(), 1);
        assert!(Secret::parse("whsec_c2hvcnQ=").is_err());
        assert!(!format!("{:?}", Secret::generate()).contains("whsec_"));
    }
}
