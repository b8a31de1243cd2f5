//! Verification keys: a [`KeySet`] built from a JWKS document, a PEM file of public keys or
//! an HMAC secret, and the lookup of the keys that may have signed a token (by `kid`, else
//! by algorithm family). Parsing only; files are read by the caller and nothing here logs
//! key material.

use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};

/// At most this many keys are kept from one JWKS document (a bound on the work per token).
pub(super) const MAX_KEYS: usize = 64;

/// One verification key.
#[derive(Clone)]
pub(super) struct VerifyKey {
    pub kid: Option<String>,
    /// The only algorithm this key may verify, when its JWK says so (`alg`).
    pub alg: Option<Algorithm>,
    pub key: DecodingKey,
}

impl VerifyKey {
    fn accepts(&self, alg: Algorithm) -> bool {
        self.key.family() == alg.family() && self.alg.is_none_or(|a| a == alg)
    }
}

/// The keys tokens are checked against.
#[derive(Clone, Default)]
pub(super) struct KeySet {
    keys: Vec<VerifyKey>,
}

/// What a key lookup found.
pub(super) enum Lookup<'a> {
    Keys(Vec<&'a VerifyKey>),
    /// The token names a key id that no key has.
    UnknownKid,
    /// No key can verify this algorithm.
    NoKeyForAlgorithm,
}

impl KeySet {
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn extend(&mut self, other: KeySet) {
        self.keys.extend(other.keys);
    }

    /// The keys that may have signed a token with this header: those with its `kid`; with
    /// no `kid`, or one no key has, the keys without an id (PEM, HMAC), and with no `kid`
    /// every key. Then only keys of the header's algorithm.
    pub fn lookup(&self, kid: Option<&str>, alg: Algorithm) -> Lookup<'_> {
        let named = |k: &&VerifyKey| kid.is_some() && k.kid.as_deref() == kid;
        let candidates: Vec<&VerifyKey> = if self.keys.iter().any(|k| named(&k)) {
            self.keys.iter().filter(named).collect()
        } else if kid.is_some() {
            let anonymous: Vec<&VerifyKey> = self.keys.iter().filter(|k| k.kid.is_none()).collect();
            if anonymous.is_empty() {
                return Lookup::UnknownKid;
            }
            anonymous
        } else {
            self.keys.iter().collect()
        };
        let keys: Vec<&VerifyKey> = candidates.into_iter().filter(|k| k.accepts(alg)).collect();
        if keys.is_empty() {
            Lookup::NoKeyForAlgorithm
        } else {
            Lookup::Keys(keys)
        }
    }

    /// Parses a JWKS document. Keys that cannot verify signatures (`use: enc`, unknown key
    /// types, malformed parameters) are skipped and counted.
    /// Errors: the text is not a JSON object with a `keys` array, or has no usable key.
    pub fn from_jwks(text: &[u8]) -> Result<(KeySet, usize), String> {
        #[derive(serde::Deserialize)]
        struct Document {
            keys: Vec<serde_json::Value>,
        }
        let document: Document = serde_json::from_slice(text)
            .map_err(|e| format!("not a JWKS document (a JSON object with \"keys\"): {e}"))?;
        let mut set = KeySet::default();
        let mut skipped = 0;
        for value in document.keys {
            match verify_key_of(value) {
                Some(key) if set.keys.len() < MAX_KEYS => set.keys.push(key),
                _ => skipped += 1,
            }
        }
        if set.keys.is_empty() {
            return Err("the JWKS has no usable signature-verification key".into());
        }
        Ok((set, skipped))
    }

    /// Parses a PEM file of public keys (`PUBLIC KEY` or `RSA PUBLIC KEY` blocks).
    /// Errors: no PEM block, or a block that is not an RSA, EC or Ed25519 public key.
    pub fn from_pem(text: &[u8]) -> Result<KeySet, String> {
        let blocks = pem::parse_many(text).map_err(|e| format!("not a PEM file: {e}"))?;
        if blocks.is_empty() {
            return Err("the PEM file has no key".into());
        }
        let mut set = KeySet::default();
        for (index, block) in blocks.iter().enumerate() {
            let one = pem::encode(block);
            let key = DecodingKey::from_rsa_pem(one.as_bytes())
                .or_else(|_| DecodingKey::from_ec_pem(one.as_bytes()))
                .or_else(|_| DecodingKey::from_ed_pem(one.as_bytes()))
                .map_err(|_| {
                    format!(
                        "PEM block {} ({}) is not an RSA, EC or Ed25519 public key",
                        index + 1,
                        block.tag()
                    )
                })?;
            set.keys.push(VerifyKey {
                kid: None,
                alg: None,
                key,
            });
        }
        Ok(set)
    }

    /// An HMAC secret (HS256/384/512). Errors: shorter than 32 bytes (RFC 7518 §3.2).
    pub fn from_hmac_secret(secret: &[u8]) -> Result<KeySet, String> {
        if secret.len() < 32 {
            return Err("the HMAC secret must be at least 32 bytes".into());
        }
        Ok(KeySet {
            keys: vec![VerifyKey {
                kid: None,
                alg: None,
                key: DecodingKey::from_secret(secret),
            }],
        })
    }
}

/// A JWK that can verify signatures, or `None`.
fn verify_key_of(value: serde_json::Value) -> Option<VerifyKey> {
    let jwk: Jwk = serde_json::from_value(value).ok()?;
    if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
        return None;
    }
    let alg = match jwk.common.key_algorithm {
        Some(alg) => Some(alg.to_string().parse::<Algorithm>().ok()?),
        None => None,
    };
    let key = DecodingKey::from_jwk(&jwk).ok()?;
    if key.family() == AlgorithmFamily::Hmac {
        // Symmetric keys are configured with `hmac_secret_file`, never published in a JWKS.
        return None;
    }
    Some(VerifyKey {
        kid: jwk.common.key_id,
        alg,
        key,
    })
}

/// The keys in use: those from files, plus the last JWKS fetched from a URL. Validation
/// takes a snapshot (an `Arc`), so a refresh never blocks it for longer than a pointer swap.
pub(super) struct KeyStore {
    base: KeySet,
    current: parking_lot::RwLock<std::sync::Arc<KeySet>>,
}

impl KeyStore {
    pub fn new(base: KeySet) -> KeyStore {
        KeyStore {
            current: parking_lot::RwLock::new(std::sync::Arc::new(base.clone())),
            base,
        }
    }

    pub fn current(&self) -> std::sync::Arc<KeySet> {
        std::sync::Arc::clone(&self.current.read())
    }

    /// Replaces the fetched keys (the file keys stay).
    pub fn replace_fetched(&self, fetched: KeySet) {
        let mut all = self.base.clone();
        all.extend(fetched);
        *self.current.write() = std::sync::Arc::new(all);
    }
}
