//! One delivery attempt: a signed POST with a timeout, no redirects followed and a cap on
//! how much of the response is read, classified as delivered, failed (with a reason,
//! status, `Retry-After` and an excerpt of the response) or gone (410). A request that
//! went out on a pooled keep-alive connection the receiver had already closed (it closed
//! with no answer) is sent once more on a new connection within the same attempt: that is
//! the pool's race with the receiver's idle timer, not a failure of the endpoint.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Client, StatusCode, Url};

use crate::error::{Result, WebhookError};
use crate::h1::{self, H1Error};
use crate::model::Subscription;
use crate::payload::Event;
use crate::signing::signature_header;
use crate::ssrf::{GuardedResolver, TargetPolicy};

/// Most response bytes read (the rest is dropped with the connection).
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// Response bytes kept for attempt history and dead-letter headers.
pub const EXCERPT_BYTES: usize = 256;
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// How an attempt ended.
#[derive(Debug, Clone)]
pub enum Outcome {
    Delivered {
        status: u16,
    },
    /// 410 Gone: the endpoint asks to be disabled.
    Gone,
    Failed(Failure),
}

#[derive(Debug, Clone)]
pub struct Failure {
    /// Metric label: `http_4xx`, `http_5xx`, `http_3xx`, `timeout`, `connect`, `refused`,
    /// `other`.
    pub reason: &'static str,
    pub status: Option<u16>,
    /// Status line or network error, no server paths or secrets.
    pub error: String,
    pub retry_after: Option<Duration>,
    pub excerpt: String,
}

/// One attempt's result and latency.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub outcome: Outcome,
    pub latency: Duration,
}

/// How long a pooled connection may sit idle: below the 5 s keep-alive timeout of common
/// receiver stacks (Node.js, uvicorn, Apache), so the pool rarely offers a connection the
/// receiver is about to close.
pub const POOL_IDLE: Duration = Duration::from_secs(4);

/// The HTTP clients of one subscription: `h1` (its own keep-alive HTTP/1.1 connections,
/// [`crate::h1`]) for a plain `http://` target; else `pooled` (reqwest: keep-alive, HTTP/1.1
/// and HTTP/2, guarded DNS) for every request, `fresh` (keeps no idle connection) for the one
/// resend after a pooled connection turned out to be closed.
#[derive(Clone)]
pub struct Clients {
    pub pooled: Client,
    fresh: Client,
    h1: Option<Arc<h1::Pool>>,
    /// The subscription's custom headers, parsed once (invalid ones left out).
    custom: HeaderMap,
    /// The last `webhook-timestamp` value made: (seconds, value).
    stamp: Arc<Mutex<(i64, HeaderValue)>>,
}

/// The clients of `sub`.
pub fn client(sub: &Subscription, policy: Arc<TargetPolicy>) -> Result<Clients> {
    let roots = match &policy.ca_pem {
        Some(pem) => reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|e| WebhookError::Invalid(format!("webhook_ca_file: {e}")))?,
        None => Vec::new(),
    };
    let build = |idle_per_host: usize| {
        let timeout = Duration::from_millis(sub.timeout_ms);
        let builder = roots
            .iter()
            .fold(Client::builder(), |b, c| b.add_root_certificate(c.clone()));
        builder
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(POOL_IDLE)
            .pool_max_idle_per_host(idle_per_host)
            .dns_resolver(Arc::new(GuardedResolver {
                policy: Arc::clone(&policy),
            }))
            .user_agent(h1::AGENT)
            .build()
            .map_err(|e| WebhookError::Invalid(format!("cannot build the HTTP client: {e}")))
    };
    let timeout = Duration::from_millis(sub.timeout_ms);
    let h1 = Url::parse(&sub.url).ok().and_then(|url| {
        let connect = timeout.min(Duration::from_secs(10));
        h1::Pool::new(&url, sub.concurrency as usize, Arc::clone(&policy), connect)
    });
    let mut custom = HeaderMap::with_capacity(sub.headers.len());
    for (k, v) in &sub.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            custom.insert(n, v);
        }
    }
    Ok(Clients {
        pooled: build(sub.concurrency as usize)?,
        fresh: build(0)?,
        h1: h1.map(Arc::new),
        custom,
        stamp: Arc::new(Mutex::new((-1, HeaderValue::from_static("")))),
    })
}

