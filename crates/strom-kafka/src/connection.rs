//! One client connection: read a frame, decode, handle, write the response, repeat.
//!
//! Requests are handled strictly in arrival order, one at a time, exactly like a Kafka broker
//! (which stops reading a connection until its current response is sent). Clients pipeline
//! several requests, but they rely on responses coming back in request order, and an
//! idempotent producer relies on its batches being appended in the order sent; handling
//! pipelined requests concurrently would break both. Pipelined frames simply wait in the
//! socket buffer. A long-polling Fetch therefore delays later requests of the same connection,
//! as it does with Kafka; clients use separate connections where that matters.
//!
//! A client over its quota gets its response at once and the connection then stops reading
//! for the throttle delay the handler returned (KIP-219; see `handlers/throttle.rs`).
//!
//! Frames are read by [`crate::frame`]: a client silent for `connections_max_idle` is closed,
//! and a request's bytes are reserved from the listener's [`RequestBudget`] until its response
//! is written.
//!
//! On a TLS listener ([`KafkaConfig::tls`](crate::KafkaConfig)) [`accept`] runs the handshake
//! here, in the connection's own task under a timeout, so a slow, plaintext or garbage client
//! costs only its own task; a client certificate becomes the session's principal.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use strom_auth::Session;
use strom_broker::ListenerStats;
use strom_tls::{ExpectedBytes, ReadAhead};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::codec::decode_request;
use crate::frame::{read_frame, FrameError, FrameLimits, RequestBudget};
use crate::handlers::{self, Context};
use crate::sasl::{Admission, ConnAuth};
use crate::server::shutdown_signal;

/// Read buffer per plaintext connection: several small pipelined requests arrive in one read.
/// A TLS connection has none above rustls: rustls already holds the plaintext of the record
/// it decrypted and serves small reads from it, so a buffer here would only copy those bytes
/// once more. Below rustls, [`ReadAhead`] batches the socket reads of large requests.
const READ_BUFFER: usize = 64 * 1024;

/// Serves one accepted connection: TLS first on a TLS listener, then the request loop.
pub async fn accept(
    stream: TcpStream,
    peer: SocketAddr,
    ctx: Arc<Context>,
    budget: RequestBudget,
    stats: &ListenerStats,
) {
    // Responses are written whole, so Nagle would only add latency.
    if let Err(err) = stream.set_nodelay(true) {
        tracing::debug!(%peer, error = %err, "cannot set TCP_NODELAY");
    }
    let listener = Arc::clone(&ctx.config.listener_name);
    let Some(tls) = ctx.config.tls.clone() else {
        let session = Session::anonymous(peer, listener);
        return serve(stream, None, session, ctx, budget, stats).await;
    };
    let expected = ExpectedBytes::default();
    match tls.accept(ReadAhead::new(stream, expected.clone())).await {
        Ok((stream, principal)) => {
            let mut session = Session::anonymous(peer, listener);
            if let Some(principal) = principal {
                session.principal = principal;
            }
            tracing::debug!(%peer, listener = %session.listener, principal = %session.principal,
                "Kafka TLS connection established");
            serve(stream, Some(expected), session, ctx, budget, stats).await
        }
        Err(err) if err.is_disconnect() => {
            tracing::debug!(%peer, listener = %listener, error = %err, "Kafka TLS connection closed")
        }
        Err(err) => {
            tracing::warn!(%peer, listener = %listener, error = %err, "closing Kafka connection")
        }
    }
}

