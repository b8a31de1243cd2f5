//! Topic administration: list, create, describe (partitions with offsets and sizes,
//! effective configs), delete, grow partitions and alter configs.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use strom_broker::{BrokerError, Topic};
use utoipa::ToSchema;

use crate::body::{parse_json, require_json, RawBody};
use crate::error::{ApiError, ApiResult};
use crate::schemas::Problem;
use crate::state::Shared;

#[derive(Debug, Serialize, ToSchema)]
pub struct PartitionInfo {
    pub partition: i32,
    pub log_start_offset: i64,
    pub high_watermark: i64,
    pub size_bytes: u64,
    /// Segment files of the local log.
    pub segments: usize,
    /// Where the data is, for a tiered partition (`remote.storage.enable=true`, once the
    /// uploader has taken it over); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tiers: Option<strom_broker::TierStatus>,
}

fn partition_info(p: &strom_broker::Partition) -> PartitionInfo {
    PartitionInfo {
        partition: p.index(),
        log_start_offset: p.log_start_offset(),
        high_watermark: p.high_watermark(),
        size_bytes: p.size_bytes(),
        segments: p.log().segment_count(),
        tiers: p.tier_status(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConfigEntry {
    pub name: String,
    pub value: String,
    /// True when no override is set.
    pub default: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TopicInfo {
    pub name: String,
    pub partition_count: i32,
    pub partitions: Vec<PartitionInfo>,
    pub configs: Vec<ConfigEntry>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TopicSummary {
    pub name: String,
    pub partition_count: i32,
    /// Sum of the partitions' high watermarks minus their log start offsets.
    pub records: i64,
    pub size_bytes: u64,
    /// The effective `cleanup.policy` (`delete`, `compact`, `compact,delete`).
    pub cleanup_policy: String,
    /// The effective `retention.ms` (`-1`: no time limit).
    pub retention_ms: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTopic {
    pub name: String,
    /// Default: the broker's default partition count.
    #[serde(default)]
    pub partitions: Option<i32>,
    /// Kafka config names, e.g. `cleanup.policy`.
    #[serde(default)]
    pub configs: BTreeMap<String, String>,
    /// Only validate the request.
    #[serde(default)]
    pub validate_only: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AlterConfigs {
    /// New values; `null` removes the override.
    pub configs: BTreeMap<String, Option<String>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrowPartitions {
    /// The new total partition count (larger than the current one).
    pub count: i32,
}

fn describe(state: &Shared, topic: &Topic) -> ApiResult<TopicInfo> {
    let partitions = topic
        .partitions()
        .iter()
        .map(|p| partition_info(p))
        .collect();
    let configs = state
        .broker
        .effective_topic_config(topic.name())?
        .into_iter()
        .map(|(name, value, default)| ConfigEntry {
            name,
            value,
            default,
        })
        .collect();
    Ok(TopicInfo {
        name: topic.name().to_string(),
        partition_count: topic.partition_count(),
        partitions,
        configs,
    })
}

/// One config's effective value (empty when the topic is gone meanwhile).
fn effective(state: &Shared, topic: &str, name: &str) -> String {
    state
        .broker
        .effective_topic_config(topic)
        .ok()
        .and_then(|c| c.into_iter().find(|(n, _, _)| n == name))
        .map(|(_, value, _)| value)
        .unwrap_or_default()
}

/// Runs broker administration (which may fsync) on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, BrokerError> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("admin task failed: {e}")))?
        .map_err(ApiError::from)
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Include internal topics (`__consumer_offsets`, `__transaction_state`, `__strom_*`).
    pub internal: Option<bool>,
}

/// Internal topics (`__consumer_offsets`…) are the broker's own state, hidden from listings
/// unless asked for. The broker owns the rule.
pub fn is_internal(name: &str) -> bool {
    strom_broker::is_internal_topic(name)
}

/// List topics.
#[utoipa::path(get, path = "/v1/topics", tag = "admin", params(ListParams),
    responses((status = 200, body = Vec<TopicSummary>)))]
pub async fn list(
    State(state): State<Shared>,
    crate::caller::Caller(session): crate::caller::Caller,
    axum::extract::Query(params): axum::extract::Query<ListParams>,
) -> Json<Vec<TopicSummary>> {
    let internal = params.internal.unwrap_or(false);
    Json(
        state
            .broker
            .topics()
            .iter()
            .filter(|t| internal || !is_internal(t.name()))
            .filter(|t| crate::authz::may_describe_topic(&state, &session, t.name()))
            .map(|t| {
                let parts = t.partitions();
                TopicSummary {
                    name: t.name().to_string(),
                    partition_count: t.partition_count(),
                    records: parts
                        .iter()
                        .map(|p| p.high_watermark() - p.log_start_offset())
                        .sum(),
                    size_bytes: parts.iter().map(|p| p.size_bytes()).sum(),
                    cleanup_policy: effective(&state, t.name(), "cleanup.policy"),
                    retention_ms: effective(&state, t.name(), "retention.ms"),
                }
            })
            .collect(),
    )
}

/// Create a topic.
#[utoipa::path(post, path = "/v1/topics", tag = "admin", request_body = CreateTopic,
    responses(
        (status = 201, body = TopicInfo),
        (status = 200, description = "validate_only: the request is valid", body = Object),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Topic exists", body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid name, partition count or config", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<Shared>,
    crate::caller::Caller(session): crate::caller::Caller,
    headers: axum::http::HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    require_json(&headers)?;
    let request: CreateTopic = parse_json(&body)?;
    crate::authz::check_create_topic(&state, &session, &request.name)?;
    let partitions = request
        .partitions
        .unwrap_or(state.broker.config().default_partitions);
    let broker = Arc::clone(&state.broker);
    if request.validate_only {
        blocking(move || broker.validate_new_topic(&request.name, partitions, &request.configs))
            .await?;
        return Ok((StatusCode::OK, Json(serde_json::json!({"valid": true}))));
    }
    let topic =
        blocking(move || broker.create_topic(&request.name, partitions, &request.configs)).await?;
    tracing::info!(principal = %session.principal, peer = %session.peer, listener = %session.listener, topic = %topic.name(), partitions, "topic created");
    let info = describe(&state, &topic)?;
    Ok((StatusCode::CREATED, Json(serde_json::json!(info))))
}

/// Describe a topic: partitions with offsets and sizes, effective configs.
#[utoipa::path(get, path = "/v1/topics/{topic}", tag = "admin", params(("topic" = String, Path)),
    responses((status = 200, body = TopicInfo),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get(
    State(state): State<Shared>,
    Path(topic): Path<String>,
) -> ApiResult<Json<TopicInfo>> {
    let t = state.topic(&topic)?;
    Ok(Json(describe(&state, &t)?))
}

/// Delete a topic and its data.
#[utoipa::path(delete, path = "/v1/topics/{topic}", tag = "admin", params(("topic" = String, Path)),
    responses((status = 204, description = "Deleted"),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(state): State<Shared>,
    crate::caller::Caller(session): crate::caller::Caller,
    Path(topic): Path<String>,
) -> ApiResult<StatusCode> {
    state.topic(&topic)?;
    let broker = Arc::clone(&state.broker);
    let name = topic.clone();
    blocking(move || broker.delete_topic(&name)).await?;
    tracing::info!(principal = %session.principal, peer = %session.peer, listener = %session.listener, topic = %topic, "topic deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Alter topic configs (`null` removes an override); validated as a whole.
#[utoipa::path(patch, path = "/v1/topics/{topic}/configs", tag = "admin", params(("topic" = String, Path)),
    request_body = AlterConfigs,
    responses((status = 200, body = TopicInfo),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 415, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn alter_configs(
    State(state): State<Shared>,
    crate::caller::Caller(session): crate::caller::Caller,
    Path(topic): Path<String>,
    headers: axum::http::HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Json<TopicInfo>> {
    require_json(&headers)?;
    let request: AlterConfigs = parse_json(&body)?;
    let t = state.topic(&topic)?;
    let changes: Vec<(String, Option<String>)> = request.configs.into_iter().collect();
    let broker = Arc::clone(&state.broker);
    let name = topic.clone();
    let described = strom_broker::topic_config::describe_changes(&changes);
    blocking(move || broker.alter_topic_config(&name, &changes)).await?;
    tracing::info!(principal = %session.principal, peer = %session.peer, listener = %session.listener, topic = %topic, changes = %described, "topic config altered");
    Ok(Json(describe(&state, &t)?))
}

/// Grow a topic to `count` partitions.
#[utoipa::path(post, path = "/v1/topics/{topic}/partitions", tag = "admin", params(("topic" = String, Path)),
    request_body = GrowPartitions,
    responses((status = 200, body = TopicInfo),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 415, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn grow(
    State(state): State<Shared>,
    crate::caller::Caller(session): crate::caller::Caller,
    Path(topic): Path<String>,
    headers: axum::http::HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Json<TopicInfo>> {
    require_json(&headers)?;
    let request: GrowPartitions = parse_json(&body)?;
    state.topic(&topic)?;
    let broker = Arc::clone(&state.broker);
    let name = topic.clone();
    blocking(move || broker.create_partitions(&name, request.count)).await?;
    tracing::info!(principal = %session.principal, peer = %session.peer, listener = %session.listener, topic = %topic, partitions = request.count, "partitions added");
    let t = state.topic(&topic)?;
    Ok(Json(describe(&state, &t)?))
}

/// One partition's offsets and size.
#[utoipa::path(get, path = "/v1/topics/{topic}/partitions/{partition}", tag = "admin",
    params(("topic" = String, Path), ("partition" = i32, Path)),
    responses((status = 200, body = PartitionInfo),
              (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn partition(
    State(state): State<Shared>,
    Path((topic, partition)): Path<(String, i32)>,
) -> ApiResult<Json<PartitionInfo>> {
    let t = state.topic(&topic)?;
    let p = t.partition(partition).ok_or_else(|| {
        ApiError::not_found(
            "unknown-partition",
            format!("partition {partition} of topic '{topic}' not found"),
        )
        .code(40402)
    })?;
    Ok(Json(partition_info(&p)))
}
