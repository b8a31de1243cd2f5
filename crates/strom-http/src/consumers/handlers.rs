//! HTTP handlers of the REST Proxy v2 consumer API. Errors use the REST Proxy shape and
//! codes (40403 instance not found, 40902 name taken, 42204 bad config, 40601 format).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};
use strom_auth::Session;
use strom_broker::GroupError;
use utoipa::ToSchema;

use super::instance::{Format, Instance, OffsetReset};
use super::{Consumers, DEFAULT_INSTANCE_TIMEOUT};
use crate::body::{parse_rest_json, RawBody};
use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::restproxy::v2_json;
use crate::schemas::RestError;
use crate::state::Shared;

pub(super) fn consumers(state: &Shared) -> ApiResult<Arc<Consumers>> {
    state.consumers.clone().ok_or_else(|| {
        ApiError::not_found(
            "groups-disabled",
            "consumer groups are not enabled on this server",
        )
        .code(40405)
        .rest()
    })
}

pub(super) fn instance(
    state: &Shared,
    session: &Session,
    group: &str,
    name: &str,
) -> ApiResult<(Arc<Consumers>, Arc<Instance>)> {
    let all = consumers(state)?;
    let i = all.get(group, name).ok_or_else(|| {
        ApiError::not_found(
            "consumer-not-found",
            format!("Consumer instance '{name}' of group '{group}' not found"),
        )
        .code(40403)
        .rest()
    })?;
    owned_by(state, session, &i)?;
    i.touch();
    Ok((all, i))
}

/// An instance is bound to the principal that created it: anyone else (but a super user)
/// gets 403, so learning an instance's URL does not let another user read, seek, commit or
/// delete through it.
pub(super) fn owned_by(state: &Shared, session: &Session, inst: &Instance) -> ApiResult<()> {
    let authorizer = &state.config.security.authorizer;
    if session.principal == inst.owner || authorizer.is_super_user(&session.principal) {
        return Ok(());
    }
    tracing::info!(
        principal = %session.principal,
        group = %inst.group,
        instance = %inst.name,
        "refused: REST Proxy consumer instance belongs to another principal"
    );
    Err(ApiError::forbidden_because(format!(
        "consumer instance '{}' of group '{}' belongs to another principal",
        inst.name, inst.group
    ))
    .rest())
}

pub(super) fn group_error(err: GroupError) -> ApiError {
    let detail = err.to_string();
    match err {
        GroupError::InvalidGroupId => ApiError::unprocessable(detail).code(42204),
        GroupError::UnknownTopicOrPartition => {
            ApiError::not_found("unknown-partition", detail).code(40402)
        }
        GroupError::RebalanceInProgress
        | GroupError::IllegalGeneration
        | GroupError::UnknownMemberId
        | GroupError::FencedInstanceId => ApiError::new(
            StatusCode::CONFLICT,
            "rebalance",
            format!("{detail}; retry"),
        )
        .code(40903),
        GroupError::OffsetMetadataTooLarge => ApiError::unprocessable(detail).code(42204),
        // Its text names server paths: logged, and answered with a fixed message.
        GroupError::Storage(_) => {
            tracing::error!(error = %detail, "group storage failed");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "coordinator",
                crate::error::STORAGE_FAILURE,
            )
            .code(50003)
        }
        _ => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "coordinator", detail).code(50003),
    }
    .rest()
}

pub(super) fn parse_body<T: serde::de::DeserializeOwned + Default>(body: &[u8]) -> ApiResult<T> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(T::default());
    }
    parse_rest_json(body)
}

/// Body of `POST /consumers/{group}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CreateConsumer {
    /// Instance name; generated when absent.
    pub name: Option<String>,
    /// `binary` (default), `json`, or with the schema registry `avro`, `jsonschema`,
    /// `protobuf` (values decoded to JSON).
    pub format: Option<String>,
    /// `earliest`, `latest` (default) or `none` (fetching fails until the client seeks).
    #[serde(rename = "auto.offset.reset")]
    pub auto_offset_reset: Option<String>,
    /// Commit fetched positions after each fetch (default false).
    #[serde(rename = "auto.commit.enable")]
    pub auto_commit_enable: Option<Value>,
    #[serde(rename = "fetch.min.bytes")]
    pub fetch_min_bytes: Option<Value>,
    #[serde(rename = "consumer.request.timeout.ms")]
    pub request_timeout_ms: Option<Value>,
    /// Strom extension: idle timeout of this instance (default 300000).
    #[serde(rename = "consumer.instance.timeout.ms")]
    pub instance_timeout_ms: Option<u64>,
}

