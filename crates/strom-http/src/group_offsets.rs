//! `DELETE /v1/groups/{group}/offsets?topic=&partitions=`: deletes a group's committed
//! offsets of one topic (all its committed partitions, or the listed ones), as Kafka's
//! OffsetDelete (API 47, KIP-496) and `kafka-consumer-groups --delete-offsets` do, on the
//! same group coordinator. Needs Delete on the group (route rule) and Read on the topic
//! (checked here), as Kafka's OffsetDelete. Refused while a member of the group subscribes
//! to the topic (409), as Kafka's `GROUP_SUBSCRIBED_TO_TOPIC`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use strom_auth::{Operation, ResourceType};
use strom_broker::group::TopicPartitions;
use strom_broker::GroupError;
use utoipa::{IntoParams, ToSchema};

use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::groups::{coordinator, group_error};
use crate::schemas::Problem;
use crate::state::Shared;

/// Which offsets to delete.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteOffsetsParams {
    /// The topic whose committed offsets are deleted.
    pub topic: String,
    /// Comma-separated partitions (`0,2`); omitted: every partition with a committed offset.
    pub partitions: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedOffset {
    pub partition: i32,
    /// The offset that was committed, `null` when there was none (nothing deleted).
    pub deleted_offset: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeleteOffsetsResponse {
    pub group: String,
    pub topic: String,
    pub partitions: Vec<DeletedOffset>,
}

fn parse_partitions(text: &str) -> ApiResult<Vec<i32>> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match part.parse::<i32>() {
            Ok(p) if p >= 0 => out.push(p),
            _ => {
                return Err(ApiError::bad_request(
                    "partitions must be comma-separated partition numbers",
                ))
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    if out.is_empty() {
        return Err(ApiError::bad_request("partitions names no partition"));
    }
    Ok(out)
}

/// Delete a group's committed offsets of one topic.
#[utoipa::path(delete, path = "/v1/groups/{group}/offsets", tag = "groups",
    params(("group" = String, Path), DeleteOffsetsParams),
    responses((status = 200, body = DeleteOffsetsResponse),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "Unknown group, or no committed offset of the topic", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "A member of the group subscribes to the topic", body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(state): State<Shared>,
    Caller(session): Caller,
    Path(group): Path<String>,
    Query(params): Query<DeleteOffsetsParams>,
) -> ApiResult<Json<DeleteOffsetsResponse>> {
    let topic = params.topic;
    crate::authz::check(
        &state,
        &session,
        Operation::Read,
        ResourceType::Topic,
        &topic,
    )?;
    let groups = coordinator(&state)?;
    crate::groups::existing(groups, &group)?;
    let committed: Vec<(i32, i64)> = groups
        .fetch_offsets(&group, None)
        .into_iter()
        .filter(|f| f.topic == topic && f.offset >= 0)
        .map(|f| (f.partition, f.offset))
        .collect();
    let partitions = match params.partitions.as_deref() {
        Some(text) => parse_partitions(text)?,
        None if committed.is_empty() => {
            return Err(ApiError::not_found(
                "no-committed-offsets",
                format!("group '{group}' has no committed offset on topic '{topic}'"),
            ))
        }
        None => committed.iter().map(|(p, _)| *p).collect(),
    };
    let wanted = [TopicPartitions {
        topic: topic.clone(),
        partitions: partitions.clone(),
    }];
    let results = groups
        .delete_offsets(&group, &wanted)
        .await
        .map_err(|e| group_error(&group, e))?;
    if let Some(err) = results.into_iter().find_map(|r| r.error) {
        return Err(match err {
            GroupError::GroupSubscribedToTopic => ApiError::new(
                StatusCode::CONFLICT,
                "group-subscribed-to-topic",
                format!("a member of group '{group}' subscribes to topic '{topic}'; stop it first"),
            ),
            other => group_error(&group, other),
        });
    }
    tracing::info!(group = %group, topic = %topic, partitions = partitions.len(), "group offsets deleted over HTTP");
    let offset_of = |p: i32| committed.iter().find(|(q, _)| *q == p).map(|(_, o)| *o);
    Ok(Json(DeleteOffsetsResponse {
        partitions: partitions
            .into_iter()
            .map(|partition| DeletedOffset {
                partition,
                deleted_offset: offset_of(partition),
            })
            .collect(),
        group,
        topic,
    }))
}

#[cfg(test)]
mod tests {
    use super::parse_partitions;

    #[test]
    fn partitions_are_parsed_sorted_and_deduplicated() {
        assert_eq!(parse_partitions("2, 0,2").ok(), Some(vec![0, 2]));
        assert!(parse_partitions("a").is_err());
        assert!(parse_partitions("-1").is_err());
        assert!(parse_partitions(" , ").is_err());
    }
}
