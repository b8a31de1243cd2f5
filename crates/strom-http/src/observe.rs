//! What every HTTP request leaves behind: the request metrics (count per method, route template
//! and status; duration histogram; rejected requests per status) and, with `access_log` on, one
//! access log line (target `strom::access`): peer, principal, method, path without its query
//! string (which may carry a token), route, status and duration. No header or body is logged.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::caller::{Caller, ConnInfo};
use crate::state::Shared;

/// Where the inner middleware leaves the principal for the access log line.
#[derive(Clone, Default)]
struct PrincipalSlot(Arc<parking_lot::Mutex<Option<String>>>);

/// Outer middleware: times the request and records its metrics and access log line.
pub async fn observe(State(state): State<Shared>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let peer = request
        .extensions()
        .get::<ConnInfo>()
        .map_or_else(|| "-".to_string(), |c| c.peer.to_string());
    let slot = PrincipalSlot::default();
    request.extensions_mut().insert(slot.clone());
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let method_label = method.as_str().to_string();
    metrics::counter!("strom_http_requests_total", "method" => method_label.clone(),
        "route" => route.clone(), "status" => status.to_string())
    .increment(1);
    metrics::histogram!("strom_http_request_duration_seconds", "method" => method_label,
        "route" => route.clone())
    .record(elapsed.as_secs_f64());
    if status >= 400 {
        metrics::counter!("strom_http_rejected_requests_total", "status" => status.to_string())
            .increment(1);
    }
    if state.config.access_log {
        let principal = slot.0.lock().clone().unwrap_or_else(|| "-".to_string());
        tracing::info!(target: "strom::access", %peer, %principal, %method, %path, %route,
            status, duration_ms = elapsed.as_secs_f64() * 1000.0, "http request");
    }
    response
}

/// Inner middleware (after authentication): notes who the caller is for the access log.
pub async fn note_principal(request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    if let Some(slot) = parts.extensions.get::<PrincipalSlot>().cloned() {
        let Ok(Caller(session)) = Caller::from_request_parts(&mut parts, &()).await;
        *slot.0.lock() = Some(session.principal.to_string());
    }
    next.run(Request::from_parts(parts, body)).await
}
