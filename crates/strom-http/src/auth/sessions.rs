//! Login sessions behind the `strom_session` cookie, kept server-side in memory (a restart
//! logs everyone out): a random 256-bit id → principal, CSRF token and expiry. The cookie
//! is `HttpOnly; SameSite=Strict; Path=/` (and `Secure` on a TLS listener). Writes
//! authenticated by the cookie also need the session's CSRF token in `X-CSRF-Token` and a
//! same-origin (or allowed) `Origin`/`Referer`, checked in the middleware.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use parking_lot::Mutex;
use rand::RngCore;
use strom_auth::Principal;
use subtle::ConstantTimeEq;

/// The cookie's name.
pub const COOKIE: &str = "strom_session";
/// The header carrying the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Sessions kept at most; a login beyond it first drops expired ones, then the oldest.
const MAX_SESSIONS: usize = 100_000;

#[derive(Debug, Clone)]
pub struct LoginSession {
    pub principal: Principal,
    pub csrf: String,
    pub expires: Instant,
}

impl LoginSession {
    /// Whether `presented` is this session's CSRF token (constant-time).
    pub fn csrf_matches(&self, presented: &str) -> bool {
        self.csrf.as_bytes().ct_eq(presented.as_bytes()).into()
    }
}

pub struct Sessions {
    ttl: Duration,
    by_id: Mutex<HashMap<String, LoginSession>>,
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

impl Sessions {
    pub fn new(ttl: Duration) -> Sessions {
        Sessions {
            ttl,
            by_id: Mutex::new(HashMap::new()),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Starts a session for `principal`; returns its id (the cookie value) and the session.
    pub fn create(&self, principal: Principal) -> (String, LoginSession) {
        let id = random_token();
        let session = LoginSession {
            principal,
            csrf: random_token(),
            expires: Instant::now() + self.ttl,
        };
        let mut map = self.by_id.lock();
        if map.len() >= MAX_SESSIONS {
            let now = Instant::now();
            map.retain(|_, s| s.expires > now);
            if map.len() >= MAX_SESSIONS {
                let oldest = map
                    .iter()
                    .min_by_key(|(_, s)| s.expires)
                    .map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    map.remove(&oldest);
                }
            }
        }
        map.insert(id.clone(), session.clone());
        (id, session)
    }

    /// The live session with this id; an expired one is removed.
    pub fn get(&self, id: &str) -> Option<LoginSession> {
        let mut map = self.by_id.lock();
        let session = map.get(id)?;
        if session.expires <= Instant::now() {
            map.remove(id);
            return None;
        }
        Some(session.clone())
    }

    /// Ends the session with this id (logout).
    pub fn remove(&self, id: &str) {
        self.by_id.lock().remove(id);
    }

    /// The `Set-Cookie` value that starts a session.
    pub fn set_cookie(&self, id: &str, secure: bool) -> String {
        let secure = if secure { "; Secure" } else { "" };
        format!(
            "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
            self.ttl.as_secs()
        )
    }
}

/// The `Set-Cookie` value that ends a session in the browser.
pub fn clear_cookie(secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}")
}

/// The session id in the request's `Cookie` headers.
pub fn cookie_value(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_string())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{header, HeaderMap, HeaderValue};

    #[test]
    fn sessions_expire_and_end_on_logout() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let (id, s) = sessions.create(Principal::user("alice"));
        assert_eq!(
            sessions.get(&id).map(|s| s.principal),
            Some(Principal::user("alice"))
        );
        assert!(s.csrf_matches(&s.csrf) && !s.csrf_matches("nope"));
        sessions.remove(&id);
        assert!(sessions.get(&id).is_none());
        let short = Sessions::new(Duration::ZERO);
        let (id, _) = short.create(Principal::user("bob"));
        assert!(short.get(&id).is_none(), "an expired session is gone");
        let cookie = sessions.set_cookie("abc", true);
        assert!(cookie.contains("HttpOnly; SameSite=Strict; Path=/") && cookie.ends_with("Secure"));
        assert!(!sessions.set_cookie("abc", false).contains("Secure"));
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; strom_session=xyz; b=2"),
        );
        assert_eq!(cookie_value(&h).as_deref(), Some("xyz"));
        h.insert(header::COOKIE, HeaderValue::from_static("strom_session="));
        assert_eq!(cookie_value(&h), None);
    }
}
