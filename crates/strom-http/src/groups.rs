//! Consumer group administration over HTTP (`/v1/groups`): list, describe with members and
//! lag, delete, and reset committed offsets, on the same group coordinator the Kafka
//! listener and the REST Proxy consumers use. Authorization follows Kafka's table: listing
//! shows the groups the caller may Describe, describing needs Describe on the group,
//! deleting Delete on the group, resetting Read on the group and Describe on each topic
//! (the topic checks are in [`crate::group_reset`]).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use strom_auth::{Operation, ResourceType};
use strom_broker::group::consumer::ConsumerGroupDescription;
use strom_broker::group::{decode_assignment, GroupDescription, GroupState};
use strom_broker::{GroupCoordinator, GroupError};
use utoipa::ToSchema;

use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::schemas::Problem;
use crate::state::Shared;

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupSummary {
    pub group: String,
    /// `Empty`, `Stable`, `PreparingRebalance`, `CompletingRebalance`; a KIP-848 group's
    /// `Empty`, `Assigning`, `Reconciling`, `Stable`.
    pub state: String,
    /// `consumer` for Kafka consumers; empty for a group with only standalone commits.
    pub protocol_type: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    /// Assigned partitions by topic (only for the consumer protocol, once Stable).
    pub assignment: std::collections::BTreeMap<String, Vec<i32>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupOffset {
    pub topic: String,
    pub partition: i32,
    pub committed_offset: i64,
    /// `null` when the partition no longer exists.
    pub log_end_offset: Option<i64>,
    /// Log end minus committed, never negative; `null` when the partition is gone.
    pub lag: Option<i64>,
    /// Time lag in ms: now minus the timestamp of the record at the committed offset (the
    /// oldest the group has not consumed); 0 without lag, `null` when unknown.
    pub time_lag_ms: Option<i64>,
    /// The member the partition is assigned to, if any.
    pub member_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupDetail {
    pub group: String,
    pub state: String,
    pub protocol_type: String,
    /// The assignor (`range`, `roundrobin`…) of a classic consumer group; the server-side
    /// assignor (`uniform`, `range`) of a KIP-848 consumer group.
    pub protocol: String,
    pub generation_id: i32,
    pub members: Vec<GroupMember>,
    pub offsets: Vec<GroupOffset>,
}

/// The coordinator, or 503 when this server runs without one.
pub fn coordinator(state: &Shared) -> ApiResult<&GroupCoordinator> {
    state.consumers.as_ref().map(|c| &c.groups).ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "coordinator",
            "this server has no group coordinator",
        )
    })
}

/// How a coordinator error is answered on `/v1/groups`.
pub fn group_error(group: &str, err: GroupError) -> ApiError {
    match err {
        GroupError::GroupIdNotFound => not_found(group),
        GroupError::NonEmptyGroup => ApiError::new(
            StatusCode::CONFLICT,
            "group-not-empty",
            format!("group '{group}' has active members; stop them first"),
        ),
        GroupError::InvalidGroupId => ApiError::unprocessable("invalid group id"),
        GroupError::Storage(_) => {
            tracing::error!(error = %err, "group storage failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "coordinator",
                crate::error::STORAGE_FAILURE,
            )
        }
        other => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "coordinator",
            other.to_string(),
        ),
    }
}

pub fn not_found(group: &str) -> ApiError {
    ApiError::not_found(
        "unknown-group",
        format!("consumer group '{group}' does not exist"),
    )
}

/// The group's description, or 404 when it does not exist (Kafka answers `Dead`).
pub fn existing(groups: &GroupCoordinator, group: &str) -> ApiResult<GroupDescription> {
    let described = groups
        .describe_groups(&[group.to_string()])
        .into_iter()
        .next()
        .filter(|d| d.state != GroupState::Dead)
        .ok_or_else(|| not_found(group))?;
    Ok(described)
}

/// List consumer groups (those the caller may Describe).
#[utoipa::path(get, path = "/v1/groups", tag = "groups",
    responses((status = 200, body = Vec<GroupSummary>)))]
pub async fn list(
    State(state): State<Shared>,
    Caller(session): Caller,
) -> ApiResult<Json<Vec<GroupSummary>>> {
    let authorizer = &state.config.security.authorizer;
    let groups = coordinator(&state)?
        .list_groups(&[], &[])
        .into_iter()
        .filter(|g| {
            authorizer.allowed(
                &session,
                Operation::Describe,
                ResourceType::Group,
                &g.group_id,
            )
        })
        .map(|g| GroupSummary {
            group: g.group_id,
            state: g.state.as_str().to_string(),
            protocol_type: g.protocol_type,
        })
        .collect();
    Ok(Json(groups))
}

