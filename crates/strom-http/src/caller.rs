//! Who is calling: [`ConnInfo`] is attached by the server to every request of a connection
//! (the client's address, and the principal of its TLS client certificate); [`Caller`] is the extractor
//! handlers use to get the request's [`Session`] for authorization. Authentication
//! middleware puts the authenticated `Session` into the request's extensions; without one
//! the caller is `User:ANONYMOUS` from the connection's address.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use strom_auth::{Principal, Session};

/// Per-connection facts, inserted into every request's extensions by the server.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub peer: SocketAddr,
    /// `User:<mapped subject DN>` of a verified TLS client certificate (mTLS), if any.
    pub tls_principal: Option<Principal>,
}

/// The name HTTP sessions carry as their listener in audit lines.
pub const HTTP_LISTENER: &str = "http";

/// The session of the request being handled.
#[derive(Debug, Clone)]
pub struct Caller(pub Session);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(session) = parts.extensions.get::<Session>() {
            return Ok(Caller(session.clone()));
        }
        let conn = parts.extensions.get::<ConnInfo>();
        let peer = conn
            .map(|c| c.peer)
            // Requests built in tests without a server have no connection.
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let mut session = Session::anonymous(peer, Arc::from(HTTP_LISTENER));
        // A verified client certificate authenticates every request of its connection.
        if let Some(principal) = conn.and_then(|c| c.tls_principal.clone()) {
            session.principal = principal;
        }
        Ok(Caller(session))
    }
}
