//! The server side of one TLS handshake, run inside the connection's task under the
//! handshake timeout, and the principal its client certificate maps to.

use strom_auth::{Principal, SslPrincipalError};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::server::TlsStream;

use crate::TlsServer;

/// Why a TLS connection was not established. Front ends log it and close the connection;
/// no detail is sent to the client beyond TLS's own alert.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    #[error("TLS handshake not completed within {0:?}")]
    Timeout(std::time::Duration),
    /// Not TLS (a plaintext client, garbage), a bad certificate, or no common version.
    #[error("TLS handshake failed: {0}")]
    Handshake(std::io::Error),
    /// The client closed the connection before finishing the handshake.
    #[error("client closed the connection during the TLS handshake")]
    Closed,
    /// The verified client certificate does not yield a principal.
    #[error("client certificate refused: {0}")]
    Principal(SslPrincipalError),
}

impl AcceptError {
    /// Whether this is a client just going away (worth a debug line, not a warning).
    pub fn is_disconnect(&self) -> bool {
        matches!(self, AcceptError::Closed)
    }
}

impl TlsServer {
    /// Runs the handshake on `stream`. Returns the TLS stream and the principal of the
    /// client's certificate (`None` when it sent none, allowed unless `client_auth =
    /// required`). Errors: [`AcceptError`]; the stream is dropped (closed) with it.
    pub async fn accept<S>(
        &self,
        stream: S,
    ) -> Result<(TlsStream<S>, Option<Principal>), AcceptError>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let handshake = self.acceptor.accept(stream);
        let tls = match tokio::time::timeout(self.handshake_timeout, handshake).await {
            Err(_) => return Err(AcceptError::Timeout(self.handshake_timeout)),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(AcceptError::Closed)
            }
            Ok(Err(e)) => return Err(AcceptError::Handshake(e)),
            Ok(Ok(tls)) => tls,
        };
        let leaf = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| chain.first());
        let principal = match leaf {
            None => None,
            Some(cert) => Some(
                self.mapper
                    .principal(cert.as_ref())
                    .map_err(AcceptError::Principal)?,
            ),
        };
        Ok((tls, principal))
    }
}
