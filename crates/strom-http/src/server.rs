//! The accept loop: hyper connections (HTTP/1.1 with upgrades for WebSocket, and HTTP/2)
//! under connection limits, header limits and timeouts, with graceful shutdown.
//!
//! - A connection beyond the listener's cap gets an immediate `503`, one beyond its
//!   address's share a `429` (both with `Retry-After`, see [`crate::refusal`]; over HTTP/2
//!   when the client opened with the HTTP/2 preface), and is closed, so overload is visible
//!   to clients instead of stalling in the accept queue. A WebSocket keeps its connection's
//!   slot for the socket's life.
//! - `header_read_timeout` bounds the time to a complete request head and the time a
//!   connection may sit with no request in progress, for both protocols: hyper enforces it
//!   for every HTTP/1.1 request head, and [`crate::connection::drive`] closes any connection,
//!   HTTP/2 included, once no request has been in progress for that long.
//! - HTTP/2 connections are pinged at the same interval and closed when a ping goes
//!   unanswered, so a dead peer of a long stream is noticed. Header blocks are bounded by
//!   `MAX_HEADER_BYTES` as HTTP/1.1 heads are; bodies by the same `max_body_bytes` layer.
//! - With TLS ([`HttpConfig::tls`]) each connection's task runs the handshake first (bounded
//!   by its own timeout), offering `h2` and `http/1.1` by ALPN; the client certificate's
//!   principal goes into [`ConnInfo`]. A connection refused by the limits is just closed
//!   there, since a plaintext refusal would be garbage to a TLS client.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use strom_broker::{ConnectionRefused, ListenerStats};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::caller::ConnInfo;
use crate::connection::{drive, Activity, ConnectionSlot, Tracked, HTTP2_PREFACE};
use crate::refusal::refusal_bytes;
use crate::HttpConfig;

/// Largest request head (request line and headers) accepted over HTTP/1.1; hyper answers
/// 431 above it.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;
/// Most header fields in one request.
pub const MAX_HEADERS: usize = 100;
/// How long in-flight requests may run after shutdown is signalled.
const DRAIN: Duration = Duration::from_secs(5);
/// How long an HTTP/2 keep-alive ping may go unanswered.
const PING_TIMEOUT: Duration = Duration::from_secs(20);

