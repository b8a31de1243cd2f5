//! One accepted HTTP connection, HTTP/1.1 or HTTP/2 alike: its slot under the listener's
//! connection limits, its requests in progress, and the one deadline that closes it.
//!
//! - [`Activity`] counts the requests in progress; a request ends when its response body
//!   has been sent or dropped, so a long SSE stream keeps the connection busy. Bytes read
//!   off the socket are counted by [`Tracked`].
//! - [`drive`] runs the connection and closes it once no request has been in progress for
//!   `header_read_timeout`: before the first request, between keep-alive requests, and while
//!   a request head (an HTTP/1.1 head or an HTTP/2 header block, which is not a request
//!   until complete) trickles in. hyper enforces the same for HTTP/1.1 heads; this loop is
//!   what bounds HTTP/2, whose keep-alive pings would otherwise hold an idle connection for
//!   ever. A close counts as a header-read timeout when bytes of a request had arrived (for
//!   HTTP/2 only before its first request, since control frames arrive between requests) and
//!   as an idle close otherwise.
//! - [`ConnectionSlot`] is the connection's permit, also handed to handlers in the request
//!   extensions, so a WebSocket keeps it for the socket's life after hyper lets go of the
//!   connection at the upgrade.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use parking_lot::Mutex;
use strom_broker::{ConnectionPermit, ListenerStats};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

/// The connection's place under the listener's limits; freed when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct ConnectionSlot(#[allow(dead_code)] Arc<ConnectionPermit>);

impl ConnectionSlot {
    pub fn new(permit: ConnectionPermit) -> Self {
        ConnectionSlot(Arc::new(permit))
    }
}

/// What a connection is doing; shared by its service (requests) and its socket (bytes).
#[derive(Debug)]
pub struct Activity {
    in_flight: AtomicUsize,
    requests: AtomicU64,
    bytes_read: AtomicU64,
    http2: AtomicBool,
    /// When the connection last became idle, and the bytes read by then.
    rest: Mutex<(Instant, u64)>,
    changed: Notify,
}

impl Activity {
    pub fn new() -> Arc<Activity> {
        Arc::new(Activity {
            in_flight: AtomicUsize::new(0),
            requests: AtomicU64::new(0),
            bytes_read: AtomicU64::new(0),
            http2: AtomicBool::new(false),
            rest: Mutex::new((Instant::now(), 0)),
            changed: Notify::new(),
        })
    }

    /// A request has arrived; it is in progress until the returned guard is dropped.
    pub fn begin(self: &Arc<Self>) -> RequestGuard {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.changed.notify_one();
        RequestGuard(Arc::clone(self))
    }

    /// When the connection became idle, or `None` while a request is in progress.
    fn idle_since(&self) -> Option<Instant> {
        let rest = self.rest.lock();
        (self.in_flight.load(Ordering::Acquire) == 0).then_some(rest.0)
    }

    /// Whether bytes of a request arrived since the connection became idle.
    fn partial_request(&self) -> bool {
        if self.http2.load(Ordering::Relaxed) && self.requests.load(Ordering::Relaxed) > 0 {
            return false;
        }
        self.bytes_read.load(Ordering::Relaxed) > self.rest.lock().1
    }
}

/// One request in progress; see [`Activity::begin`].
#[derive(Debug)]
pub struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let activity = &self.0;
        let mut rest = activity.rest.lock();
        if activity.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            *rest = (Instant::now(), activity.bytes_read.load(Ordering::Relaxed));
        }
        drop(rest);
        activity.changed.notify_one();
    }
}

/// The HTTP/2 connection preface (RFC 9113 section 3.4).
pub const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// A socket that counts the bytes read from it into an [`Activity`].
pub struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
    first: bool,
}

impl<S> Tracked<S> {
    pub fn new(inner: S, activity: Arc<Activity>) -> Self {
        Tracked {
            inner,
            activity,
            first: true,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tracked<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = &buf.filled()[before..];
        if !read.is_empty() {
            if self.first {
                self.first = false;
                let n = read.len().min(4);
                if read[..n] == HTTP2_PREFACE[..n] {
                    self.activity.http2.store(true, Ordering::Relaxed);
                }
            }
            self.activity
                .bytes_read
                .fetch_add(read.len() as u64, Ordering::Relaxed);
        }
        result
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tracked<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Runs one connection to its end, closing it once no request has been in progress for
/// `timeout` (see the module doc); the connection's slot is freed when it ends, unless a
/// WebSocket still holds it.
pub async fn drive<F, E>(
    connection: F,
    activity: Arc<Activity>,
    timeout: Duration,
    peer: std::net::SocketAddr,
    stats: Arc<ListenerStats>,
    slot: ConnectionSlot,
) where
    F: std::future::Future<Output = Result<(), E>>,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    tokio::pin!(connection);
    let result = loop {
        let deadline = activity.idle_since().map(|since| since + timeout);
        let expired = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            result = &mut connection => break result,
            _ = activity.changed.notified() => continue,
            _ = expired => {
                if activity.idle_since().is_some_and(|since| since + timeout <= Instant::now()) {
                    count_close(&activity, &stats, peer);
                    drop(slot);
                    return;
                }
            }
        }
    };
    if let Err(err) = result {
        let err: Box<dyn std::error::Error + Send + Sync> = err.into();
        if is_timeout(&*err) {
            count_close(&activity, &stats, peer);
        } else {
            tracing::debug!(%peer, error = %err, "HTTP connection ended with an error");
        }
    }
    drop(slot);
}

fn count_close(activity: &Activity, stats: &ListenerStats, peer: std::net::SocketAddr) {
    if activity.partial_request() {
        stats.header_read_timeout();
        tracing::debug!(%peer, "closing HTTP connection: request head not complete within the header read timeout");
    } else {
        stats.idle_closed();
        tracing::debug!(%peer, "closing idle HTTP connection");
    }
}

/// Whether hyper ended the connection for its own header-read timeout.
fn is_timeout(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut source = Some(err);
    while let Some(err) = source {
        if err
            .downcast_ref::<hyper::Error>()
            .is_some_and(|e| e.is_timeout())
        {
            return true;
        }
        source = err.source();
    }
    false
}
