//! A subscription's dead letters: `GET /v1/webhooks/{name}/dlq` (a page, with the
//! `strom-dlq-*` failure headers as fields) and `POST …/dlq/redrive` (to the subscription, or
//! back to the topics they came from). Listing needs Describe on the group `webhook.<name>`
//! and Read on the dead-letter topic; redrive also Alter on the group, and Write on every
//! topic it produces to.

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use strom_auth::{Operation, ResourceType};
use strom_webhooks::redrive::{Selection, Target};
use utoipa::IntoParams;

use super::{check_sub, service};
use crate::authz::check;
use crate::body::{parse_optional_json, RawBody};
use crate::caller::Caller;
use crate::error::ApiResult;
use crate::schemas::Problem;
use crate::state::Shared;

#[derive(Debug, Deserialize, IntoParams)]
pub struct Page {
    /// First dead-letter offset [default: the first one kept].
    pub from: Option<i64>,
    /// At most this many [default: 100, at most 1000].
    pub limit: Option<usize>,
}

/// Describe on the group and Read on the dead-letter topic.
pub(crate) fn check_dead_letters(state: &Shared, caller: &Caller, name: &str) -> ApiResult<()> {
    let svc = service(state)?;
    check_sub(state, caller, Operation::Describe, name)?;
    let topic = svc.get(name)?.dead_letter_topic;
    check(
        state,
        &caller.0,
        Operation::Read,
        ResourceType::Topic,
        &topic,
    )
}

/// A page of dead letters, oldest first: the original record and why it failed
/// (`event_id`, `topic`, `partition`, `source_offset`, `attempts`, `first_attempt`,
/// `last_attempt`, `reason`, `status`, `error`, `response`); `next_offset` pages on.
#[utoipa::path(get, path = "/v1/webhooks/{name}/dlq", tag = "webhooks",
    params(("name" = String, Path), Page),
    responses((status = 200, body = Object),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<Shared>,
    caller: Caller,
    Path(name): Path<String>,
    Query(page): Query<Page>,
) -> ApiResult<Json<Value>> {
    check_dead_letters(&state, &caller, &name)?;
    let svc = service(&state)?;
    let limit = page.limit.unwrap_or(100);
    Ok(Json(json!(
        svc.dead_letter_page(&name, page.from, limit).await?
    )))
}

/// Redrive dead letters: `{"offset":n}`, `{"offsets":[…]}`, or those from `from_offset`
/// written since `since_ms` (`{}`: all), at most 1000 per call (`next_offset` continues).
/// `"to": "subscription"` (default) delivers them again with their original event ids;
/// `"to": "topic"` produces them, as new events, to the partition each came from.
#[utoipa::path(post, path = "/v1/webhooks/{name}/dlq/redrive", tag = "webhooks",
    params(("name" = String, Path)),
    request_body(content = Object, content_type = "application/json"),
    responses((status = 200, body = Object),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn redrive(
    State(state): State<Shared>,
    caller: Caller,
    Path(name): Path<String>,
    RawBody(body): RawBody,
) -> ApiResult<Json<Value>> {
    check_dead_letters(&state, &caller, &name)?;
    check_sub(&state, &caller, Operation::Alter, &name)?;
    let selection: Selection = parse_optional_json(&body)?;
    let svc = service(&state)?;
    let selected = svc.select_dead_letters(&name, &selection).await?;
    if selection.to == Target::Topic {
        for topic in selected.topics() {
            check(
                &state,
                &caller.0,
                Operation::Write,
                ResourceType::Topic,
                &topic,
            )?;
        }
    }
    let done = svc.redrive(&name, selected, selection.to).await?;
    tracing::info!(subscription = %name, by = %caller.0.principal, delivered = done.delivered.len(),
        produced = done.produced.len(), failed = done.failed.len(), "webhook dead letters redriven");
    Ok(Json(json!(done)))
}