/// Describe a group: members with their partitions, committed offsets with lag.
#[utoipa::path(get, path = "/v1/groups/{group}", tag = "groups", params(("group" = String, Path)),
    responses((status = 200, body = GroupDetail),
              (status = 404, description = "No such group", body = Problem, content_type = "application/problem+json")))]
pub async fn describe(
    State(state): State<Shared>,
    Path(group): Path<String>,
) -> ApiResult<Json<GroupDetail>> {
    let groups = coordinator(&state)?;
    let d = match groups.describe_consumer_group(&group) {
        Ok(consumer) => consumer_detail(consumer),
        Err(_) => classic_detail(existing(groups, &group)?),
    };
    let members = &d.members;
    let owner = |topic: &str, partition: i32| {
        members
            .iter()
            .find(|m| {
                m.assignment
                    .get(topic)
                    .is_some_and(|ps| ps.contains(&partition))
            })
            .map(|m| m.member_id.clone())
    };
    let mut offsets: Vec<GroupOffset> = groups
        .lag(&group)
        .map_err(|e| group_error(&group, e))?
        .into_iter()
        .map(|l| GroupOffset {
            member_id: owner(&l.topic, l.partition),
            topic: l.topic,
            partition: l.partition,
            committed_offset: l.committed_offset,
            log_end_offset: l.log_end_offset,
            lag: l.lag,
            time_lag_ms: None,
        })
        .collect();
    for o in offsets.iter_mut() {
        o.time_lag_ms = time_lag(&state, o).await;
    }
    offsets.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
    Ok(Json(GroupDetail { offsets, ..d }))
}

/// A classic group's detail (offsets filled in by the caller).
fn classic_detail(d: GroupDescription) -> GroupDetail {
    let members = d
        .members
        .iter()
        .map(|m| GroupMember {
            member_id: m.member_id.clone(),
            group_instance_id: m.group_instance_id.clone(),
            client_id: m.client_id.clone(),
            client_host: m.client_host.clone(),
            assignment: decode_assignment(&m.assignment)
                .map(|a| a.partitions)
                .unwrap_or_default(),
        })
        .collect();
    GroupDetail {
        group: d.group_id,
        state: d.state.as_str().to_string(),
        protocol_type: d.protocol_type,
        protocol: d.protocol,
        generation_id: d.generation_id,
        members,
        offsets: Vec::new(),
    }
}

/// A KIP-848 consumer group's detail: Kafka's consumer group state, the server-side
/// assignor as the protocol, the group epoch as the generation, and each member's current
/// (reconciled) assignment.
fn consumer_detail(d: ConsumerGroupDescription) -> GroupDetail {
    let members = d
        .members
        .into_iter()
        .map(|m| GroupMember {
            member_id: m.member_id,
            group_instance_id: m.instance_id,
            client_id: m.client_id,
            client_host: m.client_host,
            assignment: m
                .assignment
                .into_iter()
                .map(|(_, topic, partitions)| (topic, partitions))
                .collect(),
        })
        .collect();
    GroupDetail {
        group: d.group_id,
        state: d.state.to_string(),
        protocol_type: "consumer".to_string(),
        protocol: d.assignor,
        generation_id: d.group_epoch,
        members,
        offsets: Vec::new(),
    }
}

/// Now minus the timestamp of the record at `o`'s committed offset (0 without lag).
async fn time_lag(state: &Shared, o: &GroupOffset) -> Option<i64> {
    if o.lag? <= 0 {
        return Some(0);
    }
    let p = state.broker.partition(&o.topic, o.partition).ok()?;
    let from = o.committed_offset.max(p.log_start_offset());
    let read = crate::reader::read_uncounted(p, from, 1, 64 * 1024)
        .await
        .ok()?;
    let first = read.records.first()?;
    Some((crate::timefmt::now_ms() - first.timestamp).max(0))
}

/// Delete a group without members, with its committed offsets.
#[utoipa::path(delete, path = "/v1/groups/{group}", tag = "groups", params(("group" = String, Path)),
    responses((status = 204, description = "Deleted"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "The group has members", body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(state): State<Shared>,
    Path(group): Path<String>,
) -> ApiResult<StatusCode> {
    let groups = coordinator(&state)?;
    let outcome = groups.delete_groups(std::slice::from_ref(&group)).await;
    match outcome.into_iter().next().and_then(|(_, e)| e) {
        None => {
            tracing::info!(group = %group, "consumer group deleted over HTTP");
            Ok(StatusCode::NO_CONTENT)
        }
        Some(e) => Err(group_error(&group, e)),
    }
}
