//! Plain `http://` targets: HTTP/1.1 keep-alive connections of one subscription, each driven
//! by the task that delivers on it. A general-purpose client (reqwest over hyper-util's pool)
//! keys its pool by host, runs every connection as a task of its own and spawns one more task
//! per request to put the connection back; every request then crosses tasks (and, on a
//! multi-threaded runtime, threads) several times. Here a worker takes an idle connection
//! from its subscription's [`Pool`], writes the request and reads the answer while polling
//! the connection itself, and puts it back; a request's timeout is the connection's one
//! timer, moved only when it fires early (not a new timer per request). The SSRF policy is checked on every resolved
//! address before a connection is made (IP literals before each request, in
//! [`crate::send::attempt`]). `https://` targets, URLs with credentials, and every target
//! while an HTTP proxy is set in the environment (`http_proxy`, `all_proxy`, which reqwest
//! honours) go through reqwest ([`crate::send`]).

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http_body_util::{BodyExt, Full};
use hyper::body::{Body, Incoming};
use hyper::client::conn::http1;
use hyper::header::{HeaderMap, HeaderValue, ACCEPT, HOST, USER_AGENT};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use reqwest::Url;
use tokio::net::TcpStream;
use tokio::time::Sleep;

use crate::send::{closed_kind, MAX_RESPONSE_BYTES, POOL_IDLE};
use crate::ssrf::TargetPolicy;

/// The `User-Agent` of every delivery (reqwest's clients send the same).
pub const AGENT: &str = "strom-webhooks";

type Driver = Pin<Box<http1::Connection<TokioIo<TcpStream>, Full<Bytes>>>>;

/// One connection: the handle requests are sent on and the connection's state machine,
/// polled only while a request is in flight (and once at checkout, to see a close), and its
/// request timer: set to a request's deadline and moved only when it fires before the
/// current request's deadline, so back-to-back requests do not each register a timer.
struct Conn {
    send: http1::SendRequest<Full<Bytes>>,
    driver: Driver,
    idle_since: Instant,
    timer: Pin<Box<Sleep>>,
}

impl Conn {
    /// Whether the peer has not closed it: polls the state machine once without waiting
    /// (it finishes once it has seen the peer's close).
    fn alive(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        matches!(self.driver.as_mut().poll(&mut cx), Poll::Pending) && !self.send.is_closed()
    }
}

/// An answer: status, headers and at most [`MAX_RESPONSE_BYTES`] of the body.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Why a request got no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum H1Error {
    /// Every resolved address is refused by the SSRF policy.
    Refused,
    /// No connection could be made (or the name did not resolve).
    Connect,
    Timeout,
    /// The connection was closed or reset before an answer.
    Closed(&'static str),
    /// An invalid response or another protocol error.
    Other,
}

/// The keep-alive connections of one subscription to its `http://` target.
pub struct Pool {
    host: String,
    port: u16,
    authority: HeaderValue,
    path: Uri,
    idle: Mutex<Vec<Conn>>,
    max_idle: usize,
    policy: Arc<TargetPolicy>,
    connect_timeout: Duration,
}

impl Pool {
    /// The pool for `url`; `None` unless it is a plain `http://` URL without credentials and
    /// no HTTP proxy is set.
    pub fn new(
        url: &Url,
        max_idle: usize,
        policy: Arc<TargetPolicy>,
        connect_timeout: Duration,
    ) -> Option<Pool> {
        let plain = url.scheme() == "http" && url.username().is_empty() && url.password().is_none();
        if !plain || proxy_set() {
            return None;
        }
        let host = url.host_str()?;
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        Some(Pool {
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port: url.port_or_known_default()?,
            authority: HeaderValue::from_str(&authority).ok()?,
            path: path.parse().ok()?,
            idle: Mutex::new(Vec::new()),
            max_idle,
            policy,
            connect_timeout,
        })
    }

