//! HTTP handlers of the REST Proxy v2 consumer API. Errors use the REST Proxy shape and
//! codes (40403 instance not found, 40902 name taken, 42204 bad config, 40601 format).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use futures_util::future::select_all;
use serde::Deserialize;
use serde_json::{json, Value};
use strom_auth::Session;
use strom_broker::group::{OffsetCommitEntry, OffsetCommitRequest, TopicPartitions};
use strom_broker::GroupError;
use utoipa::{IntoParams, ToSchema};

use super::instance::{Format, Instance, OffsetReset, UNDEFINED};
use super::{Consumers, DEFAULT_INSTANCE_TIMEOUT};
use crate::body::{accepted, parse_rest_json, RawBody};
use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::reader::read_records;
use crate::restproxy::v2_json;
use crate::schemas::RestError;
use crate::state::Shared;

fn consumers(state: &Shared) -> ApiResult<Arc<Consumers>> {
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
fn owned_by(state: &Shared, session: &Session, inst: &Instance) -> ApiResult<()> {
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

fn group_error(err: GroupError) -> ApiError {
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
    /// `binary` (default) or `json`.
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

fn truthy(v: &Option<Value>) -> ApiResult<bool> {
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
    let format = match req.format.as_deref().unwrap_or("binary") {
        "binary" => Format::Binary,
        "json" => Format::Json,
        other => {
            return Err(bad(format!(
                "format '{other}' is not supported; use binary or json"
            )))
        }
    };
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
        None => format!("rest-consumer-{:016x}", rand_id()),
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

fn rand_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
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

fn assigned(inst: &Instance, topic: &str, partition: i32) -> ApiResult<()> {
    if inst
        .member
        .lock()
        .positions
        .contains_key(&(topic.to_string(), partition))
    {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::CONFLICT,
            "not-assigned",
            format!("partition {partition} of '{topic}' is not assigned to this consumer"),
        )
        .code(40903)
        .rest())
    }
}

/// REST Proxy v2: seek assigned partitions to offsets.
#[utoipa::path(post, path = "/consumers/{group}/instances/{instance}/positions", tag = "consumers",
    params(("group" = String, Path), ("instance" = String, Path)),
    request_body(content((OffsetsBody = "application/vnd.kafka.v2+json"), (OffsetsBody = "application/json"))),
    responses((status = 204, description = "Moved"), (status = 400, body = RestError), (status = 404, body = RestError),
              (status = 409, body = RestError), (status = 422, body = RestError)))]
pub async fn seek(
    State(state): State<Shared>,
    Caller(session): Caller,
    Path((group, name)): Path<(String, String)>,
    RawBody(body): RawBody,
) -> ApiResult<StatusCode> {
    let (_, inst) = instance(&state, &session, &group, &name)?;
    let req: OffsetsBody = parse_body(&body)?;
    for o in &req.offsets {
        assigned(&inst, &o.topic, o.partition)?;
        if o.offset < 0 {
            return Err(
                ApiError::unprocessable(format!("offset {} is negative", o.offset))
                    .code(42204)
                    .rest(),
            );
        }
    }
    let mut m = inst.member.lock();
    for o in req.offsets {
        m.positions.insert((o.topic, o.partition), o.offset);
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn seek_edge(
    state: Shared,
    session: Session,
    group: String,
    name: String,
    body: &[u8],
    beginning: bool,
) -> ApiResult<StatusCode> {
    let (_, inst) = instance(&state, &session, &group, &name)?;
    let req: PartitionsBody = parse_body(body)?;
    let mut moves = Vec::new();
    for tp in &req.partitions {
        assigned(&inst, &tp.topic, tp.partition)?;
        let p = state
            .broker
            .partition(&tp.topic, tp.partition)
            .map_err(|e| ApiError::from(e).rest())?;
        moves.push((
            (tp.topic.clone(), tp.partition),
            if beginning {
                p.log_start_offset()
            } else {
                p.last_stable_offset()
            },
        ));
    }
    let mut m = inst.member.lock();
    for (k, o) in moves {
        m.positions.insert(k, o);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// REST Proxy v2: seek partitions to their first retained offset.
#[utoipa::path(post, path = "/consumers/{group}/instances/{instance}/positions/beginning", tag = "consumers",
    params(("group" = String, Path), ("instance" = String, Path)),
    request_body(content((PartitionsBody = "application/vnd.kafka.v2+json"), (PartitionsBody = "application/json"))),
    responses((status = 204, description = "Moved"), (status = 400, body = RestError), (status = 404, body = RestError), (status = 409, body = RestError)))]
pub async fn seek_beginning(
    State(state): State<Shared>,
    Caller(session): Caller,
    Path((group, name)): Path<(String, String)>,
    RawBody(body): RawBody,
) -> ApiResult<StatusCode> {
    seek_edge(state, session, group, name, &body, true).await
}

/// REST Proxy v2: seek partitions to their end.
#[utoipa::path(post, path = "/consumers/{group}/instances/{instance}/positions/end", tag = "consumers",
    params(("group" = String, Path), ("instance" = String, Path)),
    request_body(content((PartitionsBody = "application/vnd.kafka.v2+json"), (PartitionsBody = "application/json"))),
    responses((status = 204, description = "Moved"), (status = 400, body = RestError), (status = 404, body = RestError), (status = 409, body = RestError)))]
