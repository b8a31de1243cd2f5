//! The OpenAPI 3 document, built by utoipa from the same handler annotations that build the
//! router (see [`crate::routes`]), and the small documentation-side endpoints: the document
//! itself, liveness and readiness checks and the example chat page.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use utoipa::OpenApi;

use crate::state::Shared;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Strom HTTP API",
        description = "Produce, consume, feeds (http-feeds/CloudEvents, Atom), SSE, WebSocket, \
REST Proxy v2 compatibility and topic administration over Strom's log.",
        license(name = "Apache-2.0")
    ),
    tags(
        (name = "records", description = "Produce and consume by position"),
        (name = "feeds", description = "HTTP feeds, Atom archives and Server-Sent Events"),
        (name = "live", description = "WebSocket"),
        (name = "admin", description = "Topic administration"),
        (name = "rest-proxy", description = "Confluent REST Proxy v2 compatible endpoints"),
        (name = "consumers", description = "REST Proxy v2 consumer groups on the shared coordinator"),
        (name = "groups", description = "Consumer group administration"),
        (name = "meta", description = "This document, health, examples"),
        (name = "security", description = "Users (SCRAM credentials)"),
        (name = "webhooks", description = "Webhook subscriptions, delivery history and dead letters"),

        (name = "schema-registry", description = "Confluent Schema Registry compatible API: subjects, versions, schemas by id, compatibility, config and mode"),
    )
)]
pub struct ApiDoc;

/// This OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "OpenAPI 3 document", body = Object)))]
pub async fn openapi_json(State(state): State<Shared>) -> Response {
    let body = state.openapi.get().cloned().unwrap_or_default();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Liveness: 200 while the server answers requests. `status` is `degraded` (with a
/// `reason`) while writes are refused — a restart would not free the disk, so liveness stays
/// 200 and readiness (`/readyz`) says whether to send writes.
#[utoipa::path(get, path = "/healthz", tag = "meta",
    responses((status = 200, description = "`status`: `ok`, or `degraded` with a `reason`", body = Object)))]
pub async fn healthz(State(state): State<Shared>) -> Response {
    let storage = state.broker.storage_status();
    let mut body = serde_json::json!({"status": "ok", "node_id": state.broker.config().node_id});
    if let Some(reason) = storage.reason() {
        body["status"] = "degraded".into();
        body["reason"] = reason.into();
    }
    axum::Json(body).into_response()
}

/// Readiness: 200 while the server accepts writes, 503 (with a `reason`) while they are
/// refused because the data directory is full or read-only, or a partition waits to be
/// reopened after a storage failure.
#[utoipa::path(get, path = "/readyz", tag = "meta",
    responses(
        (status = 200, description = "Ready for reads and writes", body = Object),
        (status = 503, description = "Writes are refused; `reason` says why", body = Object)))]
pub async fn readyz(State(state): State<Shared>) -> Response {
    let storage = state.broker.storage_status();
    match storage.reason() {
        None => axum::Json(serde_json::json!({"status": "ready"})).into_response(),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(serde_json::json!({"status": "not ready", "reason": reason})),
        )
            .into_response(),
    }
}

/// A chat room in the browser built only on the WebSocket API.
#[utoipa::path(get, path = "/examples/chat.html", tag = "meta",
    responses((status = 200, description = "HTML page", body = String, content_type = "text/html")))]
pub async fn chat_page() -> Html<&'static str> {
    Html(include_str!("../assets/chat.html"))
}