pub(super) fn truthy(v: &Option<Value>) -> ApiResult<bool> {
    match v {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s == "true" => Ok(true),
        Some(Value::String(s)) if s == "false" => Ok(false),
        Some(other) => Err(ApiError::unprocessable(format!(
            "auto.commit.enable must be true or false, not {other}"
        ))
        .code(42204)
        .rest()),
    }
}

/// REST Proxy v2: create a consumer instance in a group.
#[utoipa::path(post, path = "/consumers/{group}", tag = "consumers", params(("group" = String, Path)),
    request_body(content((CreateConsumer = "application/vnd.kafka.v2+json"), (CreateConsumer = "application/json"))),
    responses((status = 200, body = Object, content_type = "application/vnd.kafka.v2+json"),
              (status = 400, body = RestError), (status = 404, body = RestError),
              (status = 409, body = RestError), (status = 422, body = RestError)))]
pub async fn create(
    State(state): State<Shared>,
    Caller(session): Caller,
    Path(group): Path<String>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let all = consumers(&state)?;
    let req: CreateConsumer = parse_body(&body)?;
    let bad = |m: String| ApiError::unprocessable(m).code(42204).rest();
    if group.is_empty() || group.len() > 255 {
        return Err(bad("group id must be 1 to 255 characters".into()));
    }
    use crate::restproxy_schema::SchemaFormat;
    let format = match req.format.as_deref().unwrap_or("binary") {
        "binary" => Format::Binary,
        "json" => Format::Json,
        "avro" => Format::Schema(SchemaFormat::Avro),
        "jsonschema" => Format::Schema(SchemaFormat::JsonSchema),
        "protobuf" => Format::Schema(SchemaFormat::Protobuf),
        other => {
            return Err(bad(format!(
                "format '{other}' is not supported; use binary, json, avro, jsonschema or protobuf"
            )))
        }
    };
    if matches!(format, Format::Schema(_)) && state.config.schemas.is_none() {
        return Err(bad(
            "this format needs the schema registry, which is not enabled on this server".into(),
        ));
    }
    let reset = match req.auto_offset_reset.as_deref().unwrap_or("latest") {
        "earliest" | "smallest" => OffsetReset::Earliest,
        "latest" | "largest" => OffsetReset::Latest,
        "none" => OffsetReset::Fail,
        other => {
            return Err(bad(format!(
                "auto.offset.reset '{other}' must be earliest, latest or none"
            )))
        }
    };
    let auto_commit = truthy(&req.auto_commit_enable)?;
    let name = match req.name {
        Some(n) if n.is_empty() || n.len() > 255 || n.contains('/') => {
            return Err(bad("name must be 1 to 255 characters without '/'".into()))
        }
        Some(n) => n,
        None => format!(
            "rest-consumer-{:016x}",
            u64::from_le_bytes(strom_broker::random_bytes::<8>())
        ),
    };
    let timeout = req
        .instance_timeout_ms
        .map(Duration::from_millis)
        .unwrap_or(DEFAULT_INSTANCE_TIMEOUT);
    let inst = Instance::new(
        group.clone(),
        name.clone(),
        session.principal.clone(),
        format,
        reset,
        auto_commit,
        timeout,
    );
    if !all.insert(inst) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "consumer-exists",
            format!(
                "Consumer with specified consumer ID '{name}' already exists in group '{group}'"
            ),
        )
        .code(40902)
        .rest());
    }
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let base_uri = format!("http://{host}/consumers/{group}/instances/{name}");
    Ok(v2_json(json!({"instance_id": name, "base_uri": base_uri})))
}

