//! TLS for Strom's listeners, shared by the Kafka and HTTP front ends so both speak it the
//! same way: [`TlsServer::new`] builds a rustls server config (ring provider, TLS 1.2 and
//! 1.3) from PEM bytes the binary has read, with `ssl_client_auth = none | requested |
//! required`; [`TlsServer::accept`] runs the handshake under a timeout inside the
//! connection's own task and returns the stream with the client certificate's principal
//! (mapped by [`strom_auth::SslPrincipalMapper`]). Reads no files and logs no key material:
//! errors name the part that is wrong (certificate, key, CA), never its bytes.
//! [`ReadAhead`] wraps the TCP stream under a TLS connection that receives large requests
//! (Kafka produce) so rustls is fed from large socket reads.

#![deny(clippy::unwrap_used)]

mod accept;
mod read_ahead;
mod server_config;

use std::sync::Arc;
use std::time::Duration;

use strom_auth::SslPrincipalMapper;

pub use accept::AcceptError;
pub use read_ahead::{ExpectedBytes, ReadAhead};
pub use server_config::TlsConfigError;
pub use tokio_rustls::server::TlsStream;

/// Kafka's `ssl.client.auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// No client certificate is asked for.
    #[default]
    None,
    /// A certificate is asked for and verified if sent; clients without one are anonymous.
    Requested,
    /// Clients without a certificate the CA signed are refused in the handshake.
    Required,
}

impl ClientAuth {
    /// From Kafka's value (`none`, `requested`, `required`), case-insensitive.
    pub fn parse(s: &str) -> Option<ClientAuth> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Some(ClientAuth::None),
            "requested" => Some(ClientAuth::Requested),
            "required" => Some(ClientAuth::Required),
            _ => None,
        }
    }
}

/// What a listener needs to build its TLS config: PEM text, never paths.
#[derive(Clone, Default)]
pub struct TlsPem {
    /// The server's certificate chain, leaf first.
    pub cert_chain: Vec<u8>,
    /// The server's private key (PKCS#8, PKCS#1 or SEC1).
    pub key: Vec<u8>,
    /// CAs that sign client certificates; needed unless `client_auth` is `None`.
    pub ca: Option<Vec<u8>>,
    pub client_auth: ClientAuth,
}

/// How long a client has to complete the TLS handshake.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A listener's TLS: the acceptor, how client certificates become principals, and the
/// handshake timeout.
#[derive(Clone)]
pub struct TlsServer {
    acceptor: tokio_rustls::TlsAcceptor,
    mapper: Arc<SslPrincipalMapper>,
    client_auth: ClientAuth,
    handshake_timeout: Duration,
}

impl std::fmt::Debug for TlsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsServer")
            .field("client_auth", &self.client_auth)
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

impl TlsServer {
    /// Builds the server side of TLS. `alpn` lists the protocols offered, most preferred
    /// first (HTTP: `h2`, `http/1.1`; Kafka: none).
    /// Errors: [`TlsConfigError`] naming the certificate, key or CA that is unusable.
    pub fn new(
        pem: &TlsPem,
        mapper: SslPrincipalMapper,
        alpn: &[&[u8]],
    ) -> Result<TlsServer, TlsConfigError> {
        let mut config = server_config::build(pem)?;
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Ok(TlsServer {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            mapper: Arc::new(mapper),
            client_auth: pem.client_auth,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        })
    }

    /// The same server with another handshake timeout.
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> TlsServer {
        self.handshake_timeout = timeout;
        self
    }

    pub fn client_auth(&self) -> ClientAuth {
        self.client_auth
    }
}

#[cfg(test)]
mod tests;
