//! SASL on a Kafka connection (KIP-43, KIP-152, KIP-368): the per-connection authentication
//! state, SaslHandshake and SaslAuthenticate, and the raw tokens that follow a v0 handshake
//! (no Kafka header, as kafka-python 2.0 sends them). The mechanisms themselves are
//! `strom_auth::sasl`; this module only frames them.
//!
//! Rules, as Kafka's `SaslServerAuthenticator`:
//! - on a SASL listener, until authenticated only ApiVersions, SaslHandshake and
//!   SaslAuthenticate are served; anything else closes the connection;
//! - authentication must finish within `authentication_timeout` of the connection opening
//!   (or of a re-authentication's handshake);
//! - an unknown mechanism is answered with 33 and the enabled list, a failure with 58 and a
//!   message, and the connection is closed after either;
//! - a session with a lifetime (`connections_max_reauth_ms`, a token's expiry) ends then: a
//!   request other than SaslHandshake/SaslAuthenticate after that closes the connection,
//!   and re-authentication must keep the same mechanism and principal.
//!
//! Must not: look at the broker, or decide anything a mechanism decides.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, RequestKind, ResponseKind, SaslAuthenticateRequest, SaslAuthenticateResponse,
    SaslHandshakeRequest, SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use strom_auth::sasl::{audit_failure, Authenticated, Mechanism, SaslError, SaslServer, Step};
use strom_auth::Session;

use crate::codec::{encode_response, DecodedRequest, RequestBody};
use crate::handlers::Context;

/// What the connection does with a request, decided before it is handled.
pub(crate) enum Admission {
    /// An ordinary request of an authenticated (or non-SASL) connection.
    Serve,
    /// SaslHandshake or SaslAuthenticate: [`ConnAuth::handle`] answers it.
    Sasl,
    /// Not allowed now: close the connection (already logged).
    Close,
}

/// A response to write, and whether to close the connection after writing it.
pub(crate) struct Reply {
    pub bytes: BytesMut,
    pub close: bool,
}

pub(crate) struct ConnAuth {
    /// The connection's session; SASL replaces its principal.
    pub session: Session,
    sasl_listener: bool,
    tls: bool,
    /// The mechanism that authenticated the session, once it is authenticated.
    authenticated: Option<Mechanism>,
    /// An exchange in progress: its mechanism and whether tokens come raw (v0 handshake).
    exchange: Option<(Mechanism, bool, SaslServer)>,
    /// The mechanism of the last handshake.
    mechanism: Option<Mechanism>,
    /// When the session ends (KIP-368).
    expires_at: Option<Instant>,
    /// When the authentication in progress (or the first one) must have finished.
    deadline: Option<Instant>,
    /// The exchange in progress was already audited and counted as failed (a refused
    /// OAUTHBEARER token); its final error is not counted again.
    failure_reported: bool,
}

impl ConnAuth {
    pub(crate) fn new(ctx: &Context, session: Session) -> ConnAuth {
        let sasl_listener = ctx.config.protocol.is_sasl();
        let timeout = ctx.config.security.config().sasl.authentication_timeout;
        ConnAuth {
            session,
            sasl_listener,
            tls: ctx.config.protocol.is_tls(),
            authenticated: None,
            exchange: None,
            mechanism: None,
            expires_at: None,
            deadline: sasl_listener.then(|| Instant::now() + timeout),
            failure_reported: false,
        }
    }

    /// When reading must give up because authentication did not finish in time.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Whether the next frame is a raw SASL token (after a v0 handshake), not a request.
    pub(crate) fn expects_raw_token(&self) -> bool {
        matches!(self.exchange, Some((_, true, _)))
    }

    /// Whether `request` may be served now (see the module doc).
    pub(crate) fn admit(&self, request: &DecodedRequest) -> Admission {
        let api = request.api_key;
        if matches!(api, ApiKey::SaslHandshake | ApiKey::SaslAuthenticate) {
            return Admission::Sasl;
        }
        if !self.sasl_listener {
            return Admission::Serve;
        }
        let peer = self.session.peer;
        if self.authenticated.is_none() || self.exchange.is_some() {
            if api == ApiKey::ApiVersions && self.authenticated.is_none() {
                return Admission::Serve;
            }
            tracing::warn!(%peer, listener = %self.session.listener,
                "closing Kafka connection: Unexpected Kafka request of type {api:?} during SASL handshake");
            return Admission::Close;
        }
        if self.expires_at.is_some_and(|at| at <= Instant::now()) {
            tracing::info!(%peer, principal = %self.session.principal, ?api,
                "closing Kafka connection: SASL session expired and the client did not re-authenticate");
            return Admission::Close;
        }
        Admission::Serve
    }