pub async fn seek_end(
    State(state): State<Shared>,
    Caller(session): Caller,
    Path((group, name)): Path<(String, String)>,
    RawBody(body): RawBody,
) -> ApiResult<StatusCode> {
    seek_edge(state, session, group, name, &body, false).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RecordsParams {
    /// Milliseconds to wait for records when there are none (capped by the server).
    pub timeout: Option<u64>,
    /// Byte budget of the answer (approximate; at least one record is returned).
    pub max_bytes: Option<usize>,
}

/// Under `auto.offset.reset: none`, fetching fails while a partition has no position, as
/// Kafka's `NoOffsetForPartitionException` does through the REST Proxy (500, 50002).
fn undefined_positions(inst: &Instance) -> ApiResult<()> {
    let undefined: Vec<String> = inst
        .member
        .lock()
        .positions
        .iter()
        .filter(|(_, o)| **o == UNDEFINED)
        .map(|((t, p), _)| format!("{t}-{p}"))
        .collect();
    if undefined.is_empty() {
        return Ok(());
    }
    Err(ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "no-offset",
        format!(
            "Undefined offset with no reset policy for partitions: [{}]",
            undefined.join(", ")
        ),
    )
    .code(50002)
    .rest())
}

fn embed(format: Format, bytes: &Option<bytes::Bytes>) -> Value {
    match bytes {
        None => Value::Null,
        Some(b) => match format {
            Format::Binary => json!(base64::engine::general_purpose::STANDARD.encode(b)),
            Format::Json => {
                serde_json::from_slice(b).unwrap_or_else(|_| json!(String::from_utf8_lossy(b)))
            }
        },
    }
}

/// REST Proxy v2: fetch records from the assigned partitions (with Karapace's additive
/// `timestamp` and `headers`).
#[utoipa::path(get, path = "/consumers/{group}/instances/{instance}/records", tag = "consumers",
    params(("group" = String, Path), ("instance" = String, Path), RecordsParams),
    responses((status = 200, body = Vec<Object>, content_type = "application/vnd.kafka.binary.v2+json"),
              (status = 400, body = RestError), (status = 404, body = RestError), (status = 406, body = RestError)))]
