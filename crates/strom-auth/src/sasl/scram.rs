//! SCRAM-SHA-256/512 server (RFC 5802, RFC 7677) with Kafka's rules (`ScramSaslServer`,
//! `ScramMessages`): user names escaped `=2C`/`=3D`, no SASLprep, an authzid must equal the
//! user, no channel binding (`n` or `y` only), the `tokenauth` extension (delegation tokens)
//! refused. The server nonce has 190 random bits; the proof is compared in constant time.
//!
//! An unknown user is not refused at the first message: the exchange goes on with a fake
//! credential (a salt derived from the name with a per-process secret, so it is stable) and
//! fails at the proof with the same message as a wrong password, so neither the answer's
//! shape nor its timing says whether the user exists.

use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rand::{Rng, RngCore};
use subtle::ConstantTimeEq;

use super::{Authenticated, SaslError, Step, INVALID_CREDENTIALS};
use crate::{Principal, ScramCredential, ScramMechanism, UserStore, MIN_ITERATIONS};

/// Characters of a server nonce, alphanumeric as Kafka's (`secureRandomString`): 32 of 62
/// symbols is 190 random bits (RFC 5802 asks for a fresh unpredictable value; ≥ 128 bits).
const SERVER_NONCE_CHARS: usize = 32;

pub(super) struct ScramServer {
    mechanism: ScramMechanism,
    state: ScramState,
    /// Tests pin the server's part of the nonce to replay RFC 7677's example.
    #[cfg(test)]
    fixed_nonce: Option<String>,
}

enum ScramState {
    AwaitClientFirst,
    AwaitClientFinal(Box<Pending>),
    /// Finished (either way): any further message is refused, so a replayed client-final
    /// cannot authenticate twice.
    Finished,
}

struct Pending {
    user: String,
    gs2_header: String,
    nonce: String,
    client_first_bare: String,
    server_first: String,
    credential: ScramCredential,
}

impl ScramServer {
    pub(super) fn new(mechanism: ScramMechanism) -> ScramServer {
        ScramServer {
            mechanism,
            state: ScramState::AwaitClientFirst,
            #[cfg(test)]
            fixed_nonce: None,
        }
    }

    pub(super) fn step(&mut self, users: &UserStore, token: &[u8]) -> Result<Step, SaslError> {
        match std::mem::replace(&mut self.state, ScramState::Finished) {
            ScramState::AwaitClientFirst => {
                let pending = self.client_first(users, token)?;
                let challenge = pending.server_first.clone().into_bytes();
                self.state = ScramState::AwaitClientFinal(Box::new(pending));
                Ok(Step::Continue(challenge))
            }
            ScramState::AwaitClientFinal(pending) => self.client_final(&pending, token),
            ScramState::Finished => Err(SaslError::new(
                "SCRAM exchange already finished; start a new authentication",
                None,
            )),
        }
    }

    fn client_first(&self, users: &UserStore, token: &[u8]) -> Result<Pending, SaslError> {
        let first = parse_client_first(token)?;
        let user = first.user;
        if let Some(authzid) = &first.authzid {
            if *authzid != user {
                return Err(SaslError::new(
                    "Authentication failed: Client requested an authorization id that is \
                     different from username",
                    Some(&user),
                ));
            }
        }
        let credential = users
            .credential(&user, self.mechanism)
            .filter(|c| c.iterations >= MIN_ITERATIONS)
            .unwrap_or_else(|| fake_credential(self.mechanism, &user));
        let nonce = format!("{}{}", first.nonce, self.server_nonce());
        let server_first = format!(
            "r={nonce},s={},i={}",
            B64.encode(&credential.salt),
            credential.iterations
        );
        Ok(Pending {
            user,
            gs2_header: first.gs2_header,
            nonce,
            client_first_bare: first.bare,
            server_first,
            credential,
        })
    }

    fn server_nonce(&self) -> String {
        #[cfg(test)]
        if let Some(fixed) = &self.fixed_nonce {
            return fixed.clone();
        }
        rand::thread_rng()
            .sample_iter(&rand::distributions::Alphanumeric)
            .take(SERVER_NONCE_CHARS)
            .map(char::from)
            .collect()
    }

    fn client_final(&self, p: &Pending, token: &[u8]) -> Result<Step, SaslError> {
        let user = Some(p.user.as_str());
        let fin = parse_client_final(token).map_err(|m| SaslError::new(m, user))?;
        if fin.channel_binding != p.gs2_header.as_bytes() {
            return Err(SaslError::new(
                "Invalid SCRAM client final message: channel binding does not match",
                user,
            ));
        }
        // Kafka's `ScramSaslServer` checks only that the nonce ends with the server's, and
        // librdkafka 2.0 (kcat 1.7) sends the client nonce twice; the proof still binds it.
        if !fin.nonce.ends_with(&p.nonce) {
            return Err(SaslError::new(
                "Invalid SCRAM client final message: nonce does not match",
                user,
            ));
        }
        let m = self.mechanism;
        let auth_message = format!(
            "{},{},{}",
            p.client_first_bare, p.server_first, fin.without_proof
        );
        let client_signature = m.hmac(&p.credential.stored_key, auth_message.as_bytes());
        if fin.proof.len() != client_signature.len() {
            return Err(SaslError::new(INVALID_CREDENTIALS, user));
        }
        let client_key: Vec<u8> = fin
            .proof
            .iter()
            .zip(&client_signature)
            .map(|(a, b)| a ^ b)
            .collect();
        if !bool::from(m.hash(&client_key).ct_eq(&p.credential.stored_key)) {
            return Err(SaslError::new(INVALID_CREDENTIALS, user));
        }
        let server_signature = m.hmac(&p.credential.server_key, auth_message.as_bytes());
        Ok(Step::Done(Authenticated {
            principal: Principal::user(p.user.clone()),
            challenge: format!("v={}", B64.encode(server_signature)).into_bytes(),
            expires_at_ms: None,
        }))
    }
}