    /// Answers a SaslHandshake or SaslAuthenticate request.
    /// Errors: the response cannot be encoded (a bug); the connection is closed.
    pub(crate) async fn handle(
        &mut self,
        ctx: &Arc<Context>,
        request: DecodedRequest,
    ) -> anyhow::Result<Reply> {
        let correlation_id = request.header.correlation_id;
        let version = request.header.request_api_version;
        let RequestBody::Request(kind) = request.body else {
            anyhow::bail!("SASL request without a body");
        };
        let (response, close) = match *kind {
            RequestKind::SaslHandshake(req) => {
                let (r, close) = self.handshake(ctx, version, req);
                (ResponseKind::SaslHandshake(r), close)
            }
            RequestKind::SaslAuthenticate(req) => {
                let (r, close) = self.authenticate(ctx, version, req).await;
                (ResponseKind::SaslAuthenticate(r), close)
            }
            other => anyhow::bail!("not a SASL request: {other:?}"),
        };
        let bytes = encode_response(request.api_key, version, correlation_id, &response)?;
        Ok(Reply { bytes, close })
    }

    fn handshake(
        &mut self,
        ctx: &Context,
        version: i16,
        request: SaslHandshakeRequest,
    ) -> (SaslHandshakeResponse, bool) {
        let sasl = &ctx.config.security.config().sasl;
        let offered = sasl.offered(self.tls);
        let names = offered
            .iter()
            .map(|m| StrBytes::from_static_str(m.name()))
            .collect::<Vec<_>>();
        let response = SaslHandshakeResponse::default().with_mechanisms(names);
        let reauth_allowed = self.authenticated.is_some() && self.expires_at.is_some();
        if !self.sasl_listener
            || self.exchange.is_some()
            || (self.authenticated.is_some() && !reauth_allowed)
        {
            tracing::warn!(peer = %self.session.peer, "SaslHandshake in an illegal state; closing");
            return (illegal(response), true);
        }
        let wanted = Mechanism::parse(request.mechanism.as_str())
            .filter(|m| offered.contains(m))
            .filter(|m| self.authenticated.is_none_or(|prev| prev == *m));
        let Some(mechanism) = wanted else {
            tracing::info!(peer = %self.session.peer, mechanism = %request.mechanism.as_str(),
                "SASL mechanism not enabled on this listener; closing");
            let code = ResponseError::UnsupportedSaslMechanism.code();
            return (response.with_error_code(code), true);
        };
        let server = SaslServer::new(mechanism, Arc::clone(&ctx.config.security));
        self.exchange = Some((mechanism, version == 0, server));
        self.mechanism = Some(mechanism);
        if self.authenticated.is_some() {
            self.deadline = Some(Instant::now() + sasl.authentication_timeout);
        }
        (response, false)
    }

    async fn authenticate(
        &mut self,
        ctx: &Context,
        version: i16,
        request: SaslAuthenticateRequest,
    ) -> (SaslAuthenticateResponse, bool) {
        let response = SaslAuthenticateResponse::default();
        if !matches!(self.exchange, Some((_, false, _))) {
            tracing::warn!(peer = %self.session.peer, "SaslAuthenticate without a v1 handshake; closing");
            let code = ResponseError::IllegalSaslState.code();
            return (response.with_error_code(code), true);
        }
        match self.step(ctx, request.auth_bytes).await {
            Ok(Step::Continue(challenge)) => (response.with_auth_bytes(challenge.into()), false),
            Ok(Step::Done(done)) => match self.complete(ctx, done) {
                Ok((challenge, lifetime)) => {
                    let mut r = response.with_auth_bytes(challenge.into());
                    if version >= 1 {
                        r = r.with_session_lifetime_ms(lifetime);
                    }
                    (r, false)
                }
                Err(err) => (failed(response, &err), true),
            },
            Err(err) => (failed(response, &err), true),
        }
    }

    /// Answers a raw token (after a v0 handshake): the challenge as a length-prefixed frame,
    /// or `None` when the exchange failed and the connection must close (Kafka's v0 has no
    /// way to carry an error).
    pub(crate) async fn raw_token(&mut self, ctx: &Context, token: Bytes) -> Option<BytesMut> {
        let challenge = match self.step(ctx, token).await {
            Ok(Step::Continue(challenge)) => challenge,
            Ok(Step::Done(done)) => self.complete(ctx, done).ok()?.0,
            Err(_) => return None,
        };
        let mut out = BytesMut::with_capacity(4 + challenge.len());
        out.put_u32(u32::try_from(challenge.len()).ok()?);
        out.put_slice(&challenge);
        Some(out)
    }