    /// POSTs `body` with the headers `make` gives (`Host`, `User-Agent` and `Accept`
    /// added), all within `timeout`. A request on a pooled connection the receiver had
    /// closed without answering is sent once more (with headers made again) on a new
    /// connection.
    pub async fn post(
        &self,
        make: impl Fn() -> HeaderMap,
        body: Bytes,
        timeout: Duration,
    ) -> Result<Reply, H1Error> {
        let deadline = tokio::time::Instant::now() + timeout;
        if let Some(conn) = self.checkout() {
            let headers = self.complete(make());
            match self.send_on(conn, headers, body.clone(), deadline).await {
                Err(H1Error::Closed(_)) => {
                    tracing::debug!("webhook: pooled connection was closed; sending on a new one");
                }
                other => return other,
            }
        }
        let conn = tokio::time::timeout_at(deadline, self.connect(deadline))
            .await
            .unwrap_or(Err(H1Error::Timeout))?;
        self.send_on(conn, self.complete(make()), body, deadline)
            .await
    }

    /// `headers` with the target's `Host`, the `User-Agent` and (unless given) `Accept`.
    fn complete(&self, mut headers: HeaderMap) -> HeaderMap {
        headers.insert(HOST, self.authority.clone());
        headers.insert(USER_AGENT, HeaderValue::from_static(AGENT));
        headers
            .entry(ACCEPT)
            .or_insert(HeaderValue::from_static("*/*"));
        headers
    }

    /// The most recently used idle connection that is still open and not idle too long.
    fn checkout(&self) -> Option<Conn> {
        let now = Instant::now();
        let mut idle = self.idle.lock();
        while let Some(mut conn) = idle.pop() {
            if now.duration_since(conn.idle_since) < POOL_IDLE && conn.alive() {
                return Some(conn);
            }
        }
        None
    }

    fn checkin(&self, mut conn: Conn) {
        let mut idle = self.idle.lock();
        if idle.len() < self.max_idle {
            conn.idle_since = Instant::now();
            idle.push(conn);
        }
    }

    async fn send_on(
        &self,
        mut conn: Conn,
        headers: HeaderMap,
        body: Bytes,
        deadline: tokio::time::Instant,
    ) -> Result<Reply, H1Error> {
        let mut req = Request::new(Full::new(body));
        *req.method_mut() = Method::POST;
        *req.uri_mut() = self.path.clone();
        *req.headers_mut() = headers;
        let (result, open) = exchange(&mut conn, req, deadline).await;
        let (reply, complete) = result?;
        if open && complete {
            self.checkin(conn);
        }
        Ok(reply)
    }

    async fn connect(&self, deadline: tokio::time::Instant) -> Result<Conn, H1Error> {
        let mut failure = H1Error::Connect;
        for addr in self.resolve().await? {
            match tokio::time::timeout(self.connect_timeout, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => {
                    let _ = stream.set_nodelay(true);
                    let (send, conn) = http1::handshake(TokioIo::new(stream))
                        .await
                        .map_err(|_| H1Error::Connect)?;
                    return Ok(Conn {
                        send,
                        driver: Box::pin(conn),
                        idle_since: Instant::now(),
                        timer: Box::pin(tokio::time::sleep_until(deadline)),
                    });
                }
                Ok(Err(_)) => failure = H1Error::Connect,
                Err(_) => failure = H1Error::Timeout,
            }
        }
        Err(failure)
    }

    /// The target's addresses the policy allows; none is [`H1Error::Refused`].
    async fn resolve(&self) -> Result<Vec<SocketAddr>, H1Error> {
        let found: Vec<SocketAddr> = match self.host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, self.port)],
            Err(_) => tokio::net::lookup_host((self.host.as_str(), self.port))
                .await
                .map_err(|_| H1Error::Connect)?
                .collect(),
        };
        let allowed: Vec<SocketAddr> = found
            .into_iter()
            .filter(|a| self.policy.refusal(a.ip()).is_none())
            .collect();
        if allowed.is_empty() {
            return Err(H1Error::Refused);
        }
        Ok(allowed)
    }
}

