//! A topic's dead letters, for readers without a group (feeds, SSE, plain REST reads):
//! `POST /v1/topics/{topic}/dead-letters` reports a record by reference into `<topic>.dlq`
//! (the webhooks' format, `strom-dlq-source: topic`), idempotent on (partition, offset,
//! consumer); `GET` pages through them. Both routes are `Handler` in `authz.rs`: posting
//! needs Read on the topic and Write on `<topic>.dlq`; listing Read on both.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use strom_auth::{Operation, ResourceType, Session};
use strom_webhooks::reports::{dead_letter_topic, Report};
use utoipa::{IntoParams, ToSchema};

use crate::authz::check;
use crate::body::{parse_json, RawBody};
use crate::caller::Caller;
use crate::error::ApiResult;
use crate::schemas::Problem;
use crate::state::Shared;
use crate::webhooks::service;

/// Body of `POST /v1/topics/{topic}/dead-letters`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeadLetterReport {
    pub partition: i32,
    pub offset: i64,
    /// Why (1 to 1024 bytes): `strom-dlq-reason`.
    pub reason: String,
    /// Who gave up on it (1 to 1024 bytes; part of the idempotency key): `strom-dlq-consumer`.
    pub consumer: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct PageParams {
    /// First dead-letter offset [default: the first one kept].
    pub from: Option<i64>,
    /// At most this many [default: 100, at most 1000].
    pub limit: Option<usize>,
}

/// Report a record of the topic as a dead letter: it is copied (key, value, timestamp,
/// headers) to `<topic>.dlq` (created on first use: one partition, `cleanup.policy=delete`)
/// with `strom-dlq-*` headers (`source` `topic`, `topic`, `partition`, `offset`, `consumer`,
/// `reason`, `principal`, `time`). 201 with `dead_letter_offset`; a report of the same
/// (partition, offset, consumer) still retained answers 200 with the first one's offset and
/// `"duplicate": true`. 404 unknown topic or partition, 409 when `<topic>.dlq` is not this
/// topic's dead-letter topic, 422 offset out of range or a name over 249 characters.
#[utoipa::path(post, path = "/v1/topics/{topic}/dead-letters", tag = "records",
    params(("topic" = String, Path)),
    request_body(content = DeadLetterReport, content_type = "application/json"),
    responses((status = 201, body = Object), (status = 200, body = Object, description = "Already reported"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn report(
    State(state): State<Shared>,
    Caller(session): Caller,
    Path(topic): Path<String>,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    check_topic_and_dlq(&state, &session, &topic, Operation::Write)?;
    let req: DeadLetterReport = parse_json(&body)?;
    let svc = service(&state)?;
    let report = Report {
        topic,
        partition: req.partition,
        offset: req.offset,
        reason: req.reason,
    };
    let principal = session.principal.to_string();
    let filed = svc.report(report, req.consumer, &principal).await?;
    let status = if filed.duplicate {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(json!(filed))).into_response())
}

/// A page of the topic's dead letters (`<topic>.dlq`), oldest first, as the webhooks' pages:
/// `{"dead_letters", "start_offset", "end_offset", "next_offset"}`; empty while none was
/// reported. 409 when `<topic>.dlq` is not this topic's dead-letter topic.
#[utoipa::path(get, path = "/v1/topics/{topic}/dead-letters", tag = "records",
    params(("topic" = String, Path), PageParams),
    responses((status = 200, body = Object),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<Shared>,
    Caller(session): Caller,
    Path(topic): Path<String>,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<Value>> {
    check_topic_and_dlq(&state, &session, &topic, Operation::Read)?;
    let svc = service(&state)?;
    let limit = page.limit.unwrap_or(100);
    Ok(Json(json!(
        svc.topic_dead_letters(&topic, page.from, limit).await?
    )))
}

/// The checks of both routes: Read on the topic, then `on_dlq` on `<topic>.dlq`.
fn check_topic_and_dlq(
    state: &Shared,
    session: &Session,
    topic: &str,
    on_dlq: Operation,
) -> ApiResult<()> {
    check(state, session, Operation::Read, ResourceType::Topic, topic)?;
    check(
        state,
        session,
        on_dlq,
        ResourceType::Topic,
        &dead_letter_topic(topic),
    )
}