/// The request loop over an established (plain or TLS) stream, as `session`, reading through
/// a [`READ_BUFFER`] on plain TCP (`expected` is `None`), or straight from the TLS stream,
/// telling its [`ReadAhead`] through `expected` how much of a request is still to come.
async fn serve<S>(
    stream: S,
    expected: Option<ExpectedBytes>,
    session: Session,
    ctx: Arc<Context>,
    budget: RequestBudget,
    stats: &ListenerStats,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send,
{
    let (read_half, write_half) = tokio::io::split(stream);
    match expected {
        None => {
            let reader = BufReader::with_capacity(READ_BUFFER, read_half);
            serve_requests(reader, write_half, None, session, ctx, budget, stats).await
        }
        Some(expected) => {
            serve_requests(
                read_half,
                write_half,
                Some(expected),
                session,
                ctx,
                budget,
                stats,
            )
            .await
        }
    }
}

/// Reads, handles and answers requests until the client goes, the connection fails or the
/// server shuts down.
async fn serve_requests<R, W>(
    mut reader: R,
    mut write_half: W,
    expected: Option<ExpectedBytes>,
    session: Session,
    ctx: Arc<Context>,
    budget: RequestBudget,
    stats: &ListenerStats,
) where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send,
{
    let peer = session.peer;
    let mut shutdown = ctx.shutdown.clone();
    let limits = FrameLimits {
        max_bytes: ctx.config.max_frame_bytes,
        idle: ctx.config.connections_max_idle,
    };
    // Who the client is: anonymous, or its TLS certificate's principal; SASL replaces it.
    let mut auth = ConnAuth::new(&ctx, session);
    tracing::debug!(%peer, "Kafka connection opened");
    loop {
        let frame = tokio::select! {
            biased;
            _ = shutdown_signal(&mut shutdown) => {
                tracing::debug!(%peer, "closing Kafka connection for shutdown");
                break;
            }
            _ = auth_deadline(auth.deadline()) => {
                tracing::warn!(%peer, "closing Kafka connection: SASL authentication did not complete in time");
                break;
            }
            frame = read_frame(&mut reader, limits, &budget, expected.as_ref()) => frame,
        };
        let frame = match frame {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                tracing::debug!(%peer, "Kafka connection closed by client");
                break;
            }
            Err(err @ FrameError::Idle { .. }) => {
                stats.idle_closed();
                tracing::debug!(%peer, error = %err, "closing idle Kafka connection");
                break;
            }
            Err(FrameError::Io(err)) => {
                tracing::debug!(%peer, error = %err, "Kafka connection read failed");
                break;
            }
            Err(FrameError::Http) => {
                tracing::info!(%peer, "closing Kafka connection: the client sent HTTP");
                crate::frame::refuse_http(&mut reader, &mut write_half).await;
                break;
            }
            Err(err) => {
                tracing::warn!(%peer, error = %err, "closing Kafka connection: bad frame");
                break;
            }
        };
        if auth.expects_raw_token() {
            // After a v0 SaslHandshake the token comes without a Kafka header.
            let Some(reply) = auth.raw_token(&ctx, frame.body.clone()).await else {
                break;
            };
            if let Err(err) = send(&mut write_half, &reply).await {
                tracing::debug!(%peer, error = %err, "Kafka connection write failed");
                break;
            }
            continue;
        }
        // `frame` keeps its bytes of the request budget until the response is written.
        let request = match decode_request(frame.body.clone()) {
            Ok(request) => request,
            Err(err) => {
                tracing::warn!(%peer, error = %err, "closing Kafka connection: cannot serve request");
                break;
            }
        };
        match auth.admit(&request) {
            Admission::Serve => {}
            Admission::Close => break,
            Admission::Sasl => {
                let reply = match auth.handle(&ctx, request).await {
                    Ok(reply) => reply,
                    Err(err) => {
                        tracing::error!(%peer, error = %err, "closing Kafka connection: SASL request failed");
                        break;
                    }
                };
                if let Err(err) = send(&mut write_half, &reply.bytes).await {
                    tracing::debug!(%peer, error = %err, "Kafka connection write failed");
                    break;
                }
                if reply.close {
                    break;
                }
                continue;
            }
        }
        let api = request.api_key;
        let version = request.header.request_api_version;
        let client_id = request.header.client_id.clone();
        let mut mute = Duration::ZERO;
        match handlers::respond(&ctx, request, &auth.session, &mut mute).await {
            Ok(Some(response)) => {
                if let Err(err) = send(&mut write_half, &response).await {
                    tracing::debug!(%peer, error = %err, "Kafka connection write failed");
                    break;
                }
            }
            Ok(None) => {}
            Err(err) => {
                tracing::error!(%peer, ?api, version, client_id = ?client_id.as_deref(), error = %err,
                    "closing Kafka connection: request handling failed");
                break;
            }
        }
        // Over quota: the response went out at once; now read nothing for the delay.
        if !mute.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(mute) => {}
                _ = shutdown_signal(&mut shutdown) => break,
            }
        }
    }
}

/// Writes one whole response and flushes it. TLS keeps up to a buffer of encrypted records
/// that did not fit in the socket when the write returned; only a flush sends them, and
/// without it a response's tail could wait for the next response while the client waits
/// for the tail (a no-op on plain TCP).
async fn send<W: AsyncWrite + Unpin>(writer: &mut W, bytes: &[u8]) -> std::io::Result<()> {
    writer.write_all(bytes).await?;
    writer.flush().await
}

/// Completes at `deadline`, or never without one.
async fn auth_deadline(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
