//! The one user store for SCRAM, PLAIN and HTTP Basic: per user and mechanism a salted SCRAM
//! credential (salt, StoredKey, ServerKey, iterations), never a password, computed as
//! Kafka's `ScramFormatter` does (plain UTF-8, no SASLprep). Persisted in `__strom_security`
//! under `user/<name>/<mechanism>` before a change takes effect. Passwords (PLAIN, Basic)
//! are verified by deriving StoredKey with the stored salt and iterations and comparing in
//! constant time; a PBKDF2 costs milliseconds, so successes are remembered briefly.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use parking_lot::{Mutex, RwLock};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;

use crate::store::{Store, USER_PREFIX};
use crate::AuthError;

/// Kafka's bounds on SCRAM iterations (`ScramMechanism` min, `ScramControlManager` max).
pub const MIN_ITERATIONS: u32 = 4096;
pub const MAX_ITERATIONS: u32 = 16384;
/// How long a verified password is remembered (PLAIN and Basic verify on every login).
const VERIFIED_TTL: Duration = Duration::from_secs(60);

/// A SCRAM mechanism, with KIP-554's wire codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ScramMechanism {
    Sha256,
    Sha512,
}

impl ScramMechanism {
    pub const ALL: [ScramMechanism; 2] = [ScramMechanism::Sha256, ScramMechanism::Sha512];

