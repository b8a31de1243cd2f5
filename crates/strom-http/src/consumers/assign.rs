//! REST Proxy v2 manual assignment (`POST|GET …/assignments`) and `topic_pattern`
//! subscriptions. A pattern is matched against the whole topic name (as Java's
//! `Pattern.matches`), never matches internal topics, and only covers topics the caller may
//! Read; it is re-evaluated every heartbeat, so a new matching topic joins the subscription.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};
use strom_auth::{Operation, ResourceType, Session};

use super::handlers::{instance, parse_body, PartitionsBody};
use super::instance::TopicResolver;
use crate::error::{ApiError, ApiResult};
use crate::restproxy::v2_json;
use crate::schemas::RestError;
use crate::state::Shared;

/// Kafka's answer to mixing `subscribe` and `assign` on one consumer.
pub fn exclusive() -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "subscription-conflict",
        "Subscription to topics, partitions and pattern are mutually exclusive.",
    )
    .code(40903)
    .rest()
}

/// The resolver of a `topic_pattern` subscription for `session`.
pub fn pattern_resolver(
    state: &Shared,
    session: &Session,
    pattern: &str,
) -> ApiResult<TopicResolver> {
    let regex = regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|_| {
        ApiError::unprocessable(format!(
            "topic_pattern '{pattern}' is not a valid regular expression"
        ))
        .code(42204)
        .rest()
    })?;
    let state = Arc::clone(state);
    let session = session.clone();
    Ok(Arc::new(move || {
        let authorizer = &state.config.security.authorizer;
        let mut topics: Vec<String> = state
            .broker
            .topics()
            .iter()
            .map(|t| t.name().to_string())
            .filter(|name| !strom_broker::is_internal_topic(name) && regex.is_match(name))
            .filter(|name| {
                authorizer.authorize(&session, Operation::Read, ResourceType::Topic, name)
            })
            .collect();
        topics.sort();
        topics
    }))
}

/// REST Proxy v2: assign partitions to this instance by hand (no group membership). Each
/// partition needs Read on its topic.
#[utoipa::path(post, path = "/consumers/{group}/instances/{instance}/assignments", tag = "consumers",
    params(("group" = String, Path), ("instance" = String, Path)),
    request_body(content((PartitionsBody = "application/vnd.kafka.v2+json"), (PartitionsBody = "application/json"))),
    responses((status = 204, description = "Assigned"), (status = 400, body = RestError),
              (status = 404, body = RestError), (status = 409, body = RestError)))]
pub async fn assign(
    State(state): State<Shared>,
    crate::caller::Caller(session): crate::caller::Caller,
    Path((group, name)): Path<(String, String)>,
    crate::body::RawBody(body): crate::body::RawBody,
) -> ApiResult<StatusCode> {
    let (all, inst) = instance(&state, &session, &group, &name)?;
    let req: PartitionsBody = parse_body(&body)?;
    if !inst.member.lock().topics.is_empty() {
        return Err(exclusive());
    }
    let mut partitions = Vec::with_capacity(req.partitions.len());
    for tp in req.partitions {
        crate::authz::check(
            &state,
            &session,
            Operation::Read,
            ResourceType::Topic,
            &tp.topic,
        )
        .map_err(ApiError::rest)?;
        state
            .broker
            .partition(&tp.topic, tp.partition)
            .map_err(|e| ApiError::from(e).rest())?;
        partitions.push((tp.topic, tp.partition));
    }
    inst.assign(partitions, &state.broker, &all.groups);
    Ok(StatusCode::NO_CONTENT)
}

/// REST Proxy v2: the partitions currently assigned to this instance.
#[utoipa::path(get, path = "/consumers/{group}/instances/{instance}/assignments", tag = "consumers",
    params(("group" = String, Path), ("instance" = String, Path)),
    responses((status = 200, body = Object, content_type = "application/vnd.kafka.v2+json"), (status = 404, body = RestError)))]
pub async fn assignments(
    State(state): State<Shared>,
    crate::caller::Caller(session): crate::caller::Caller,
    Path((group, name)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (_, inst) = instance(&state, &session, &group, &name)?;
    let parts: Vec<Value> = inst
        .member
        .lock()
        .assignment
        .iter()
        .map(|(t, p)| json!({"topic": t, "partition": p}))
        .collect();
    Ok(v2_json(json!({ "partitions": parts })))
}