/// Refuses an IP-literal target the resolver never sees.
pub fn check_literal(url: &Url, policy: &TargetPolicy) -> Result<()> {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => policy.check(ip.into()),
        Some(url::Host::Ipv6(ip)) => policy.check(ip.into()),
        _ => Ok(()),
    }
}

const WEBHOOK_ID: HeaderName = HeaderName::from_static("webhook-id");
const WEBHOOK_TIMESTAMP: HeaderName = HeaderName::from_static("webhook-timestamp");
const WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static("webhook-signature");

impl Clients {
    /// The `webhook-timestamp` value of `seconds` (made once per second).
    fn stamp(&self, seconds: i64) -> HeaderValue {
        let mut stamp = self.stamp.lock();
        if stamp.0 != seconds {
            *stamp = (seconds, HeaderValue::from(seconds));
        }
        stamp.1.clone()
    }

    /// The headers of one attempt to send `event` at `now_ms`: the subscription's custom
    /// ones, the event's `ce-*` ones (binary mode), then the Standard Webhooks headers and
    /// `Content-Type`.
    fn headers(&self, sub: &Subscription, event: &Event, now_ms: i64) -> HeaderMap {
        let timestamp = now_ms / 1000;
        let mut map = self.custom.clone();
        // Ours and the three `h1` adds (`Host`, `User-Agent`, `Accept`).
        map.reserve(7 + event.headers.len());
        for (k, v) in &event.headers {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            ) {
                map.insert(n, v);
            }
        }
        if let Some(id) = &event.wire.id {
            map.insert(WEBHOOK_ID, id.clone());
        }
        map.insert(WEBHOOK_TIMESTAMP, self.stamp(timestamp));
        let signature = signature_header(&sub.secrets, now_ms, &event.id, timestamp, &event.body);
        if let Ok(v) = HeaderValue::from_maybe_shared(Bytes::from(signature)) {
            map.insert(WEBHOOK_SIGNATURE, v);
        }
        if let Some(ct) = &event.wire.content_type {
            map.insert(CONTENT_TYPE, ct.clone());
        }
        map
    }
}

/// Sends `event` once.
pub async fn attempt(
    client: &Clients,
    url: &Url,
    policy: &TargetPolicy,
    sub: &Subscription,
    event: &Event,
) -> Attempt {
    let started = Instant::now();
    let outcome = match check_literal(url, policy) {
        Err(err) => Outcome::Failed(failure("refused", None, err.to_string())),
        Ok(()) => send(client, url, sub, event).await,
    };
    Attempt {
        outcome,
        latency: started.elapsed(),
    }
}

async fn post(
    (clients, client): (&Clients, &Client),
    url: &Url,
    sub: &Subscription,
    event: &Event,
) -> reqwest::Result<reqwest::Response> {
    client
        .post(url.clone())
        .headers(clients.headers(sub, event, crate::now_ms()))
        .body(event.body.clone())
        .send()
        .await
}

async fn send(clients: &Clients, url: &Url, sub: &Subscription, event: &Event) -> Outcome {
    let Some(pool) = &clients.h1 else {
        return send_reqwest(clients, url, sub, event).await;
    };
    let make = || clients.headers(sub, event, crate::now_ms());
    let timeout = Duration::from_millis(sub.timeout_ms);
    match pool.post(make, event.body.clone(), timeout).await {
        Ok(reply) => classify(reply.status, &reply.headers, &reply.body),
        Err(err) => Outcome::Failed(h1_failure(err)),
    }
}

fn h1_failure(err: H1Error) -> Failure {
    let (reason, error) = match err {
        H1Error::Timeout => ("timeout", "timed out"),
        H1Error::Refused => ("refused", "every resolved address of the target is refused"),
        H1Error::Connect => ("connect", "connection failed"),
        H1Error::Closed(closed) => ("other", closed),
        H1Error::Other => (
            "other",
            "request failed (invalid response or protocol error)",
        ),
    };
    failure(reason, None, error.to_string())
}

async fn send_reqwest(clients: &Clients, url: &Url, sub: &Subscription, event: &Event) -> Outcome {
    let sent = match post((clients, &clients.pooled), url, sub, event).await {
        Err(err) if closed_unanswered(&err) => {
            tracing::debug!(subscription = %sub.name, "webhook: pooled connection was closed; sending on a new one");
            post((clients, &clients.fresh), url, sub, event).await
        }
        other => other,
    };
    let mut response = match sent {
        Ok(r) => r,
        Err(err) => return Outcome::Failed(network_failure(&err)),
    };
    // Read a little so the connection can be reused; a huge body is cut off.
    let body = read_capped(&mut response).await.unwrap_or_default();
    classify(response.status(), response.headers(), &body)
}