/// Whether the environment names a proxy for plain HTTP.
fn proxy_set() -> bool {
    ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"]
        .iter()
        .any(|k| std::env::var_os(k).is_some_and(|v| !v.is_empty()))
}

/// How an exchange failed, before classification.
enum Fail {
    /// The connection could not take the request (it had closed).
    NotSent,
    Hyper(hyper::Error),
}

impl From<Fail> for H1Error {
    fn from(fail: Fail) -> H1Error {
        const CLOSED: &str = "the receiver closed the connection before answering";
        match fail {
            Fail::NotSent => H1Error::Closed(CLOSED),
            Fail::Hyper(e) if e.is_canceled() => H1Error::Closed(CLOSED),
            Fail::Hyper(e) => closed_kind(&e).map_or(H1Error::Other, H1Error::Closed),
        }
    }
}

/// Sends `req` on `conn` and reads the answer (whether all of its body was read, too),
/// polling the connection meanwhile, until `deadline`; and whether the connection is still
/// open.
async fn exchange(
    conn: &mut Conn,
    req: Request<Full<Bytes>>,
    deadline: tokio::time::Instant,
) -> (Result<(Reply, bool), H1Error>, bool) {
    let Conn {
        send,
        driver,
        timer,
        ..
    } = conn;
    let work = async {
        send.ready().await.map_err(|_| Fail::NotSent)?;
        let response = send.send_request(req).await.map_err(Fail::Hyper)?;
        read(response).await.map_err(Fail::Hyper)
    };
    let answered = async {
        tokio::pin!(work);
        // Whether the connection ended (closed by the peer, or an error): the request's
        // future ends too, with its answer or an error.
        let mut ended = false;
        std::future::poll_fn(|cx| {
            // The request's future advances only when the connection is polled (hyper's
            // dispatcher hands it readiness, the answer and the body), and the connection is
            // polled right here: so the request's future is polled with a waker that does
            // nothing, once before and once right after each poll of the connection. Its
            // progress then never wakes this task while it runs, which tokio would turn into
            // a reschedule (another poll) and, on the multi-threaded runtime, a wake-up of an
            // idle worker thread to steal it: once per delivery.
            let mut quiet = Context::from_waker(Waker::noop());
            if let Poll::Ready(r) = work.as_mut().poll(&mut quiet) {
                return Poll::Ready((r, !ended));
            }
            if !ended && driver.as_mut().poll(cx).is_ready() {
                ended = true;
            }
            let polled = if ended {
                work.as_mut().poll(cx)
            } else {
                work.as_mut().poll(&mut quiet)
            };
            polled.map(|r| (r, !ended))
        })
        .await
    };
    tokio::select! {
        biased;
        (result, open) = answered => (result.map_err(H1Error::from), open),
        _ = expire(timer, deadline) => (Err(H1Error::Timeout), false),
    }
}

/// Waits until `deadline` on `timer`, moving it only when it is later than `deadline` or
/// fires before it.
async fn expire(timer: &mut Pin<Box<Sleep>>, deadline: tokio::time::Instant) {
    loop {
        if timer.deadline() > deadline {
            timer.as_mut().reset(deadline);
        }
        timer.as_mut().await;
        if tokio::time::Instant::now() >= deadline {
            return;
        }
        timer.as_mut().reset(deadline);
    }
}

/// The status, headers and at most [`MAX_RESPONSE_BYTES`] of the body of `response`; true
/// when the body was read to its end.
async fn read(response: Response<Incoming>) -> Result<(Reply, bool), hyper::Error> {
    let (parts, mut body) = response.into_parts();
    let mut buf = BytesMut::new();
    let mut complete = true;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            buf.extend_from_slice(&data);
            if buf.len() >= MAX_RESPONSE_BYTES {
                complete = body.is_end_stream();
                break;
            }
        }
    }
    let reply = Reply {
        status: parts.status,
        headers: parts.headers,
        body: buf.freeze(),
    };
    Ok((reply, complete))
}

#[cfg(test)]
mod tests;
