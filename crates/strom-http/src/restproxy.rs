//! Confluent REST Proxy v2 compatibility: produce (`binary` and `json` embedded formats,
//! and `avro`, `jsonschema`, `protobuf` through [`crate::restproxy_schema`]) and the
//! metadata endpoints, with the REST Proxy's response and error shapes
//! (`{"error_code","message"}`, codes such as 40401 and 42206).
//!
//! Like Karapace, records may also carry `headers` and `timestamp`, which v2 itself lacks.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use strom_broker::{NewRecord, RecordHeader, Topic};
use utoipa::ToSchema;

use crate::body::{content_type, parse_rest_json, RawBody};
use crate::error::{ApiError, ApiResult};
use crate::produce::{choose_partition, write, Outcome};
use crate::render::decode_b64;
use crate::restproxy_schema::{self as schema, SchemaFormat};
use crate::schemas::{RestError, TimestampIn};
use crate::state::Shared;

const V2_JSON: &str = "application/vnd.kafka.v2+json";

/// The embedded format of a REST Proxy produce request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Embedded {
    Binary,
    Json,
    Schema(SchemaFormat),
}

fn embedded_format(headers: &HeaderMap) -> ApiResult<Embedded> {
    let ct = content_type(headers).unwrap_or_default();
    if let Some(format) = SchemaFormat::of_content_type(&ct) {
        return Ok(Embedded::Schema(format));
    }
    match ct.as_str() {
        "application/vnd.kafka.binary.v2+json" => Ok(Embedded::Binary),
        "application/vnd.kafka.json.v2+json" => Ok(Embedded::Json),
        // The REST Proxy assumes `binary` when the embedded format is omitted.
        "application/vnd.kafka.v2+json" | "application/vnd.kafka+json" => Ok(Embedded::Binary),
        other => Err(ApiError::unsupported_media_type(format!(
            "unsupported Content-Type '{other}'; use application/vnd.kafka.binary.v2+json or application/vnd.kafka.json.v2+json"
        ))
        .code(41501)
        .rest()),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RestHeader {
    /// Header name (`name` is accepted too, as in REST Proxy v3).
    #[serde(alias = "name")]
    pub key: String,
    /// Base64 value, or null.
    #[serde(default)]
    pub value: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RestRecord {
    /// Base64 (binary) or any JSON (json); null for no key.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub key: Option<Value>,
    /// Base64 (binary) or any JSON (json); null for a tombstone.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub value: Option<Value>,
    #[serde(default)]
    pub partition: Option<i32>,
    #[serde(default)]
    pub headers: Vec<RestHeader>,
    #[serde(default)]
    pub timestamp: Option<TimestampIn>,
}

/// REST Proxy v2 produce request. The schema fields apply to the `avro`, `jsonschema` and
/// `protobuf` embedded formats (and are ignored by `binary` and `json`).
#[derive(Debug, Deserialize, ToSchema)]
pub struct RestProduceRequest {
    pub records: Vec<RestRecord>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub key_schema: Option<Value>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub value_schema: Option<Value>,
    #[serde(default)]
    pub key_schema_id: Option<i32>,
    #[serde(default)]
    pub value_schema_id: Option<i32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RestOffset {
    pub partition: Option<i32>,
    pub offset: Option<i64>,
    /// 1 non-retriable, 2 retriable, null on success.
    pub error_code: Option<i32>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RestProduceResponse {
    pub key_schema_id: Option<i32>,
    pub value_schema_id: Option<i32>,
    pub offsets: Vec<RestOffset>,
}

fn embedded_bytes(format: Embedded, what: &str, v: Option<Value>) -> Result<Option<Bytes>, String> {
    match (format, v) {
        (_, None) | (_, Some(Value::Null)) => Ok(None),
        (Embedded::Binary, Some(Value::String(s))) => decode_b64(what, &s).map(Some),
        (Embedded::Binary, Some(_)) => Err(format!(
            "{what} must be a base64 string in the binary format"
        )),
        (Embedded::Json, Some(v)) => Ok(Some(Bytes::from(v.to_string()))),
        (Embedded::Schema(_), Some(_)) => Err(format!("{what} needs a schema")),
    }
}

/// Converts a record's key (`true`) or value from its embedded JSON: the record's index,
/// which, the JSON.
type Convert<'a> = dyn Fn(usize, bool, Option<Value>) -> ApiResult<Option<Bytes>> + 'a;

fn rest_record(
    state: &Shared,
    topic: &Topic,
    convert: &Convert<'_>,
    fixed_partition: Option<i32>,
    index: usize,
    r: RestRecord,
) -> ApiResult<(i32, NewRecord)> {
    let bad = |msg: String| {
        ApiError::unprocessable(format!("record {index}: {msg}"))
            .code(42206)
            .rest()
    };
    let key = convert(index, true, r.key)?;
    let value = convert(index, false, r.value)?;
    let mut headers = Vec::new();
    for h in r.headers {
        let value = match h.value {
            Some(v) => Some(decode_b64("header value", &v).map_err(bad)?),
            None => None,
        };
        headers.push(RecordHeader { key: h.key, value });
    }
    let timestamp = match r.timestamp {
        Some(t) => Some(t.to_millis().map_err(|e| bad(e.detail))?),
        None => None,
    };
    let partition = choose_partition(state, topic, fixed_partition.or(r.partition), key.as_ref())
        .map_err(|e| e.rest())?;
    Ok((
        partition,
        NewRecord {
            key,
            value,
            headers,
            timestamp,
        },
    ))
}

async fn produce_common(
    state: Shared,
    session: strom_auth::Session,
    topic: String,
    partition: Option<i32>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let format = embedded_format(&headers)?;
    let topic_ref = state
        .topic_or_create(&session, &topic)
        .map_err(ApiError::rest)?;
    if let Some(p) = partition {
        if topic_ref.partition(p).is_none() {
            return Err(ApiError::not_found(
                "unknown-partition",
                format!("Partition {p} of topic '{topic}' not found"),
            )
            .code(40402)
            .rest());
        }
    }
    let mut request: RestProduceRequest = parse_rest_json(&body)?;
    let mut ids = schema::Ids::default();
    let registry = match format {
        Embedded::Schema(f) => {
            let ct = content_type(&headers).unwrap_or_default();
            let registry = schema::registry_for(&state, &ct)?;
            ids = schema::resolve(&state, &session, &registry, &topic, f, &mut request).await?;
            Some((registry, f))
        }
        _ => None,
    };
    let convert = |index: usize, is_key: bool, v: Option<Value>| match &registry {
        Some((registry, f)) => {
            let id = if is_key { ids.key } else { ids.value };
            schema::convert(registry, *f, id, index, v)
        }
        None => embedded_bytes(format, if is_key { "key" } else { "value" }, v).map_err(|msg| {
            ApiError::unprocessable(format!("record {index}: {msg}"))
                .code(42206)
                .rest()
        }),
    };
    let mut records = Vec::with_capacity(request.records.len());
    for (i, r) in request.records.into_iter().enumerate() {
        records.push(rest_record(&state, &topic_ref, &convert, partition, i, r)?);
    }
    let outcomes = write(&state, &topic_ref, records)
        .await
        .map_err(ApiError::rest)?;
    let offsets = outcomes
        .into_iter()
        .map(|o| match o {
            Outcome::Written {
                partition, offset, ..
            } => RestOffset {
                partition: Some(partition),
                offset: Some(offset),
                error_code: None,
                error: None,
            },
            Outcome::Failed { error, .. } => RestOffset {
                partition: None,
                offset: None,
                error_code: Some(if error.status.is_server_error() { 2 } else { 1 }),
                error: Some(error.detail),
            },
        })
        .collect();
    Ok(v2_json(json!(RestProduceResponse {
        key_schema_id: ids.key,
        value_schema_id: ids.value,
        offsets,
    })))
}

pub fn v2_json(body: Value) -> Response {
    let mut response = body.to_string().into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(V2_JSON));
    response
}

/// REST Proxy v2: produce to a topic.
#[utoipa::path(
    post,
    path = "/topics/{topic}",
    tag = "rest-proxy",
    params(("topic" = String, Path)),
    request_body(content(
        (RestProduceRequest = "application/vnd.kafka.binary.v2+json"),
        (RestProduceRequest = "application/vnd.kafka.json.v2+json"),
        (RestProduceRequest = "application/vnd.kafka.avro.v2+json"),
        (RestProduceRequest = "application/vnd.kafka.jsonschema.v2+json"),
        (RestProduceRequest = "application/vnd.kafka.protobuf.v2+json"),
    )),
    responses(
        (status = 200, body = RestProduceResponse, content_type = "application/vnd.kafka.v2+json"),
        (status = 400, body = RestError), (status = 404, body = RestError),
        (status = 413, body = RestError), (status = 415, body = RestError), (status = 422, body = RestError),
    )
)]
pub async fn produce_topic(
    State(state): State<Shared>,
    crate::caller::Caller(session): crate::caller::Caller,
    Path(topic): Path<String>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    produce_common(state, session, topic, None, headers, body).await
}

/// REST Proxy v2: produce to one partition.
#[utoipa::path(
    post,
    path = "/topics/{topic}/partitions/{partition}",
    tag = "rest-proxy",
    params(("topic" = String, Path), ("partition" = i32, Path)),
    request_body(content(
        (RestProduceRequest = "application/vnd.kafka.binary.v2+json"),
        (RestProduceRequest = "application/vnd.kafka.json.v2+json"),
        (RestProduceRequest = "application/vnd.kafka.avro.v2+json"),
        (RestProduceRequest = "application/vnd.kafka.jsonschema.v2+json"),
        (RestProduceRequest = "application/vnd.kafka.protobuf.v2+json"),
    )),
    responses(
        (status = 200, body = RestProduceResponse, content_type = "application/vnd.kafka.v2+json"),
        (status = 400, body = RestError), (status = 404, body = RestError),
        (status = 413, body = RestError), (status = 415, body = RestError), (status = 422, body = RestError),
    )
)]
pub async fn produce_partition(
    State(state): State<Shared>,
    crate::caller::Caller(session): crate::caller::Caller,
    Path((topic, partition)): Path<(String, i32)>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    produce_common(state, session, topic, Some(partition), headers, body).await
}

