//! `POST /v1/groups/{group}/offsets/reset`: moves a group's committed offsets as
//! `kafka-consumer-groups --reset-offsets` does: to the earliest or latest offset, an
//! absolute offset, the first offset at a time, or shifted by N; clamped to what the log
//! holds; all partitions of the topics, or only some of one topic. A dry run unless
//! `execute` is true, and only while the group has no members.
//! Needs Read on the group (route rule) and Describe on every topic touched (checked here).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use strom_auth::{Operation, ResourceType};
use strom_broker::group::{GroupError, GroupState, OffsetCommitEntry, OffsetCommitRequest};
use utoipa::ToSchema;

use crate::body::{parse_json, require_json, RawBody};
use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::groups::{coordinator, group_error};
use crate::schemas::Problem;
use crate::state::Shared;

/// Where to move the offsets: `"earliest"`, `"latest"`, `{"offset": N}`,
/// `{"datetime": "2026-12-01T10:00:00Z"}` (or epoch ms), `{"shift_by": -N}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResetTo {
    Earliest,
    Latest,
    Offset(i64),
    Datetime(String),
    ShiftBy(i64),
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// Topics to reset (all their partitions); omitted: every topic the group committed to.
    #[serde(default)]
    pub topics: Option<Vec<String>>,
    /// Only these partitions of the one topic in `topics`; omitted: all its partitions.
    #[serde(default)]
    pub partitions: Option<Vec<i32>>,
    pub to: ResetTo,
    /// Commit the new offsets; otherwise only report them (dry run).
    #[serde(default)]
    pub execute: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResetPartition {
    pub topic: String,
    pub partition: i32,
    /// `null` when nothing was committed.
    pub current_offset: Option<i64>,
    pub new_offset: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ResetResponse {
    pub group: String,
    /// False for a dry run.
    pub executed: bool,
    pub partitions: Vec<ResetPartition>,
}

/// Reset a group's committed offsets (dry run unless `execute`).
#[utoipa::path(post, path = "/v1/groups/{group}/offsets/reset", tag = "groups",
    params(("group" = String, Path)), request_body = ResetRequest,
    responses((status = 200, body = ResetResponse),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "Unknown group or topic", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The group has members", body = Problem, content_type = "application/problem+json")))]
pub async fn reset(
    State(state): State<Shared>,
    Caller(session): Caller,
    Path(group): Path<String>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Json<ResetResponse>> {
    require_json(&headers)?;
    let request: ResetRequest = parse_json(&body)?;
    let groups = coordinator(&state)?;
    let described = groups
        .describe_groups(std::slice::from_ref(&group))
        .into_iter()
        .next();
    let group_state = described.map_or(GroupState::Dead, |d| d.state);
    if let Ok(consumer) = groups.describe_consumer_group(&group) {
        if !consumer.members.is_empty() {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "group-not-empty",
                format!(
                    "offsets of group '{group}' can only be reset while it has no members; it has {}",
                    consumer.members.len()
                ),
            ));
        }
    } else if !matches!(group_state, GroupState::Empty | GroupState::Dead) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "group-not-empty",
            format!(
                "offsets of group '{group}' can only be reset while it has no members; it is {}",
                group_state.as_str()
            ),
        ));
    }
    let current: BTreeMap<(String, i32), i64> = groups
        .fetch_offsets(&group, None)
        .into_iter()
        .map(|f| ((f.topic, f.partition), f.offset))
        .collect();
    let only = only_partitions(&request.partitions, request.topics.as_deref())?;
    let topics = match request.topics {
        Some(t) => t,
        None if current.is_empty() => return Err(crate::groups::not_found(&group)),
        None => {
            let mut t: Vec<String> = current.keys().map(|(t, _)| t.clone()).collect();
            t.dedup();
            t
        }
    };
    let mut plan = Vec::new();
    for topic in &topics {
        crate::authz::check(
            &state,
            &session,
            Operation::Describe,
            ResourceType::Topic,
            topic,
        )?;
        let t = state.topic(topic)?;
        for p in t.partitions().iter() {
            if only.is_some_and(|ps| !ps.contains(&p.index())) {
                continue;
            }
            let committed = current.get(&(topic.clone(), p.index())).copied();
            let target = target(&request.to, p, committed)?;
            let new_offset = target.clamp(p.log_start_offset(), p.high_watermark());
            plan.push(ResetPartition {
                topic: topic.clone(),
                partition: p.index(),
                current_offset: committed,
                new_offset,
            });
        }
    }
    if only.is_some_and(|ps| ps.len() != plan.len()) {
        return Err(ApiError::bad_request(
            "partitions must name distinct partitions of the topic",
        ));
    }
    if request.execute {
        commit(groups, &group, &plan).await?;
        tracing::info!(group = %group, partitions = plan.len(), "group offsets reset over HTTP");
    }
    Ok(Json(ResetResponse {
        group,
        executed: request.execute,
        partitions: plan,
    }))
}

/// The partitions a reset is limited to: only with exactly one topic named.
fn only_partitions<'a>(
    partitions: &'a Option<Vec<i32>>,
    topics: Option<&[String]>,
) -> ApiResult<Option<&'a Vec<i32>>> {
    match partitions {
        Some(_) if topics.map_or(0, <[String]>::len) != 1 => Err(ApiError::bad_request(
            "partitions needs exactly one topic in topics",
        )),
        Some(ps) if ps.is_empty() => Err(ApiError::bad_request("partitions is empty")),
        other => Ok(other.as_ref()),
    }
}

/// The wanted offset of one partition before clamping.
fn target(to: &ResetTo, p: &strom_broker::Partition, committed: Option<i64>) -> ApiResult<i64> {
    Ok(match to {
        ResetTo::Earliest => p.log_start_offset(),
        ResetTo::Latest => p.high_watermark(),
        ResetTo::Offset(o) => *o,
        ResetTo::ShiftBy(n) => committed
            .unwrap_or_else(|| p.log_start_offset())
            .saturating_add(*n),
        ResetTo::Datetime(text) => {
            let ms = crate::timefmt::parse_timestamp(text)?;
            match p.offset_for_timestamp(ms)? {
                Some((offset, _)) => offset,
                None => p.high_watermark(),
            }
        }
    })
}

async fn commit(
    groups: &strom_broker::GroupCoordinator,
    group: &str,
    plan: &[ResetPartition],
) -> ApiResult<()> {
    let request = OffsetCommitRequest {
        group_id: group.to_string(),
        generation_id: -1,
        member_id: String::new(),
        group_instance_id: None,
        offsets: plan
            .iter()
            .map(|p| OffsetCommitEntry {
                topic: p.topic.clone(),
                partition: p.partition,
                offset: p.new_offset,
                leader_epoch: -1,
                metadata: None,
            })
            .collect(),
    };
    let results = groups
        .commit_offsets(request)
        .await
        .map_err(|e| group_error(group, e))?;
    if let Some(failed) = results.into_iter().find(|r| r.error.is_some()) {
        let detail = match failed.error {
            // Its text can name server paths: answered as the coordinator's storage failure.
            Some(err @ GroupError::Storage(_)) => return Err(group_error(group, err)),
            other => other.map(|e| e.to_string()).unwrap_or_default(),
        };
        return Err(ApiError::unprocessable(format!(
            "cannot commit {}-{}: {detail}",
            failed.topic, failed.partition
        )));
    }
    Ok(())
}