/// REST Proxy v2: delete a consumer instance (it leaves the group).
#[utoipa::path(delete, path = "/consumers/{group}/instances/{instance}", tag = "consumers",
    params(("group" = String, Path), ("instance" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = RestError)))]
pub async fn delete(
    State(state): State<Shared>,
    Caller(session): Caller,
    Path((group, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (all, _) = instance(&state, &session, &group, &name)?;
    all.remove(&group, &name);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct SubscriptionBody {
    #[serde(default)]
    pub topics: Vec<String>,
    /// A regular expression over whole topic names (instead of `topics`).
    pub topic_pattern: Option<String>,
}

/// REST Proxy v2: subscribe to topics (joins the group).
#[utoipa::path(post, path = "/consumers/{group}/instances/{instance}/subscription", tag = "consumers",
    params(("group" = String, Path), ("instance" = String, Path)),
    request_body(content((SubscriptionBody = "application/vnd.kafka.v2+json"), (SubscriptionBody = "application/json"))),
    responses((status = 204, description = "Subscribed"), (status = 400, body = RestError),
              (status = 404, body = RestError), (status = 422, body = RestError)))]
pub async fn subscribe(
    State(state): State<Shared>,
    Caller(session): Caller,
    Path((group, name)): Path<(String, String)>,
    RawBody(body): RawBody,
) -> ApiResult<StatusCode> {
    let (all, inst) = instance(&state, &session, &group, &name)?;
    let req: SubscriptionBody = parse_body(&body)?;
    if inst.member.lock().manual {
        return Err(super::assign::exclusive());
    }
    if let Some(pattern) = req.topic_pattern {
        if !req.topics.is_empty() {
            return Err(super::assign::exclusive());
        }
        let resolver = super::assign::pattern_resolver(&state, &session, &pattern)?;
        let topics = resolver();
        let broker = Arc::clone(&state.broker);
        inst.subscribe(topics, Some(resolver), broker, all.groups.clone());
        return Ok(StatusCode::NO_CONTENT);
    }
    if req.topics.is_empty() {
        return Err(ApiError::unprocessable("topics must not be empty")
            .code(42204)
            .rest());
    }
    for t in &req.topics {
        let read = strom_auth::Operation::Read;
        crate::authz::check(&state, &session, read, strom_auth::ResourceType::Topic, t)
            .map_err(ApiError::rest)?;
        state.topic(t).map_err(ApiError::rest)?;
    }
    inst.subscribe(
        req.topics,
        None,
        Arc::clone(&state.broker),
        all.groups.clone(),
    );
    Ok(StatusCode::NO_CONTENT)
}

/// REST Proxy v2: the subscribed topics.
#[utoipa::path(get, path = "/consumers/{group}/instances/{instance}/subscription", tag = "consumers",
    params(("group" = String, Path), ("instance" = String, Path)),
    responses((status = 200, body = Object, content_type = "application/vnd.kafka.v2+json"), (status = 404, body = RestError)))]
pub async fn subscription(
    State(state): State<Shared>,
    Caller(session): Caller,
    Path((group, name)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (_, inst) = instance(&state, &session, &group, &name)?;
    let topics = inst.member.lock().topics.clone();
    Ok(v2_json(json!({ "topics": topics })))
}

/// REST Proxy v2: unsubscribe (leaves the group).
#[utoipa::path(delete, path = "/consumers/{group}/instances/{instance}/subscription", tag = "consumers",
    params(("group" = String, Path), ("instance" = String, Path)),
    responses((status = 204, description = "Unsubscribed"), (status = 404, body = RestError)))]
pub async fn unsubscribe(
    State(state): State<Shared>,
    Caller(session): Caller,
    Path((group, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let (all, inst) = instance(&state, &session, &group, &name)?;
    inst.unsubscribe(&all.groups);
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PartitionOffset {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct OffsetsBody {
    #[serde(default)]
    pub offsets: Vec<PartitionOffset>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct PartitionsBody {
    #[serde(default)]
    pub partitions: Vec<TopicPartition>,
}
