//! What a request presents and whether it is good: `Authorization: Basic` (the user store;
//! PBKDF2 runs on the blocking pool), `Authorization: Bearer` (an API key when it starts with
//! `strom_`, else a JWT for the token validator), `X-API-Key`, the mTLS client certificate
//! (hook), the session cookie, and on live routes `?access_token=` (a stream token). The
//! first credential found is the one used; a bad one is a failure, never a fall-through.

use std::sync::Arc;

use axum::http::{header, HeaderMap};
use base64::Engine;
use strom_auth::{Principal, Security, API_KEY_PREFIX_TEXT};

use super::sessions::{cookie_value, LoginSession};
use super::stream_token::StreamGrant;
use super::{AuthMethods, AuthState};
use crate::caller::ConnInfo;

/// How a request authenticated.
#[derive(Debug, Clone)]
pub enum Via {
    Basic,
    Bearer,
    ApiKey,
    Mtls,
    /// The session cookie; writes need the CSRF check.
    Cookie(LoginSession),
    /// A stream token, limited to live routes and maybe to one topic.
    StreamToken(StreamGrant),
}

impl Via {
    pub fn name(&self) -> &'static str {
        match self {
            Via::Basic => "basic",
            Via::Bearer => "bearer",
            Via::ApiKey => "api_key",
            Via::Mtls => "mtls",
            Via::Cookie(_) => "cookie",
            Via::StreamToken(_) => "stream_token",
        }
    }
}

/// Why credentials were refused (client-safe).
#[derive(Debug, Clone)]
pub struct Failure {
    /// `basic`, `bearer`, `api_key`, `cookie`, `stream_token`.
    pub method: &'static str,
    pub reason: String,
    /// The user name claimed (Basic), for the audit line.
    pub user: Option<String>,
}

fn fail(method: &'static str, reason: impl Into<String>) -> Failure {
    Failure {
        method,
        reason: reason.into(),
        user: None,
    }
}

/// A credential found in a request, not yet verified.
pub enum Presented {
    Basic { user: String, password: String },
    Bearer(String),
    ApiKey(String),
    Cookie(String),
    StreamToken(String),
}

impl Presented {
    pub fn method(&self) -> &'static str {
        match self {
            Presented::Basic { .. } => "basic",
            Presented::Bearer(_) => "bearer",
            Presented::ApiKey(_) => "api_key",
            Presented::Cookie(_) => "cookie",
            Presented::StreamToken(_) => "stream_token",
        }
    }
}

/// The credential a request presents, if any. Errors: a malformed or disabled one.
pub fn presented(
    headers: &HeaderMap,
    access_token: Option<String>,
    methods: &AuthMethods,
) -> Result<Option<Presented>, Failure> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| fail("basic", "malformed Authorization header"))?;
        let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
        let rest = rest.trim();
        if scheme.eq_ignore_ascii_case("basic") && methods.basic {
            return basic(rest).map(Some);
        }
        if scheme.eq_ignore_ascii_case("bearer") {
            if rest.starts_with(API_KEY_PREFIX_TEXT) && methods.api_key {
                return Ok(Some(Presented::ApiKey(rest.to_string())));
            }
            if methods.bearer {
                return Ok(Some(Presented::Bearer(rest.to_string())));
            }
        }
        return Err(fail("basic", "unsupported Authorization scheme"));
    }
    if let Some(key) = headers.get("x-api-key") {
        if !methods.api_key {
            return Err(fail("api_key", "API keys are not accepted here"));
        }
        let key = key
            .to_str()
            .map_err(|_| fail("api_key", "malformed X-API-Key"))?;
        return Ok(Some(Presented::ApiKey(key.trim().to_string())));
    }
    if let Some(token) = access_token {
        if !methods.stream_token {
            return Err(fail("stream_token", "stream tokens are not accepted"));
        }
        return Ok(Some(Presented::StreamToken(token)));
    }
    if methods.cookie {
        if let Some(id) = cookie_value(headers) {
            return Ok(Some(Presented::Cookie(id)));
        }
    }
    Ok(None)
}

fn basic(encoded: &str) -> Result<Presented, Failure> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| fail("basic", "malformed Basic credentials"))?;
    let text =
        String::from_utf8(decoded).map_err(|_| fail("basic", "malformed Basic credentials"))?;
    let (user, password) = text
        .split_once(':')
        .ok_or_else(|| fail("basic", "malformed Basic credentials"))?;
    Ok(Presented::Basic {
        user: user.to_string(),
        password: password.to_string(),
    })
}

/// The principal of the verified client certificate (mapped by `ssl_principal_mapping_rules`),
/// when the HTTPS connection has one: mTLS clients authenticate with no header at all.
pub fn mtls_principal(conn: Option<&ConnInfo>, methods: &AuthMethods) -> Option<Principal> {
    if !methods.mtls {
        return None;
    }
    conn?.tls_principal.clone()
}

/// Verifies a presented credential. Errors: the client-safe reason it was refused.
pub async fn verify(
    security: &Arc<Security>,
    auth: &AuthState,
    presented: Presented,
    now_ms: i64,
) -> Result<(Principal, Via), Failure> {
    match presented {
        Presented::Basic { user, password } => {
            let s = Arc::clone(security);
            let name = user.clone();
            let ok = tokio::task::spawn_blocking(move || s.users.verify_password(&name, &password))
                .await
                .unwrap_or(false);
            if ok {
                Ok((Principal::user(user), Via::Basic))
            } else {
                Err(Failure {
                    method: "basic",
                    reason: "invalid user name or password".into(),
                    user: Some(user),
                })
            }
        }
        Presented::Bearer(token) => match security.tokens.validate(&token) {
            Ok(valid) => Ok((valid.principal, Via::Bearer)),
            Err(err) => Err(fail("bearer", err.to_string())),
        },
        Presented::ApiKey(key) => security
            .api_keys
            .authenticate(&key)
            .map(|p| (p, Via::ApiKey))
            .ok_or_else(|| fail("api_key", "invalid API key")),
        Presented::Cookie(id) => auth
            .sessions
            .get(&id)
            .map(|s| (s.principal.clone(), Via::Cookie(s)))
            .ok_or_else(|| fail("cookie", "the login session has expired or ended")),
        Presented::StreamToken(token) => auth
            .stream_tokens
            .verify(&token, now_ms)
            .map(|g| (g.principal.clone(), Via::StreamToken(g)))
            .map_err(|reason| fail("stream_token", reason)),
    }
}
