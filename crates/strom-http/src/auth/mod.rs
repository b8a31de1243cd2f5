//! HTTP authentication: who sent a request. One route middleware ([`middleware::guard`])
//! resolves a [`strom_auth::Session`] from the request's credentials, refuses bad ones (401,
//! 429 after repeated failures from one address), checks CSRF on cookie-authenticated
//! writes, asks [`crate::authz`] whether the session may use the route, and leaves the
//! session in the request's extensions for [`crate::caller::Caller`].
//!
//! Layout: [`credentials`] reads and verifies what a request presents (Basic, Bearer JWT, API
//! key, session cookie, stream token, and the mTLS hook); [`sessions`] keeps cookie sessions
//! server-side; [`stream_token`] signs and checks the short-lived tokens for EventSource and
//! WebSocket; [`limiter`] counts failures per client address; [`endpoints`] serves
//! `/v1/login`, `/v1/logout`, `/v1/whoami`, `/v1/api-keys` and `/v1/stream-tokens`.
//! Rule: no credential (password, key, token, cookie) is ever logged or echoed to a client.

pub mod credentials;
pub mod endpoints;
pub mod limiter;
pub mod middleware;
pub mod sessions;
pub mod stream_token;

use std::time::Duration;

/// Whether requests must authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// Credentials are ignored; every request is `User:ANONYMOUS`.
    None,
    /// Credentials are used when sent (bad ones are refused); without any the request is
    /// `User:ANONYMOUS`.
    Optional,
    /// Every route but the open ones (`/healthz`, `/readyz`, `/v1/login`...) needs credentials.
    Required,
}

impl AuthMode {
    /// Errors: `None` for anything but `none`, `optional`, `required`.
    pub fn parse(s: &str) -> Option<AuthMode> {
        match s {
            "none" => Some(AuthMode::None),
            "optional" => Some(AuthMode::Optional),
            "required" => Some(AuthMode::Required),
            _ => None,
        }
    }
}

/// Which ways of authenticating are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthMethods {
    pub basic: bool,
    pub bearer: bool,
    pub api_key: bool,
    pub cookie: bool,
    pub stream_token: bool,
    pub mtls: bool,
}

impl AuthMethods {
    pub const NAMES: [&'static str; 6] = [
        "basic",
        "bearer",
        "api_key",
        "cookie",
        "stream_token",
        "mtls",
    ];

    pub const ALL: AuthMethods = AuthMethods {
        basic: true,
        bearer: true,
        api_key: true,
        cookie: true,
        stream_token: true,
        mtls: true,
    };

    /// From a list of names. Errors: the first unknown name.
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<AuthMethods, String> {
        let mut m = AuthMethods {
            basic: false,
            bearer: false,
            api_key: false,
            cookie: false,
            stream_token: false,
            mtls: false,
        };
        for name in names {
            match name {
                "basic" => m.basic = true,
                "bearer" => m.bearer = true,
                "api_key" => m.api_key = true,
                "cookie" => m.cookie = true,
                "stream_token" => m.stream_token = true,
                "mtls" => m.mtls = true,
                other => return Err(other.to_string()),
            }
        }
        Ok(m)
    }
}

/// Authentication, authorization and CORS settings of the HTTP listener.
#[derive(Debug, Clone)]
pub struct HttpAuthConfig {
    pub mode: AuthMode,
    pub methods: AuthMethods,
    /// Lifetime of a login session (cookie), from login.
    pub session_ttl: Duration,
    /// Longest lifetime of a stream token.
    pub stream_token_ttl: Duration,
    /// Failed authentications allowed per client address and minute; then 429.
    pub failures_per_minute: u32,
    /// Origins allowed to call cross-origin (`https://app.example.com`); empty: none.
    pub cors_allowed_origins: Vec<String>,
    /// `/metrics` needs Describe on the cluster.
    pub metrics_require_auth: bool,
    /// `console_read_only`: cookie sessions (the console's login) may not change anything;
    /// every unsafe method but login and logout is refused with 403.
    pub console_read_only: bool,
    /// The listener serves TLS: cookies get `Secure`. (Set by the TLS listener.)
    pub tls: bool,
    /// The listener is bound to a loopback address (set when it binds): cookie login
    /// without TLS is allowed only then.
    pub loopback: bool,
}

/// Default [`HttpAuthConfig::session_ttl`]: 8 hours.
pub const DEFAULT_SESSION_TTL: Duration = Duration::from_secs(8 * 3600);
/// Default [`HttpAuthConfig::stream_token_ttl`]: 5 minutes.
pub const DEFAULT_STREAM_TOKEN_TTL: Duration = Duration::from_secs(300);
/// Default [`HttpAuthConfig::failures_per_minute`].
pub const DEFAULT_FAILURES_PER_MINUTE: u32 = 20;

impl Default for HttpAuthConfig {
    fn default() -> Self {
        HttpAuthConfig {
            mode: AuthMode::Optional,
            methods: AuthMethods::ALL,
            session_ttl: DEFAULT_SESSION_TTL,
            stream_token_ttl: DEFAULT_STREAM_TOKEN_TTL,
            failures_per_minute: DEFAULT_FAILURES_PER_MINUTE,
            cors_allowed_origins: Vec::new(),
            metrics_require_auth: false,
            console_read_only: false,
            tls: false,
            loopback: false,
        }
    }
}

/// Authentication state shared by the requests of one HTTP server.
pub struct AuthState {
    pub sessions: sessions::Sessions,
    pub stream_tokens: stream_token::Signer,
    pub failures: limiter::FailureLimiter,
}

impl AuthState {
    pub fn new(config: &HttpAuthConfig) -> AuthState {
        AuthState {
            sessions: sessions::Sessions::new(config.session_ttl),
            stream_tokens: stream_token::Signer::random(),
            failures: limiter::FailureLimiter::new(config.failures_per_minute),
        }
    }
}

#[cfg(test)]
mod tests;
