//! SASL mechanisms on the server side, pure state machines with no sockets: a front end
//! feeds each client token to [`SaslServer::step`] and sends back what it returns.
//!
//! Layout: `plain.rs` (RFC 4616), `scram.rs` (RFC 5802/7677 as Kafka's `ScramSaslServer`),
//! `oauthbearer.rs` (RFC 7628 over [`crate::TokenValidator`]), `throttle.rs` (per-IP limit on
//! failed authentications). Every failure message is safe to send to the client: it never
//! says whether a user exists and never echoes a secret.

mod oauthbearer;
mod plain;
mod scram;
#[cfg(test)]
mod scram_client;
mod throttle;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::{Principal, ScramMechanism, Security};

pub use scram::{escape_sasl_name, unescape_sasl_name};
pub use throttle::FailureThrottle;

/// The message Kafka's SCRAM and PLAIN servers give for any wrong user or password.
pub const INVALID_CREDENTIALS: &str = "Authentication failed: Invalid user credentials";

/// A SASL mechanism the server can offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mechanism {
    Plain,
    Scram(ScramMechanism),
    OAuthBearer,
}

impl Mechanism {
    pub const ALL: [Mechanism; 4] = [
        Mechanism::Scram(ScramMechanism::Sha256),
        Mechanism::Scram(ScramMechanism::Sha512),
        Mechanism::Plain,
        Mechanism::OAuthBearer,
    ];

    /// The IANA name (`SCRAM-SHA-256`).
    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Scram(m) => m.name(),
            Mechanism::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// From the IANA name; SASL names are case-sensitive (Kafka compares them exactly).
    pub fn parse(name: &str) -> Option<Mechanism> {
        Mechanism::ALL.into_iter().find(|m| m.name() == name)
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// SASL settings shared by every SASL listener.
#[derive(Debug, Clone)]
pub struct SaslConfig {
    /// Mechanisms offered, in this order.
    pub mechanisms: Vec<Mechanism>,
    /// Whether PLAIN (the password in clear) is offered on listeners without TLS.
    pub plain_allow_plaintext: bool,
    /// KIP-368 `connections.max.reauth.ms`: a session lasts at most this long before the
    /// client must re-authenticate on the same connection; `None` (the default): forever.
    pub max_reauth_ms: Option<u64>,
    /// Failed authentications allowed per client IP and second before further attempts
    /// from that IP are refused outright.
    pub max_failures_per_ip_per_sec: u32,
    /// How long a client has to complete authentication (from connecting, or from a
    /// re-authentication's handshake) before the connection is closed.
    pub authentication_timeout: Duration,
}

impl Default for SaslConfig {
    fn default() -> Self {
        SaslConfig {
            mechanisms: Mechanism::ALL.to_vec(),
            plain_allow_plaintext: false,
            max_reauth_ms: None,
            max_failures_per_ip_per_sec: 10,
            authentication_timeout: Duration::from_secs(30),
        }
    }
}

impl SaslConfig {
    /// The mechanisms offered on a listener (PLAIN only with TLS unless allowed).
    pub fn offered(&self, tls: bool) -> Vec<Mechanism> {
        self.mechanisms
            .iter()
            .copied()
            .filter(|m| *m != Mechanism::Plain || tls || self.plain_allow_plaintext)
            .collect()
    }
}

/// A failed authentication. `message` is safe for the client; `user` is the name the client
/// tried (for the audit line), when it got far enough to send one.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SaslError {
    pub message: String,
    pub user: Option<String>,
}

impl SaslError {
    fn new(message: impl Into<String>, user: Option<&str>) -> SaslError {
        SaslError {
            message: message.into(),
            user: user.map(str::to_string),
        }
    }
}

/// What a step produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send this challenge; the exchange goes on.
    Continue(Vec<u8>),
    /// Authenticated: send `challenge` (possibly empty) with success.
    Done(Authenticated),
}

/// The outcome of a completed exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    pub principal: Principal,
    /// Final server message (SCRAM's `v=...`), empty for PLAIN and OAUTHBEARER.
    pub challenge: Vec<u8>,
    /// When the credential itself expires (an OAUTHBEARER token), in ms since the epoch.
    pub expires_at_ms: Option<i64>,
}

/// One authentication exchange of one mechanism.
pub struct SaslServer {
    security: Arc<Security>,
    state: State,
}

enum State {
    Plain,
    Scram(scram::ScramServer),
    OAuth(oauthbearer::OAuthServer),
}

impl SaslServer {
    /// Starts an exchange of `mechanism` against `security`'s users and token validator.
    pub fn new(mechanism: Mechanism, security: Arc<Security>) -> SaslServer {
        let state = match mechanism {
            Mechanism::Plain => State::Plain,
            Mechanism::Scram(m) => State::Scram(scram::ScramServer::new(m)),
            Mechanism::OAuthBearer => State::OAuth(oauthbearer::OAuthServer::default()),
        };
        SaslServer { security, state }
    }

    /// The failure an exchange is bound for although it goes on: OAUTHBEARER refused the
    /// token and sent its error challenge, and only waits for the client's `%x01`. Callers
    /// audit and count it at once, since a client may hang up instead of acknowledging.
    pub fn pending_failure(&self) -> Option<SaslError> {
        match &self.state {
            State::OAuth(s) => s.pending_failure().map(|m| SaslError::new(m, None)),
            _ => None,
        }
    }

    /// Feeds the client's next token. Blocking: PLAIN derives a PBKDF2 key.
    /// Errors: [`SaslError`] when authentication failed; the exchange is over then.
    pub fn step(&mut self, token: &[u8]) -> Result<Step, SaslError> {
        let security = &self.security;
        match &mut self.state {
            State::Plain => plain::authenticate(&security.users, token).map(Step::Done),
            State::Scram(s) => s.step(&security.users, token),
            State::OAuth(s) => s.step(&security.tokens, token),
        }
    }
}

/// Writes the audit line of a failed authentication (target `strom::audit`).
pub fn audit_failure(session: &crate::Session, mechanism: &str, err: &SaslError) {
    tracing::warn!(
        target: "strom::audit",
        principal = err.user.as_deref().unwrap_or(""),
        client = %session.peer.ip(),
        listener = %session.listener,
        mechanism,
        reason = %err.message,
        "authentication failed"
    );
}
