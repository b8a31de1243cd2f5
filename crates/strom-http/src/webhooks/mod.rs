//! `/v1/webhooks`: webhook subscriptions over HTTP (what `strom webhook` drives), on the
//! [`strom_webhooks::Webhooks`] service. Authorization, one check per action on the
//! subscription's consumer group `webhook.<name>` (docs/webhooks.md): creating needs Alter on
//! the group and Read on every topic; reading a subscription, its attempts Describe; every
//! change (patch, delete, pause, resume, test, secret, rotate, redrive, skip) Alter; dead
//! letters also Read on the dead-letter topic, and redrive to a topic Write on it. Secrets are answered only at creation and by the
//! secret endpoints, and never logged.

pub mod dlq;
pub mod ops;

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};
use strom_auth::{Operation, ResourceType};
use strom_webhooks::model::{group_id, EndpointState, SubscriptionPatch, SubscriptionSpec};
use strom_webhooks::Webhooks;

use crate::authz::check;
use crate::body::{parse_json, require_json, RawBody};
use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::schemas::Problem;
use crate::state::Shared;

/// The service, or 404 when this server runs without webhooks.
pub(crate) fn service(state: &Shared) -> ApiResult<Arc<Webhooks>> {
    state
        .config
        .webhooks
        .clone()
        .ok_or_else(|| ApiError::not_found("webhooks-disabled", "webhooks are not enabled"))
}

/// `operation` on the subscription's group.
pub(crate) fn check_sub(
    state: &Shared,
    caller: &Caller,
    operation: Operation,
    name: &str,
) -> ApiResult<()> {
    check(
        state,
        &caller.0,
        operation,
        ResourceType::Group,
        &group_id(name),
    )
}

/// List the subscriptions the caller may Describe.
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks",
    responses((status = 200, body = Object)))]
pub async fn list(State(state): State<Shared>, caller: Caller) -> ApiResult<Json<Value>> {
    let svc = service(&state)?;
    let authorizer = &state.config.security.authorizer;
    let visible: Vec<_> = svc
        .list()
        .into_iter()
        .filter(|s| {
            authorizer.allowed(
                &caller.0,
                Operation::Describe,
                ResourceType::Group,
                &s.group,
            )
        })
        .collect();
    Ok(Json(json!(visible)))
}

/// Create a subscription; the answer carries its signing secret (`secret`), shown again
/// only by `GET /v1/webhooks/{name}/secret`.
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks",
    request_body(content = Object, content_type = "application/json"),
    responses((status = 201, body = Object),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<Shared>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let svc = service(&state)?;
    require_json(&headers)?;
    let spec: SubscriptionSpec = parse_json(&body)?;
    check_sub(&state, &caller, Operation::Alter, &spec.name)?;
    for topic in &spec.topics {
        check(
            &state,
            &caller.0,
            Operation::Read,
            ResourceType::Topic,
            topic,
        )?;
    }
    let (view, secret) = svc.create(spec).await?;
    tracing::info!(subscription = %view.name, url = %view.url, by = %caller.0.principal,
        "webhook subscription created");
    let mut answer = json!(view);
    answer["secret"] = json!(secret);
    Ok((StatusCode::CREATED, Json(answer)))
}

/// Describe a subscription (no secret) with its delivery state: `rates` (deliveries and
/// failed attempts per second over the last minute), `lag_records`, `lag_seconds`,
/// `blocked` events, `retries_pending`, counters and the 20 `recent_attempts`.
#[utoipa::path(get, path = "/v1/webhooks/{name}", tag = "webhooks", params(("name" = String, Path)),
    responses((status = 200, body = Object),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(state): State<Shared>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let svc = service(&state)?;
    check_sub(&state, &caller, Operation::Describe, &name)?;
    Ok(Json(json!(svc.status(&name).await?)))
}

/// Change a subscription: any of `url`, `filter`, `payload`, `headers`, `timeout_ms`,
/// `concurrency`, `rate_limit_per_sec` (0: none), `ordering`, `retry_schedule_ms`,
/// `failure_policy`, `disable_after_ms`; rotate its secret with `secret` (given) or
/// `"rotate_secret": true` (generated, answered once as `secret`), old ones signing for
/// `keep_old_ms`. Delivery goes on from the committed positions.
#[utoipa::path(patch, path = "/v1/webhooks/{name}", tag = "webhooks", params(("name" = String, Path)),
    request_body(content = Object, content_type = "application/json"),
    responses((status = 200, body = Object),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn update(
    State(state): State<Shared>,
    caller: Caller,
    Path(name): Path<String>,
    headers: axum::http::HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Json<Value>> {
    let svc = service(&state)?;
    check_sub(&state, &caller, Operation::Alter, &name)?;
    require_json(&headers)?;
    let patch: SubscriptionPatch = parse_json(&body)?;
    let (view, secret) = svc.update(&name, &patch).await?;
    tracing::info!(subscription = %name, by = %caller.0.principal, "webhook subscription changed");
    let mut answer = json!(view);
    if let Some(secret) = secret {
        answer["secret"] = json!(secret);
    }
    Ok(Json(answer))
}

/// Delete a subscription and its group; its dead-letter topic stays.
#[utoipa::path(delete, path = "/v1/webhooks/{name}", tag = "webhooks", params(("name" = String, Path)),
    responses((status = 204, description = "Deleted"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(state): State<Shared>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<StatusCode> {
    let svc = service(&state)?;
    check_sub(&state, &caller, Operation::Alter, &name)?;
    svc.delete(&name).await?;
    tracing::info!(subscription = %name, by = %caller.0.principal, "webhook subscription deleted");
    Ok(StatusCode::NO_CONTENT)
}

async fn set_state(
    state: Shared,
    caller: Caller,
    name: String,
    to: EndpointState,
) -> ApiResult<Json<Value>> {
    let svc = service(&state)?;
    check_sub(&state, &caller, Operation::Alter, &name)?;
    Ok(Json(json!(svc.set_state(&name, to).await?)))
}

/// Stop delivering (positions are kept).
#[utoipa::path(post, path = "/v1/webhooks/{name}/pause", tag = "webhooks", params(("name" = String, Path)),
    responses((status = 200, body = Object),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn pause(
    State(state): State<Shared>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    set_state(state, caller, name, EndpointState::Paused).await
}

/// Deliver again (also after a 410 disabled the endpoint).
#[utoipa::path(post, path = "/v1/webhooks/{name}/resume", tag = "webhooks", params(("name" = String, Path)),
    responses((status = 200, body = Object),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn resume(
    State(state): State<Shared>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    set_state(state, caller, name, EndpointState::Active).await
}