pub async fn records(
    State(state): State<Shared>,
    Caller(session): Caller,
    Path((group, name)): Path<(String, String)>,
    Query(params): Query<RecordsParams>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let (all, inst) = instance(&state, &session, &group, &name)?;
    // Read on each subscribed topic again: an ACL removed since the subscription counts.
    let topics = inst.member.lock().topics.clone();
    for t in &topics {
        let read = strom_auth::Operation::Read;
        crate::authz::check(&state, &session, read, strom_auth::ResourceType::Topic, t)
            .map_err(ApiError::rest)?;
    }
    let (want, other) = match inst.format {
        Format::Binary => (
            "application/vnd.kafka.binary.v2+json",
            "application/vnd.kafka.json.v2+json",
        ),
        Format::Json => (
            "application/vnd.kafka.json.v2+json",
            "application/vnd.kafka.binary.v2+json",
        ),
    };
    let accepts = accepted(&headers);
    if accepts.iter().any(|a| a == other)
        && !accepts
            .iter()
            .any(|a| a == want || a == "*/*" || a.ends_with("/json"))
    {
        return Err(ApiError::not_acceptable(format!(
            "this consumer's format needs Accept: {want}"
        ))
        .code(40601)
        .rest());
    }
    undefined_positions(&inst)?;
    let max_bytes = params.max_bytes.unwrap_or(64 * 1024 * 1024).max(1);
    let deadline = tokio::time::Instant::now() + state.poll_timeout(params.timeout);
    let mut shutdown = state.shutdown.clone();
    let out = loop {
        let assignment: Vec<((String, i32), i64)> = inst
            .member
            .lock()
            .positions
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        let partitions: Vec<_> = assignment
            .iter()
            .filter_map(|((t, p), pos)| {
                state
                    .broker
                    .partition(t, *p)
                    .ok()
                    .map(|part| (t.clone(), *p, *pos, part))
            })
            .collect();
        let mut watchers: Vec<_> = partitions
            .iter()
            .map(|(_, _, _, part)| part.subscribe())
            .collect();
        let mut out = Vec::new();
        let mut budget = max_bytes;
        for (topic, p, pos, part) in &partitions {
            if budget == 0 {
                break;
            }
            let start = (*pos).max(part.log_start_offset());
            if start >= part.last_stable_offset() {
                continue;
            }
            let got = read_records(Arc::clone(part), start, 1000, budget.min(4 * 1024 * 1024))
                .await
                .map_err(ApiError::rest)?;
            let mut next = start;
            for r in &got.records {
                let size =
                    r.key.as_ref().map_or(0, |k| k.len()) + r.value.as_ref().map_or(0, |v| v.len());
                if budget < size && !out.is_empty() {
                    budget = 0;
                    break;
                }
                budget = budget.saturating_sub(size);
                let headers: Vec<Value> = r
                    .headers
                    .iter()
                    .map(|h| json!({"key": h.key, "value": h.value.as_ref().map(|v| base64::engine::general_purpose::STANDARD.encode(v))}))
                    .collect();
                out.push(json!({"topic": topic, "key": embed(inst.format, &r.key), "value": embed(inst.format, &r.value),
                                "partition": p, "offset": r.offset, "timestamp": r.timestamp, "headers": headers}));
                next = r.offset + 1;
            }
            if got.records.is_empty() {
                next = got.next_offset.max(start);
            }
            let mut m = inst.member.lock();
            if let Some(position) = m.positions.get_mut(&(topic.clone(), *p)) {
                // Only move forward from where this fetch started (a seek meanwhile wins).
                if *position == *pos {
                    *position = next;
                }
            }
        }
        if !out.is_empty() || tokio::time::Instant::now() >= deadline {
            break out;
        }
        if watchers.is_empty() {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline.min(tokio::time::Instant::now() + Duration::from_millis(100))) => {}
                _ = shutdown.changed() => break out,
            }
            continue;
        }
        let changed = select_all(watchers.iter_mut().map(|w| Box::pin(w.changed())));
        tokio::select! {
            _ = changed => {}
            _ = tokio::time::sleep_until(deadline) => break out,
            _ = shutdown.changed() => break out,
        }
    };
    if inst.auto_commit && !out.is_empty() {
        let _ = commit_positions(&all, &inst, None).await;
    }
    let mut response = Value::Array(out).to_string().into_response();
    if let Ok(v) = axum::http::HeaderValue::from_str(want) {
        response
            .headers_mut()
            .insert(axum::http::header::CONTENT_TYPE, v);
    }
    Ok(response)
}

async fn commit_positions(
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
