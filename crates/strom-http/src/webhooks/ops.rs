//! Operator endpoints of a subscription: test event, secret and rotation, attempt history,
//! skip a blocked event, resend one event, and the deprecated `…/dead-letters` aliases of [`super::dlq`].

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use strom_auth::{Operation, ResourceType};
use strom_webhooks::resend::ResendRequest;

use super::dlq::{check_dead_letters, Page};
use super::{check_sub, service};
use crate::authz::check;
use crate::body::{parse_optional_json, RawBody};
use crate::caller::Caller;
use crate::error::ApiResult;
use crate::schemas::Problem;
use crate::state::Shared;

/// Send a `strom.test` event now and answer how it went.
#[utoipa::path(post, path = "/v1/webhooks/{name}/test", tag = "webhooks", params(("name" = String, Path)),
    responses((status = 200, body = Object),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn test(
    State(state): State<Shared>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let svc = service(&state)?;
    check_sub(&state, &caller, Operation::Alter, &name)?;
    Ok(Json(json!(svc.test(&name).await?)))
}

/// The live signing secrets, newest first.
#[utoipa::path(get, path = "/v1/webhooks/{name}/secret", tag = "webhooks", params(("name" = String, Path)),
    responses((status = 200, body = Object),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn secret(
    State(state): State<Shared>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let svc = service(&state)?;
    check_sub(&state, &caller, Operation::Alter, &name)?;
    let secrets: Vec<Value> = svc
        .secrets(&name)?
        .into_iter()
        .map(|s| json!({"secret": s.secret, "expires_ms": s.expires_ms}))
        .collect();
    Ok(Json(
        json!({"secret": secrets.first().map(|s| s["secret"].clone()), "secrets": secrets}),
    ))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Rotate {
    /// How long the old secrets keep signing [default: 24 h].
    #[serde(default)]
    keep_old_ms: Option<i64>,
}

/// Add a new secret; the old ones keep signing for `keep_old_ms` (default 24 h).
#[utoipa::path(post, path = "/v1/webhooks/{name}/secret/rotate", tag = "webhooks", params(("name" = String, Path)),
    request_body(content = Object, content_type = "application/json"),
    responses((status = 200, body = Object),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn rotate(
    State(state): State<Shared>,
    caller: Caller,
    Path(name): Path<String>,
    RawBody(body): RawBody,
) -> ApiResult<Json<Value>> {
    let svc = service(&state)?;
    check_sub(&state, &caller, Operation::Alter, &name)?;
    let req: Rotate = parse_optional_json(&body)?;
    let secret = svc.rotate(&name, req.keep_old_ms).await?;
    tracing::info!(subscription = %name, by = %caller.0.principal, "webhook secret rotated");
    Ok(Json(json!({"secret": secret})))
}

/// The last attempts (newest first) with status, latency and error.
#[utoipa::path(get, path = "/v1/webhooks/{name}/attempts", tag = "webhooks", params(("name" = String, Path)),
    responses((status = 200, body = Object),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn attempts(
    State(state): State<Shared>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let svc = service(&state)?;
    check_sub(&state, &caller, Operation::Describe, &name)?;
    Ok(Json(json!(svc.attempts(&name)?)))
}

/// Deprecated alias of `GET …/dlq`: the dead letters as an array.
#[utoipa::path(get, path = "/v1/webhooks/{name}/dead-letters", tag = "webhooks",
    params(("name" = String, Path), Page),
    responses((status = 200, body = Object),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn dead_letters(
    State(state): State<Shared>,
    caller: Caller,
    Path(name): Path<String>,
    Query(page): Query<Page>,
) -> ApiResult<Json<Value>> {
    check_dead_letters(&state, &caller, &name)?;
    let svc = service(&state)?;
    let page = svc
        .dead_letter_page(&name, page.from, page.limit.unwrap_or(100))
        .await?;
    Ok(Json(json!(page.dead_letters)))
}

/// Deprecated alias of `POST …/dlq/redrive`.
#[utoipa::path(post, path = "/v1/webhooks/{name}/dead-letters/redrive", tag = "webhooks",
    params(("name" = String, Path)),
    request_body(content = Object, content_type = "application/json"),
    responses((status = 200, body = Object),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn redrive(
    state: State<Shared>,
    caller: Caller,
    name: Path<String>,
    body: RawBody,
) -> ApiResult<Json<Value>> {
    super::dlq::redrive(state, caller, name, body).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Skip {
    topic: Option<String>,
    partition: Option<i32>,
}

/// Skip the event a blocked partition is stopped at (it is dead-lettered as `skipped`).
#[utoipa::path(post, path = "/v1/webhooks/{name}/skip", tag = "webhooks", params(("name" = String, Path)),
    request_body(content = Object, content_type = "application/json"),
    responses((status = 200, body = Object),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn skip(
    State(state): State<Shared>,
    caller: Caller,
    Path(name): Path<String>,
    RawBody(body): RawBody,
) -> ApiResult<Json<Value>> {
    let svc = service(&state)?;
    check_sub(&state, &caller, Operation::Alter, &name)?;
    let req: Skip = parse_optional_json(&body)?;
    let only = req.topic.zip(req.partition);
    Ok(Json(json!({"skipped": svc.skip(&name, only)?})))
}

/// Deliver one retained record of a subscribed topic once more, with its original
/// `webhook-id`, outside the ordered stream (one attempt; the committed position does not
/// move). Needs Alter on the group and Read on the topic.
#[utoipa::path(post, path = "/v1/webhooks/{name}/resend", tag = "webhooks", params(("name" = String, Path)),
    request_body(content = Object, content_type = "application/json"),
    responses((status = 200, body = Object),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn resend(
    State(state): State<Shared>,
    caller: Caller,
    Path(name): Path<String>,
    RawBody(body): RawBody,
) -> ApiResult<Json<Value>> {
    let svc = service(&state)?;
    check_sub(&state, &caller, Operation::Alter, &name)?;
    let req: ResendRequest = crate::body::parse_json(&body)?;
    check(
        &state,
        &caller.0,
        Operation::Read,
        ResourceType::Topic,
        &req.topic,
    )?;
    let attempt = svc.resend_event(&name, &req).await?;
    tracing::info!(subscription = %name, by = %caller.0.principal, topic = %req.topic,
        partition = req.partition, offset = req.offset, result = %attempt.result, "webhook event resent");
    Ok(Json(json!(attempt)))
}