/// What an answer means: 2xx delivered, 410 gone, anything else a failure (with
/// `Retry-After` on 429 and 503, and an excerpt of the body).
fn classify(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Outcome {
    if status.is_success() {
        return Outcome::Delivered {
            status: status.as_u16(),
        };
    }
    if status == StatusCode::GONE {
        return Outcome::Gone;
    }
    let retry_after = matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    )
    .then(|| retry_after(headers))
    .flatten();
    let reason = match status.as_u16() {
        300..=399 => "http_3xx",
        400..=499 => "http_4xx",
        _ => "http_5xx",
    };
    let mut f = failure(reason, Some(status.as_u16()), format!("HTTP {status}"));
    f.retry_after = retry_after;
    f.excerpt = excerpt(body);
    Outcome::Failed(f)
}

fn failure(reason: &'static str, status: Option<u16>, error: String) -> Failure {
    Failure {
        reason,
        status,
        error,
        retry_after: None,
        excerpt: String::new(),
    }
}

/// Whether a request failed because its connection was closed or reset before any answer
/// (not a timeout, not a failed connect): what sending on a keep-alive connection the peer
/// has just closed looks like.
pub fn closed_unanswered(err: &reqwest::Error) -> bool {
    !err.is_timeout() && !err.is_connect() && closed_kind(err).is_some()
}

/// What closed the connection, from the error's sources: hyper's incomplete message or an
/// I/O reset, abort, broken pipe or early end.
pub(crate) fn closed_kind(err: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    use std::io::ErrorKind;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        if e.downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_incomplete_message)
        {
            return Some("the receiver closed the connection before answering");
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.kind() {
                ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => {
                    return Some("the receiver reset the connection")
                }
                ErrorKind::BrokenPipe | ErrorKind::UnexpectedEof => {
                    return Some("the receiver closed the connection before answering")
                }
                _ => {}
            }
        }
        source = e.source();
    }
    None
}

fn network_failure(err: &reqwest::Error) -> Failure {
    let chain = error_chain(err);
    let (reason, error) = if err.is_timeout() {
        ("timeout", "timed out".to_string())
    } else if chain.contains("refused") && chain.contains("resolved address") {
        (
            "refused",
            "every resolved address of the target is refused".into(),
        )
    } else if err.is_connect() {
        ("connect", "connection failed".to_string())
    } else if let Some(closed) = closed_kind(err) {
        ("other", closed.to_string())
    } else {
        (
            "other",
            "request failed (invalid response or protocol error)".to_string(),
        )
    };
    failure(reason, None, error)
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

async fn read_capped(response: &mut reqwest::Response) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() >= MAX_RESPONSE_BYTES {
            break;
        }
    }
    Some(body)
}

fn excerpt(body: &[u8]) -> String {
    let cut = &body[..body.len().min(EXCERPT_BYTES)];
    String::from_utf8_lossy(cut).into_owned()
}

/// `Retry-After`, at most an hour.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, std::time::SystemTime::now())
}

/// A `Retry-After` value, delay-seconds or an HTTP-date (RFC 9110 §10.2.3) seen at `now`;
/// a date in the past is no delay. At most an hour.
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    let delay = match value.parse::<u64>() {
        Ok(seconds) => Duration::from_secs(seconds),
        Err(_) => httpdate::parse_http_date(value)
            .ok()?
            .duration_since(now)
            .unwrap_or_default(),
    };
    Some(delay.min(MAX_RETRY_AFTER))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{SystemTime, UNIX_EPOCH};

    #[test]
    fn retry_after_takes_seconds_and_http_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(1_445_412_480); // Wed, 21 Oct 2015 07:28:00 GMT
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        let date = "Wed, 21 Oct 2015 07:28:30 GMT";
        assert_eq!(parse_retry_after(date, now), Some(Duration::from_secs(30)));
        let past = "Wed, 21 Oct 2015 07:00:00 GMT";
        assert_eq!(parse_retry_after(past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("99999", now), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("soon", SystemTime::now()), None);
    }
}