pub async fn serve(
    listener: TcpListener,
    router: Router,
    config: &HttpConfig,
    stats: Arc<ListenerStats>,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let shared = Arc::new(Shared {
        router,
        builder: connection_builder(config),
        tls: config.tls.clone(),
        header_timeout: config.header_read_timeout,
        stats: Arc::clone(&stats),
    });
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = shutdown.changed() => break,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(err) => {
                // Typically EMFILE: back off briefly instead of spinning.
                tracing::warn!(error = %err, "HTTP accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        metrics::counter!("strom_connections_accepted_total", "protocol" => "http").increment(1);
        let slot = match stats.limits().try_admit(peer.ip()) {
            Ok(permit) => ConnectionSlot::new(permit),
            Err(refused) => {
                stats.refused(&refused);
                tracing::warn!(%peer, reason = %refused, "HTTP connection refused");
                if shared.tls.is_none() {
                    tokio::spawn(refuse(stream, refused));
                }
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(
            stream,
            peer,
            slot,
            Arc::clone(&shared),
            graceful.watcher(),
        ));
    }
    drop(listener);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(DRAIN) => tracing::warn!("HTTP connections still open after the drain period"),
    }
    Ok(())
}

/// What every connection task needs from the listener.
struct Shared {
    router: Router,
    builder: auto::Builder<TokioExecutor>,
    tls: Option<strom_tls::TlsServer>,
    header_timeout: Duration,
    stats: Arc<ListenerStats>,
}

/// One accepted connection: the TLS handshake if the listener has TLS, then HTTP.
async fn connection(
    stream: TcpStream,
    peer: std::net::SocketAddr,
    slot: ConnectionSlot,
    shared: Arc<Shared>,
    watcher: Watcher,
) {
    let Some(tls) = &shared.tls else {
        let info = ConnInfo {
            peer,
            tls_principal: None,
        };
        return serve_stream(stream, info, slot, &shared, watcher).await;
    };
    match tls.accept(stream).await {
        Ok((stream, tls_principal)) => {
            let principal = tls_principal.as_ref().map(ToString::to_string);
            tracing::debug!(%peer, principal = %principal.as_deref().unwrap_or("none"),
                "HTTPS connection established");
            let info = ConnInfo {
                peer,
                tls_principal,
            };
            serve_stream(stream, info, slot, &shared, watcher).await
        }
        Err(err) if err.is_disconnect() => {
            tracing::debug!(%peer, error = %err, "HTTPS connection closed")
        }
        Err(err) => tracing::warn!(%peer, error = %err, "closing HTTPS connection"),
    }
}

/// Serves HTTP over an established (plain or TLS) stream until it ends.
async fn serve_stream<S>(
    stream: S,
    info: ConnInfo,
    slot: ConnectionSlot,
    shared: &Shared,
    watcher: Watcher,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let peer = info.peer;
    let activity = Activity::new();
    let service = request_service(shared.router.clone(), info, &activity, &slot);
    let connection = shared
        .builder
        .serve_connection_with_upgrades(
            TokioIo::new(Tracked::new(stream, Arc::clone(&activity))),
            service,
        )
        .into_owned();
    let connection = watcher.watch(connection);
    drive(
        connection,
        activity,
        shared.header_timeout,
        peer,
        Arc::clone(&shared.stats),
        slot,
    )
    .await
}

/// The service of one connection: each request carries the connection's facts and slot, and
/// counts as in progress (see [`Activity`]) until its response body is done.
fn request_service(
    router: Router,
    info: ConnInfo,
    activity: &Arc<Activity>,
    slot: &ConnectionSlot,
) -> impl hyper::service::Service<
    axum::http::Request<hyper::body::Incoming>,
    Response = axum::response::Response,
    Error = std::convert::Infallible,
    Future = impl std::future::Future<
        Output = Result<axum::response::Response, std::convert::Infallible>,
    > + Send
                 + 'static,
> + Clone {
    let activity = Arc::clone(activity);
    let slot = slot.clone();
    let service = move |mut request: axum::http::Request<hyper::body::Incoming>| {
        let guard = activity.begin();
        request.extensions_mut().insert(info.clone());
        request.extensions_mut().insert(slot.clone());
        let router = router.clone();
        async move {
            let response = tower::ServiceExt::oneshot(router, request).await?;
            Ok(response.map(|body| {
                axum::body::Body::new(http_body_util::BodyExt::map_frame(body, move |frame| {
                    let _in_progress = &guard;
                    frame
                }))
            }))
        }
    };
    hyper::service::service_fn(service)
}

fn connection_builder(config: &HttpConfig) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .max_buf_size(MAX_HEADER_BYTES)
        .max_headers(MAX_HEADERS);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(config.header_read_timeout)
        .keep_alive_timeout(PING_TIMEOUT)
        .max_header_list_size(MAX_HEADER_BYTES as u32);
    builder
}

/// Answers a refused connection and closes it.
async fn refuse(mut stream: TcpStream, refused: ConnectionRefused) {
    // Read (part of) the request first: answering before it arrives makes clients see an
    // unsolicited response and report a broken connection.
    let mut scratch = [0u8; 4096];
    let peeked = tokio::time::timeout(Duration::from_secs(1), stream.peek(&mut scratch)).await;
    if let Ok(Ok(n)) = peeked {
        if n >= 4 && scratch[..4] == HTTP2_PREFACE[..4] {
            return crate::refusal::refuse_http2(stream, refused).await;
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut scratch)).await;
    let _ = stream.write_all(&refusal_bytes(refused).await).await;
    let _ = stream.shutdown().await;
}