/// A credential for a user that does not exist: stable per name, matching no password.
fn fake_credential(mechanism: ScramMechanism, user: &str) -> ScramCredential {
    static SECRET: OnceLock<[u8; 32]> = OnceLock::new();
    let secret = SECRET.get_or_init(|| {
        let mut s = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut s);
        s
    });
    let salt = mechanism.hmac(secret, format!("salt/{user}").as_bytes());
    let mut stored_key = vec![0u8; salt.len()];
    rand::thread_rng().fill_bytes(&mut stored_key);
    ScramCredential {
        salt: salt[..32].to_vec(),
        server_key: stored_key.clone(),
        stored_key,
        iterations: MIN_ITERATIONS,
    }
}

struct ClientFirst {
    gs2_header: String,
    authzid: Option<String>,
    user: String,
    nonce: String,
    bare: String,
}

fn invalid_first(what: &str) -> SaslError {
    SaslError::new(format!("Invalid SCRAM client first message: {what}"), None)
}

/// `gs2-header client-first-message-bare`: `n,[a=authzid],n=user,r=nonce[,ext=value]*`.
fn parse_client_first(token: &[u8]) -> Result<ClientFirst, SaslError> {
    let text = std::str::from_utf8(token).map_err(|_| invalid_first("not UTF-8"))?;
    let mut parts = text.splitn(3, ',');
    let (Some(cb), Some(authz), Some(bare)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(invalid_first("missing GS2 header"));
    };
    if cb != "n" && cb != "y" {
        return Err(invalid_first("channel binding is not supported"));
    }
    let authzid = match authz {
        "" => None,
        a => Some(
            a.strip_prefix("a=")
                .and_then(unescape_sasl_name)
                .ok_or_else(|| invalid_first("malformed authzid"))?,
        ),
    };
    let mut attrs = bare.split(',');
    let user = attrs
        .next()
        .and_then(|a| a.strip_prefix("n="))
        .and_then(unescape_sasl_name)
        .filter(|u| !u.is_empty())
        .ok_or_else(|| invalid_first("malformed user name"))?;
    let nonce = attrs
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .filter(|n| is_printable(n))
        .ok_or_else(|| invalid_first("malformed nonce"))?;
    for ext in attrs {
        let Some((key, _)) = ext.split_once('=') else {
            return Err(invalid_first("malformed extension"));
        };
        if key == "tokenauth" {
            return Err(SaslError::new(
                "Authentication failed: delegation tokens are not supported",
                Some(&user),
            ));
        }
    }
    Ok(ClientFirst {
        gs2_header: format!("{cb},{authz},"),
        authzid,
        nonce: nonce.to_string(),
        user,
        bare: bare.to_string(),
    })
}

struct ClientFinal {
    channel_binding: Vec<u8>,
    nonce: String,
    proof: Vec<u8>,
    without_proof: String,
}

/// `c=<b64>,r=<nonce>[,ext]*,p=<b64 proof>`. Errors: a client-safe reason.
fn parse_client_final(token: &[u8]) -> Result<ClientFinal, String> {
    let bad = |what: &str| format!("Invalid SCRAM client final message: {what}");
    let text = std::str::from_utf8(token).map_err(|_| bad("not UTF-8"))?;
    let (without_proof, proof) = text.rsplit_once(",p=").ok_or_else(|| bad("no proof"))?;
    let proof = B64.decode(proof).map_err(|_| bad("malformed proof"))?;
    let mut attrs = without_proof.split(',');
    let channel_binding = attrs
        .next()
        .and_then(|a| a.strip_prefix("c="))
        .and_then(|c| B64.decode(c).ok())
        .ok_or_else(|| bad("malformed channel binding"))?;
    let nonce = attrs
        .next()
        .and_then(|a| a.strip_prefix("r="))
        .ok_or_else(|| bad("malformed nonce"))?;
    Ok(ClientFinal {
        channel_binding,
        nonce: nonce.to_string(),
        proof,
        without_proof: without_proof.to_string(),
    })
}

/// RFC 5802 `printable`: %x21-2B / %x2D-7E (no comma).
fn is_printable(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b',')
}

/// `saslname` → user name: `=2C` is `,`, `=3D` is `=`; any other `=` is malformed (`None`).
pub fn unescape_sasl_name(name: &str) -> Option<String> {
    if name.contains(',') {
        return None;
    }
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        let escape = rest.get(i..i + 3)?;
        match escape {
            "=2C" | "=2c" => out.push(','),
            "=3D" | "=3d" => out.push('='),
            _ => return None,
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Some(out)
}

/// User name → `saslname` (Kafka's `ScramFormatter.saslName`).
pub fn escape_sasl_name(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

#[cfg(test)]
#[path = "scram_tests.rs"]
mod tests;