fn partition_json(state: &Shared, p: i32) -> Value {
    let node = state.broker.config().node_id;
    json!({"partition": p, "leader": node,
           "replicas": [{"broker": node, "leader": true, "in_sync": true}]})
}

/// REST Proxy v2: topic names.
#[utoipa::path(get, path = "/topics", tag = "rest-proxy",
    responses((status = 200, body = Vec<String>, content_type = "application/vnd.kafka.v2+json")))]
pub async fn list_topics(
    State(state): State<Shared>,
    crate::caller::Caller(session): crate::caller::Caller,
) -> Response {
    let names: Vec<String> = state
        .broker
        .topics()
        .iter()
        .map(|t| t.name().to_string())
        .filter(|n| !crate::admin::is_internal(n))
        .filter(|n| crate::authz::may_describe_topic(&state, &session, n))
        .collect();
    v2_json(json!(names))
}

/// REST Proxy v2: one topic with configs and partitions.
#[utoipa::path(get, path = "/topics/{topic}", tag = "rest-proxy", params(("topic" = String, Path)),
    responses((status = 200, body = Object, content_type = "application/vnd.kafka.v2+json"), (status = 404, body = RestError)))]
pub async fn get_topic(
    State(state): State<Shared>,
    Path(topic): Path<String>,
) -> ApiResult<Response> {
    let t = state.topic(&topic).map_err(ApiError::rest)?;
    let configs: serde_json::Map<String, Value> = state
        .broker
        .effective_topic_config(&topic)
        .map_err(|e| ApiError::from(e).rest())?
        .into_iter()
        .map(|(k, v, _)| (k, Value::String(v)))
        .collect();
    let partitions: Vec<Value> = (0..t.partition_count())
        .map(|p| partition_json(&state, p))
        .collect();
    Ok(v2_json(
        json!({"name": topic, "configs": configs, "partitions": partitions}),
    ))
}

