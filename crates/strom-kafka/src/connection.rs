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
//! Frames are read by [`crate::frame`]: a client silent for `connections_max_idle` is closed,
//! and a request's bytes are reserved from the listener's [`RequestBudget`] until its response
//! is written.

use std::net::SocketAddr;
use std::sync::Arc;

use strom_auth::Session;
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::codec::decode_request;
use crate::frame::{read_frame, FrameError, FrameLimits, RequestBudget};
use crate::handlers::{self, Context};
use crate::sasl::{Admission, ConnAuth};
use crate::server::shutdown_signal;

/// Read buffer per connection: several small pipelined requests arrive in one read.
const READ_BUFFER: usize = 64 * 1024;

pub async fn serve(stream: TcpStream, peer: SocketAddr, ctx: Arc<Context>, budget: RequestBudget) {
    // Responses are written whole, so Nagle would only add latency.
    if let Err(err) = stream.set_nodelay(true) {
        tracing::debug!(%peer, error = %err, "cannot set TCP_NODELAY");
    }
    let (read_half, mut write_half) = stream.into_split();
    let mut reader = BufReader::with_capacity(READ_BUFFER, read_half);
    let mut shutdown = ctx.shutdown.clone();
    let limits = FrameLimits {
        max_bytes: ctx.config.max_frame_bytes,
        idle: ctx.config.connections_max_idle,
    };
    // Who the client is; authentication (TLS, SASL) replaces the anonymous principal.
    let session = Session::anonymous(peer, Arc::clone(&ctx.config.listener_name));
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
            frame = read_frame(&mut reader, limits, &budget) => frame,
        };
        let frame = match frame {
            Ok(Some(frame)) => frame,
            Ok(None) => {
                tracing::debug!(%peer, "Kafka connection closed by client");
                break;
            }
            Err(err @ FrameError::Idle { .. }) => {
                tracing::debug!(%peer, error = %err, "closing idle Kafka connection");
                break;
            }
            Err(FrameError::Io(err)) => {
                tracing::debug!(%peer, error = %err, "Kafka connection read failed");
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
            if let Err(err) = write_half.write_all(&reply).await {
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
                if let Err(err) = write_half.write_all(&reply.bytes).await {
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
        match handlers::respond(&ctx, request, &auth.session).await {
            Ok(Some(response)) => {
                if let Err(err) = write_half.write_all(&response).await {
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
    }
}

/// Completes at `deadline`, or never without one.
async fn auth_deadline(deadline: Option<std::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