    /// The SASL mechanism name (`SCRAM-SHA-256`).
    pub fn name(self) -> &'static str {
        match self {
            ScramMechanism::Sha256 => "SCRAM-SHA-256",
            ScramMechanism::Sha512 => "SCRAM-SHA-512",
        }
    }

    pub fn from_name(name: &str) -> Option<ScramMechanism> {
        ScramMechanism::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(name))
    }

    /// KIP-554 code: 1 = SCRAM-SHA-256, 2 = SCRAM-SHA-512.
    pub fn code(self) -> i8 {
        match self {
            ScramMechanism::Sha256 => 1,
            ScramMechanism::Sha512 => 2,
        }
    }

    pub fn from_code(code: i8) -> Option<ScramMechanism> {
        ScramMechanism::ALL.into_iter().find(|m| m.code() == code)
    }

    /// `Hi(password, salt, iterations)` of RFC 5802 (PBKDF2 with this HMAC).
    pub fn salted_password(self, password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
        match self {
            ScramMechanism::Sha256 => {
                let mut out = vec![0u8; 32];
                pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut out);
                out
            }
            ScramMechanism::Sha512 => {
                let mut out = vec![0u8; 64];
                pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, &mut out);
                out
            }
        }
    }

    /// `HMAC(key, data)`.
    pub fn hmac(self, key: &[u8], data: &[u8]) -> Vec<u8> {
        // HMAC takes keys of any length, so `new_from_slice` cannot fail.
        match self {
            ScramMechanism::Sha256 => {
                let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
                    .expect("HMAC accepts keys of any length");
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
            ScramMechanism::Sha512 => {
                let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(key)
                    .expect("HMAC accepts keys of any length");
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
        }
    }

    /// `H(data)`.
    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        match self {
            ScramMechanism::Sha256 => Sha256::digest(data).to_vec(),
            ScramMechanism::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
}

/// What the server keeps of a SCRAM password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScramCredential {
    pub salt: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
    pub iterations: u32,
}

impl std::fmt::Debug for ScramCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScramCredential")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

impl ScramCredential {
    /// From `SaltedPassword` (what a KIP-554 AlterUserScramCredentials upsertion carries).
    pub fn from_salted_password(
        mechanism: ScramMechanism,
        salted: &[u8],
        salt: Vec<u8>,
        iterations: u32,
    ) -> ScramCredential {
        let client_key = mechanism.hmac(salted, b"Client Key");
        ScramCredential {
            salt,
            stored_key: mechanism.hash(&client_key),
            server_key: mechanism.hmac(salted, b"Server Key"),
            iterations,
        }
    }

    /// From a password, with a fresh random 32-byte salt.
    pub fn from_password(
        mechanism: ScramMechanism,
        password: &str,
        iterations: u32,
    ) -> ScramCredential {
        let mut salt = vec![0u8; 32];
        rand::thread_rng().fill_bytes(&mut salt);
        let salted = mechanism.salted_password(password.as_bytes(), &salt, iterations);
        ScramCredential::from_salted_password(mechanism, &salted, salt, iterations)
    }

    /// Whether `password` derives this credential's StoredKey (constant-time compare).
    pub fn matches_password(&self, mechanism: ScramMechanism, password: &str) -> bool {
        let salted = mechanism.salted_password(password.as_bytes(), &self.salt, self.iterations);
        let candidate = ScramCredential::from_salted_password(mechanism, &salted, Vec::new(), 0);
        candidate.stored_key.ct_eq(&self.stored_key).into()
    }
}

type Credentials = BTreeMap<String, BTreeMap<ScramMechanism, ScramCredential>>;

pub struct UserStore {
    store: Arc<Store>,
    users: RwLock<Credentials>,
    /// (user, SHA-256 of the password) → when the verification expires.
    verified: Mutex<HashMap<(String, [u8; 32]), Instant>>,
    /// PBKDF2 iterations run by password checks (real and dummy), so tests can see the KDF ran.
    kdf_iterations: AtomicU64,
}

impl UserStore {
    /// Loads the stored credentials; an unreadable entry is skipped with a warning.
    pub(crate) fn new(store: Arc<Store>) -> UserStore {
        let mut users: Credentials = BTreeMap::new();
        for (key, value) in store.entries(USER_PREFIX) {
            let parsed = key.rsplit_once('/').and_then(|(user, mech)| {
                let mech = ScramMechanism::from_name(mech)?;
                let cred = serde_json::from_slice::<ScramCredential>(&value).ok()?;
                Some((user.to_string(), mech, cred))
            });
            match parsed {
                Some((user, mech, cred)) => {
                    users.entry(user).or_default().insert(mech, cred);
                }
                None => tracing::warn!(key, "skipping an unreadable stored user credential"),
            }
        }
        UserStore {
            store,
            users: RwLock::new(users),
            verified: Mutex::new(HashMap::new()),
            kdf_iterations: AtomicU64::new(0),
        }
    }

    /// `user`'s credential for `mechanism`.
    pub fn credential(&self, user: &str, mechanism: ScramMechanism) -> Option<ScramCredential> {
        self.users.read().get(user)?.get(&mechanism).cloned()
    }

    /// Every user with the mechanisms and iterations of their credentials (never secrets).
    pub fn describe(&self) -> BTreeMap<String, Vec<(ScramMechanism, u32)>> {
        self.users
            .read()
            .iter()
            .map(|(u, creds)| {
                (
                    u.clone(),
                    creds.iter().map(|(m, c)| (*m, c.iterations)).collect(),
                )
            })
            .collect()
    }

    pub fn has_users(&self) -> bool {
        !self.users.read().is_empty()
    }

    /// Stores `credential` for (`user`, `mechanism`), replacing any. Blocking.
    /// Errors: `Invalid` for an empty user name or iterations outside 4096..=16384;
    /// `Storage`.
    pub fn upsert(
        &self,
        user: &str,
        mechanism: ScramMechanism,
        credential: ScramCredential,
    ) -> Result<(), AuthError> {
        validate_user_name(user)?;
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&credential.iterations) {
            return Err(AuthError::Invalid(format!(
                "iterations must be between {MIN_ITERATIONS} and {MAX_ITERATIONS}"
            )));
        }
        let json = serde_json::to_vec(&credential)
            .map_err(|e| AuthError::Storage(format!("cannot encode a credential: {e}")))?;
        let mut users = self.users.write();
        self.store
            .put_many(&[(user_key(user, mechanism), Some(json))])?;
        users
            .entry(user.to_string())
            .or_default()
            .insert(mechanism, credential);
        self.verified.lock().clear();
        Ok(())
    }

    /// Sets `user`'s password for `mechanism` (fresh salt). Blocking (PBKDF2 + write).
    /// Errors: those of [`UserStore::upsert`].
    pub fn set_password(
        &self,
        user: &str,
        mechanism: ScramMechanism,
        password: &str,
        iterations: u32,
    ) -> Result<(), AuthError> {
        let credential = ScramCredential::from_password(mechanism, password, iterations);
        self.upsert(user, mechanism, credential)
    }

    /// Removes `user`'s credential for `mechanism`. Blocking.
    /// Errors: `NotFound` when there is none; `Storage`.
    pub fn delete(&self, user: &str, mechanism: ScramMechanism) -> Result<(), AuthError> {
        let mut users = self.users.write();
        if !users.get(user).is_some_and(|c| c.contains_key(&mechanism)) {
            return Err(AuthError::NotFound(format!(
                "user '{user}' has no {} credential",
                mechanism.name()
            )));
        }
        self.store.put_many(&[(user_key(user, mechanism), None)])?;
        if let Some(creds) = users.get_mut(user) {
            creds.remove(&mechanism);
            if creds.is_empty() {
                users.remove(user);
            }
        }
        self.verified.lock().clear();
        Ok(())
    }

    /// Whether `password` is `user`'s (PLAIN and HTTP Basic), against any of the user's
    /// SCRAM credentials. Blocking (a PBKDF2 unless recently verified).
    pub fn verify_password(&self, user: &str, password: &str) -> bool {
        let digest: [u8; 32] = Sha256::digest(password.as_bytes()).into();
        let cache_key = (user.to_string(), digest);
        if let Some(until) = self.verified.lock().get(&cache_key) {
            if *until > Instant::now() {
                return true;
            }
        }
        let Some(creds) = self.users.read().get(user).cloned() else {
            self.dummy_verify(password);
            return false;
        };
        let ok = creds.iter().any(|(m, c)| {
            self.kdf_iterations
                .fetch_add(u64::from(c.iterations), Ordering::Relaxed);
            c.matches_password(*m, password)
        });
        if ok {
            let mut verified = self.verified.lock();
            let now = Instant::now();
            verified.retain(|_, until| *until > now);
            verified.insert(cache_key, now + VERIFIED_TTL);
        }
        ok
    }
}

