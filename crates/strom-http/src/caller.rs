//! Who is calling: [`ConnInfo`] is attached by the server to every request of a connection
//! (the client's address, and later what TLS learnt about it); [`Caller`] is the extractor
//! handlers use to get the request's [`Session`] for authorization. Authentication
//! middleware puts the authenticated `Session` into the request's extensions; without one
//! the caller is `User:ANONYMOUS` from the connection's address.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use strom_auth::Session;

/// Per-connection facts, inserted into every request's extensions by the server.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub peer: SocketAddr,
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
        let peer = parts
            .extensions
            .get::<ConnInfo>()
            .map(|c| c.peer)
            // Requests built in tests without a server have no connection.
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        Ok(Caller(Session::anonymous(peer, Arc::from(HTTP_LISTENER))))
    }
}
