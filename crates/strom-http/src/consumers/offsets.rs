//! REST Proxy v2 offsets: commit the given offsets or every fetched position, and read the
//! group's committed offsets.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};
use strom_broker::group::{OffsetCommitEntry, OffsetCommitRequest, TopicPartitions};
use strom_broker::GroupError;
use utoipa::IntoParams;

use super::handlers::{
    group_error, instance, parse_body, OffsetsBody, PartitionOffset, PartitionsBody,
};
use super::instance::{Instance, UNDEFINED};
use super::Consumers;
use crate::body::RawBody;
use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::restproxy::v2_json;
use crate::schemas::RestError;
use crate::state::Shared;

pub(super) async fn commit_positions(
    all: &Consumers,
    inst: &Instance,
    explicit: Option<Vec<PartitionOffset>>,
) -> ApiResult<()> {
    let (member_id, generation, offsets) = {
        let m = inst.member.lock();
        let offsets: Vec<(String, i32, i64)> = match explicit {
            // REST Proxy convention: the offset given is the last record consumed.
            Some(list) => list
                .into_iter()
                .map(|o| (o.topic, o.partition, o.offset + 1))
                .collect(),
            None => m
                .positions
                .iter()
                .filter(|(_, o)| **o != UNDEFINED)
                .map(|((t, p), o)| (t.clone(), *p, *o))
                .collect(),
        };
        let (id, generation) = if m.member_id.is_empty() {
            (String::new(), -1)
        } else {
            (m.member_id.clone(), m.generation)
        };
        (id, generation, offsets)
    };
    let results = all
        .groups
        .commit_offsets(OffsetCommitRequest {
            group_id: inst.group.clone(),
            generation_id: generation,
            member_id,
            group_instance_id: None,
            offsets: offsets
                .iter()
                .map(|(t, p, o)| OffsetCommitEntry {
                    topic: t.clone(),
                    partition: *p,
                    offset: *o,
                    leader_epoch: -1,
                    metadata: None,
                })
                .collect(),
        })
        .await
        .map_err(group_error)?;
    if let Some(failed) = results.iter().find(|r| r.error.is_some()) {
        return Err(group_error(
            failed
                .error
                .clone()
                .unwrap_or(GroupError::UnknownTopicOrPartition),
        ));
    }
    Ok(())
}

/// REST Proxy v2: commit offsets (the given ones, or every fetched position when the body is
/// empty). A given offset is the last record processed; the group stores the next one.
#[utoipa::path(post, path = "/consumers/{group}/instances/{instance}/offsets", tag = "consumers",
    params(("group" = String, Path), ("instance" = String, Path)),
    request_body(content((OffsetsBody = "application/vnd.kafka.v2+json"), (OffsetsBody = "application/json"))),
    responses((status = 200, description = "Committed (empty body, as Confluent's)"), (status = 400, body = RestError),
              (status = 404, body = RestError), (status = 409, body = RestError), (status = 422, body = RestError)))]
pub async fn commit(
    State(state): State<Shared>,
    Caller(session): Caller,
    Path((group, name)): Path<(String, String)>,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let (all, inst) = instance(&state, &session, &group, &name)?;
    let req: OffsetsBody = parse_body(&body)?;
    for o in &req.offsets {
        let read = strom_auth::Operation::Read;
        crate::authz::check(
            &state,
            &session,
            read,
            strom_auth::ResourceType::Topic,
            &o.topic,
        )
        .map_err(ApiError::rest)?;
    }
    let explicit = if req.offsets.is_empty() {
        None
    } else {
        Some(req.offsets)
    };
    commit_positions(&all, &inst, explicit).await?;
    // Confluent's REST Proxy answers a commit with an empty body.
    Ok(StatusCode::OK.into_response())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CommittedParams {
    /// `topic:partition` pairs, comma-separated (instead of the GET body REST Proxy uses).
    pub partitions: Option<String>,
}

/// REST Proxy v2: last committed offsets (partitions from the body, the query, or the assignment).
#[utoipa::path(get, path = "/consumers/{group}/instances/{instance}/offsets", tag = "consumers",
    params(("group" = String, Path), ("instance" = String, Path), CommittedParams),
    responses((status = 200, body = Object, content_type = "application/vnd.kafka.v2+json"), (status = 400, body = RestError), (status = 404, body = RestError)))]
pub async fn committed(
    State(state): State<Shared>,
    Caller(session): Caller,
    Path((group, name)): Path<(String, String)>,
    Query(params): Query<CommittedParams>,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let (all, inst) = instance(&state, &session, &group, &name)?;
    let req: PartitionsBody = parse_body(&body)?;
    let mut wanted: Vec<(String, i32)> = req
        .partitions
        .into_iter()
        .map(|tp| (tp.topic, tp.partition))
        .collect();
    if let Some(list) = params.partitions {
        for item in list.split(',').filter(|s| !s.is_empty()) {
            let (t, p) = item
                .rsplit_once(':')
                .and_then(|(t, p)| p.parse::<i32>().ok().map(|p| (t.to_string(), p)))
                .ok_or_else(|| {
                    ApiError::bad_request(format!("'{item}' is not topic:partition")).rest()
                })?;
            wanted.push((t, p));
        }
    }
    if wanted.is_empty() {
        wanted = inst.member.lock().assignment.clone();
    }
    let topics: Vec<TopicPartitions> = wanted
        .iter()
        .map(|(t, p)| TopicPartitions {
            topic: t.clone(),
            partitions: vec![*p],
        })
        .collect();
    let offsets: Vec<Value> = all
        .groups
        .fetch_offsets(&group, Some(&topics))
        .into_iter()
        .map(|f| json!({"topic": f.topic, "partition": f.partition, "offset": f.offset, "metadata": f.metadata}))
        .collect();
    Ok(v2_json(json!({ "offsets": offsets })))
}