/// REST Proxy v2: partitions of a topic.
#[utoipa::path(get, path = "/topics/{topic}/partitions", tag = "rest-proxy", params(("topic" = String, Path)),
    responses((status = 200, body = Vec<Object>, content_type = "application/vnd.kafka.v2+json"), (status = 404, body = RestError)))]
pub async fn list_partitions(
    State(state): State<Shared>,
    Path(topic): Path<String>,
) -> ApiResult<Response> {
    let t = state.topic(&topic).map_err(ApiError::rest)?;
    let partitions: Vec<Value> = (0..t.partition_count())
        .map(|p| partition_json(&state, p))
        .collect();
    Ok(v2_json(json!(partitions)))
}

fn rest_partition(
    state: &Shared,
    topic: &str,
    p: i32,
) -> ApiResult<std::sync::Arc<strom_broker::Partition>> {
    let t = state.topic(topic).map_err(ApiError::rest)?;
    t.partition(p).ok_or_else(|| {
        ApiError::not_found(
            "unknown-partition",
            format!("Partition {p} of topic '{topic}' not found"),
        )
        .code(40402)
        .rest()
    })
}

/// REST Proxy v2: one partition.
#[utoipa::path(get, path = "/topics/{topic}/partitions/{partition}", tag = "rest-proxy",
    params(("topic" = String, Path), ("partition" = i32, Path)),
    responses((status = 200, body = Object, content_type = "application/vnd.kafka.v2+json"), (status = 404, body = RestError)))]
pub async fn get_partition(
    State(state): State<Shared>,
    Path((topic, partition)): Path<(String, i32)>,
) -> ApiResult<Response> {
    rest_partition(&state, &topic, partition)?;
    Ok(v2_json(partition_json(&state, partition)))
}

/// REST Proxy v2: beginning and end offsets of a partition.
#[utoipa::path(get, path = "/topics/{topic}/partitions/{partition}/offsets", tag = "rest-proxy",
    params(("topic" = String, Path), ("partition" = i32, Path)),
    responses((status = 200, body = Object, content_type = "application/vnd.kafka.v2+json"), (status = 404, body = RestError)))]
pub async fn partition_offsets(
    State(state): State<Shared>,
    Path((topic, partition)): Path<(String, i32)>,
) -> ApiResult<Response> {
    let p = rest_partition(&state, &topic, partition)?;
    Ok(v2_json(
        json!({"beginning_offset": p.log_start_offset(), "end_offset": p.high_watermark()}),
    ))
}

/// REST Proxy v2: broker ids.
#[utoipa::path(get, path = "/brokers", tag = "rest-proxy",
    responses((status = 200, body = Object, content_type = "application/vnd.kafka.v2+json")))]
pub async fn brokers(State(state): State<Shared>) -> Response {
    v2_json(json!({"brokers": [state.broker.config().node_id]}))
}