    /// One step of the exchange in progress, off the async workers (PLAIN runs a PBKDF2).
    /// Failures are audited, counted against the client's IP, and end the exchange.
    async fn step(&mut self, ctx: &Context, token: Bytes) -> Result<Step, SaslError> {
        let Some((mechanism, raw, mut server)) = self.exchange.take() else {
            return Err(sasl_error("no SASL exchange in progress"));
        };
        let security = Arc::clone(&ctx.config.security);
        let ip = self.session.peer.ip();
        let result = if security.auth_failures.is_throttled(ip) {
            Err(sasl_error(
                "Authentication failed: too many failed authentications from this address; \
                 try again later",
            ))
        } else {
            let stepped = tokio::task::spawn_blocking(move || {
                let r = server.step(&token);
                (server, r)
            })
            .await;
            match stepped {
                Ok((server, Ok(Step::Continue(c)))) => {
                    if let Some(err) = server.pending_failure() {
                        security.auth_failures.record_failure(ip);
                        audit_failure(&self.session, mechanism.name(), &err);
                        self.failure_reported = true;
                    }
                    self.exchange = Some((mechanism, raw, server));
                    return Ok(Step::Continue(c));
                }
                Ok((_, result)) => result,
                Err(_) => Err(sasl_error("Authentication failed: internal error")),
            }
        };
        let reported = std::mem::take(&mut self.failure_reported);
        if let (Err(err), false) = (&result, reported) {
            security.auth_failures.record_failure(ip);
            audit_failure(&self.session, mechanism.name(), err);
        }
        self.exchange = None;
        result
    }

    /// Makes a completed exchange the connection's session: the principal, its lifetime.
    /// Returns the final challenge and the session lifetime in ms (0: unlimited).
    /// Errors: a re-authentication changed the principal.
    fn complete(
        &mut self,
        ctx: &Context,
        done: Authenticated,
    ) -> Result<(Vec<u8>, i64), SaslError> {
        let mechanism = self.mechanism;
        let reauth = self.authenticated.is_some();
        if reauth && done.principal != self.session.principal {
            let err = SaslError {
                message: format!(
                    "Cannot change principals during re-authentication from {} to {}",
                    self.session.principal, done.principal
                ),
                user: Some(done.principal.name().to_string()),
            };
            audit_failure(&self.session, mechanism.map_or("", |m| m.name()), &err);
            return Err(err);
        }
        let lifetime = session_lifetime_ms(ctx, done.expires_at_ms);
        self.expires_at =
            (lifetime > 0).then(|| Instant::now() + Duration::from_millis(lifetime as u64));
        self.deadline = None;
        self.authenticated = self.authenticated.or(mechanism);
        self.session.principal = done.principal;
        tracing::info!(peer = %self.session.peer, listener = %self.session.listener,
            principal = %self.session.principal, reauth, session_lifetime_ms = lifetime,
            "SASL authentication succeeded");
        Ok((done.challenge, lifetime))
    }
}

/// KIP-368: `min(connections_max_reauth_ms, the credential's remaining lifetime)`, 0 when
/// neither applies.
fn session_lifetime_ms(ctx: &Context, expires_at_ms: Option<i64>) -> i64 {
    let max_reauth = ctx.config.security.config().sasl.max_reauth_ms;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let token_left = expires_at_ms.map(|at| (at - now_ms).max(1));
    let configured = max_reauth.map(|ms| i64::try_from(ms).unwrap_or(i64::MAX));
    match (configured, token_left) {
        (Some(a), Some(b)) => a.min(b),
        (Some(a), None) => a,
        (None, Some(b)) => b,
        (None, None) => 0,
    }
}

fn sasl_error(message: &str) -> SaslError {
    SaslError {
        message: message.to_string(),
        user: None,
    }
}

fn failed(response: SaslAuthenticateResponse, err: &SaslError) -> SaslAuthenticateResponse {
    response
        .with_error_code(ResponseError::SaslAuthenticationFailed.code())
        .with_error_message(Some(StrBytes::from_string(err.message.clone())))
}

fn illegal(response: SaslHandshakeResponse) -> SaslHandshakeResponse {
    response.with_error_code(ResponseError::IllegalSaslState.code())
}
