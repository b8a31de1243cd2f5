//! Client quotas on every HTTP data path, run by the authentication guard once the caller's
//! [`Session`] is known (the same `strom_auth::Quotas` the Kafka listener charges):
//!
//! - request rate (`request_percentage`): every route but the open ones is refused with 429
//!   and `Retry-After` while the caller's group is over its quota, and is charged the time
//!   its handler took to answer (for a stream, the time to open it), except the reads below,
//!   whose time is mostly a long-poll wait (Kafka does not charge Fetch either);
//! - produce bytes (`producer_byte_rate`): REST Proxy produce is refused with 429 while over,
//!   and its request body is charged as it is read;
//! - consume bytes (`consumer_byte_rate`): feeds, long polls, Atom, SSE and REST Proxy
//!   consumer fetches are refused with 429 while over; their response body is charged as it
//!   is sent, and a stream that goes over waits out the delay before its next frame, so SSE
//!   slows down rather than disconnects;
//! - WebSocket: publishes are charged as produce bytes and sent messages as consume bytes;
//!   the socket waits out any delay (it reads no further message, or sends no further one
//!   until then), so it slows down and stays open.
//!
//! The native `/v1/topics/{topic}/records` routes charge their own bytes (`produce.rs`,
//! `consume.rs`); here they are only charged request time.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::Request;
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use strom_auth::{Principal, QuotaKey, Quotas, Security, Session};

use crate::error::over_quota;
use crate::quotas::client_id;
use crate::state::Shared;

/// What a route moves, for the byte quotas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataPath {
    /// Records in the request body (REST Proxy produce).
    Produce,
    /// Records in the response body (feeds, Atom, SSE, REST Proxy consumer fetches).
    Consume,
    /// Charged by its handler or not a data route.
    Other,
}

/// The data path of `method` on the route template `path`.
pub fn data_path(method: &Method, path: &str) -> DataPath {
    match (method.as_str(), path) {
        ("POST", "/topics/{topic}" | "/topics/{topic}/partitions/{partition}") => DataPath::Produce,
        ("GET", "/feeds/{topic}" | "/feeds/{topic}/archive/{partition}/{page}") => {
            DataPath::Consume
        }
        ("GET", "/consumers/{group}/instances/{instance}/records") => DataPath::Consume,
        _ => DataPath::Other,
    }
}

/// One caller's quota group: who is charged.
#[derive(Clone)]
pub struct Meter {
    security: Arc<Security>,
    principal: Principal,
    client_id: String,
}

impl Meter {
    pub fn new(state: &Shared, session: &Session, client_id: String) -> Meter {
        Meter {
            security: Arc::clone(&state.config.security),
            principal: session.principal.clone(),
            client_id,
        }
    }

    fn quotas(&self) -> &Quotas {
        &self.security.quotas
    }

    /// How long the group must still wait before its next `key` request.
    pub fn delay(&self, key: QuotaKey) -> Duration {
        self.quotas().delay(key, &self.principal, &self.client_id)
    }

    /// Charges `bytes` produced; the delay that puts the group back within its quota.
    pub fn produced(&self, bytes: usize) -> Duration {
        let q = self.quotas();
        q.record_produce(&self.principal, &self.client_id, bytes as u64)
    }

    /// Charges `bytes` delivered; the delay that puts the group back within its quota.
    pub fn consumed(&self, bytes: usize) -> Duration {
        let q = self.quotas();
        q.record_consumed(&self.principal, &self.client_id, bytes as u64)
    }

    fn busy(&self, busy: Duration) {
        let q = self.quotas();
        q.record_request_time(&self.principal, &self.client_id, busy);
    }
}

/// Runs the request under the caller's quotas (see the module doc). `rest` shapes a 429 as
/// the REST Proxy does; `open` routes (health, login...) are not metered.
pub async fn run(
    state: &Shared,
    session: &Session,
    open: bool,
    rest: bool,
    path: DataPath,
    request: Request,
    next: Next,
) -> Response {
    if open {
        return next.run(request).await;
    }
    let meter = Meter::new(state, session, client_id(request.headers()));
    let refuse = |key: QuotaKey, delay: Duration| {
        let e = over_quota(key.as_str(), delay);
        let e = if rest { e.rest() } else { e };
        e.into_response()
    };
    let mut keys = vec![QuotaKey::RequestPercentage];
    match path {
        DataPath::Produce => keys.push(QuotaKey::ProducerByteRate),
        DataPath::Consume => keys.push(QuotaKey::ConsumerByteRate),
        DataPath::Other => {}
    }
    for key in keys {
        let delay = meter.delay(key);
        if !delay.is_zero() {
            return refuse(key, delay);
        }
    }
    let request = match path {
        DataPath::Produce => charge_request_body(request, meter.clone()),
        _ => request,
    };
    let started = Instant::now();
    let response = next.run(request).await;
    match path {
        // Reads are mostly long-poll waits: not charged as request time (as Kafka's Fetch).
        DataPath::Consume => charge_response_body(response, meter),
        _ => {
            meter.busy(started.elapsed());
            response
        }
    }
}

/// The request with a body that charges produce bytes as the handler reads it.
fn charge_request_body(request: Request, meter: Meter) -> Request {
    let (parts, body) = request.into_parts();
    let counted = body.into_data_stream().map(move |chunk| {
        if let Ok(bytes) = &chunk {
            meter.produced(bytes.len());
        }
        chunk
    });
    Request::from_parts(parts, Body::from_stream(counted))
}

/// The response with a body that charges consume bytes as frames go out, and waits out
/// the delay before the next frame once the group is over its quota.
fn charge_response_body(response: Response, meter: Meter) -> Response {
    let (parts, body) = response.into_parts();
    let frames = body.into_data_stream();
    let throttled = futures_util::stream::unfold(
        (frames, Duration::ZERO, meter),
        |(mut frames, wait, meter)| async move {
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            let frame = frames.next().await?;
            let wait = match &frame {
                Ok(bytes) => meter.consumed(bytes.len()),
                Err(_) => Duration::ZERO,
            };
            Some((frame, (frames, wait, meter)))
        },
    );
    Response::from_parts(parts, Body::from_stream(throttled))
}

/// WebSocket: charges `bytes` of a publish and waits out any delay before the socket reads
/// its next message.
pub async fn ws_published(meter: &Meter, bytes: usize) {
    let wait = meter.produced(bytes);
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
}

/// WebSocket: charges `bytes` sent and waits out any delay before the next message goes out.
pub async fn ws_sent(meter: &Meter, bytes: usize) {
    let wait = meter.consumed(bytes);
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_paths_name_the_metered_routes() {
        let get = Method::GET;
        let post = Method::POST;
        assert_eq!(data_path(&post, "/topics/{topic}"), DataPath::Produce);
        assert_eq!(
            data_path(&post, "/topics/{topic}/partitions/{partition}"),
            DataPath::Produce
        );
        assert_eq!(data_path(&get, "/feeds/{topic}"), DataPath::Consume);
        assert_eq!(
            data_path(&get, "/consumers/{group}/instances/{instance}/records"),
            DataPath::Consume
        );
        // Charged by their own handlers.
        assert_eq!(
            data_path(&post, "/v1/topics/{topic}/records"),
            DataPath::Other
        );
        assert_eq!(data_path(&get, "/topics/{topic}"), DataPath::Other);
    }
}