impl UserStore {
    /// An unknown user costs what a wrong password costs: the same PBKDF2 work as a stored
    /// user's check (the mechanisms and iterations of the first user, else one SHA-256 at
    /// the minimum), so response times do not tell which user names exist.
    fn dummy_verify(&self, password: &str) {
        let shape: Vec<(ScramMechanism, u32)> = self
            .users
            .read()
            .values()
            .next()
            .map(|creds| creds.iter().map(|(m, c)| (*m, c.iterations)).collect())
            .unwrap_or_else(|| vec![(ScramMechanism::Sha256, MIN_ITERATIONS)]);
        for (mechanism, iterations) in shape {
            self.kdf_iterations
                .fetch_add(u64::from(iterations), Ordering::Relaxed);
            let salted = mechanism.salted_password(password.as_bytes(), &[0u8; 32], iterations);
            std::hint::black_box(salted);
        }
    }

    /// PBKDF2 iterations run by password checks since the store was made.
    pub fn kdf_iterations(&self) -> u64 {
        self.kdf_iterations.load(Ordering::Relaxed)
    }
}

fn user_key(user: &str, mechanism: ScramMechanism) -> String {
    format!("{USER_PREFIX}{user}/{}", mechanism.name())
}

/// Errors: `Invalid` for names SASL cannot carry unambiguously.
fn validate_user_name(user: &str) -> Result<(), AuthError> {
    if user.is_empty() || user.len() > 255 || user.chars().any(|c| c.is_control()) {
        return Err(AuthError::Invalid(
            "user names must be 1 to 255 characters without control characters".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677's SCRAM-SHA-256 example: user `user`, password `pencil`.
    #[test]
    fn rfc7677_vector_gives_the_known_keys() {
        let salt = [
            0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e, 0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36,
            0xfa, 0x81,
        ];
        let m = ScramMechanism::Sha256;
        let salted = m.salted_password(b"pencil", &salt, 4096);
        let cred = ScramCredential::from_salted_password(m, &salted, salt.to_vec(), 4096);
        let auth_message = "n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let server_signature = m.hmac(&cred.server_key, auth_message.as_bytes());
        // v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4= decoded.
        let expected = [
            234, 186, 226, 77, 16, 98, 219, 117, 169, 69, 31, 240, 182, 234, 126, 152, 200, 84,
            101, 73, 255, 116, 30, 103, 45, 50, 81, 178, 57, 125, 228, 110,
        ];
        assert_eq!(server_signature, expected);
        assert!(cred.matches_password(m, "pencil"));
        assert!(!cred.matches_password(m, "pencil2"));
    }

    #[test]
    fn passwords_verify_against_any_mechanism_and_survive_reload() {
        let store = Arc::new(Store::in_memory());
        let users = UserStore::new(Arc::clone(&store));
        users
            .set_password("alice", ScramMechanism::Sha512, "s3cret", 4096)
            .expect("set");
        assert!(users.verify_password("alice", "s3cret"));
        assert!(users.verify_password("alice", "s3cret"), "cached");
        assert!(!users.verify_password("alice", "wrong"));
        assert!(!users.verify_password("bob", "s3cret"));
        let reloaded = UserStore::new(store);
        assert!(reloaded.verify_password("alice", "s3cret"));
        assert_eq!(
            reloaded.describe().get("alice"),
            Some(&vec![(ScramMechanism::Sha512, 4096)])
        );
        reloaded
            .delete("alice", ScramMechanism::Sha512)
            .expect("delete");
        assert!(!reloaded.verify_password("alice", "s3cret"));
        assert!(reloaded
            .set_password("x", ScramMechanism::Sha256, "p", 100)
            .is_err());
    }

    #[test]
    fn an_unknown_user_runs_the_same_kdf_work_as_a_wrong_password() {
        let users = UserStore::new(Arc::new(Store::in_memory()));
        let before = users.kdf_iterations();
        assert!(!users.verify_password("nobody", "pw"), "no users at all");
        assert_eq!(users.kdf_iterations() - before, u64::from(MIN_ITERATIONS));
        for (m, iterations) in [
            (ScramMechanism::Sha256, 8192),
            (ScramMechanism::Sha512, 4096),
        ] {
            users
                .set_password("alice", m, "s3cret", iterations)
                .expect("set");
        }
        let before = users.kdf_iterations();
        assert!(!users.verify_password("alice", "wrong"));
        let wrong_password = users.kdf_iterations() - before;
        assert_eq!(wrong_password, 8192 + 4096);
        let before = users.kdf_iterations();
        assert!(!users.verify_password("bob", "wrong"));
        assert_eq!(users.kdf_iterations() - before, wrong_password);
    }
}
