//! Producing over HTTP, shared by the native endpoint (JSON, base64 and raw
//! `application/octet-stream`), the REST Proxy v2 endpoints and the WebSocket.
//!
//! A request is validated as a whole before anything is appended, its records are grouped
//! into one batch per partition, and each batch is checked against the topic's
//! `max.message.bytes` before the first append, so a bad request writes nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::Json;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use strom_auth::QuotaKey;
use strom_broker::{default_partition, encode_records, NewRecord, RecordHeader, Topic};
use utoipa::{IntoParams, ToSchema};

use crate::body::{content_type, parse_json, RawBody};
use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::produce_schema::{self, RecordSchemas, SchemaChoice, VersionIn};
use crate::quotas;
use crate::render::decode_b64;
use crate::schemas::{Problem, TimestampIn};
use crate::state::Shared;
use crate::timefmt::now_ms;

/// A record header to write.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeaderIn {
    pub key: String,
    /// UTF-8 text value.
    #[serde(default)]
    pub value: Option<String>,
    /// Binary value, base64; exclusive with `value`.
    #[serde(default)]
    pub value_base64: Option<String>,
}

/// One record to produce. `value` is any JSON value (stored as its JSON text); binary
/// values go in `value_base64`. With neither (or `"value": null`) the record is a tombstone.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProduceRecord {
    /// Key as UTF-8 text; with a key schema (`key_schema_id`, `key_subject`) any JSON value,
    /// encoded with it.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub key: Option<serde_json::Value>,
    /// Key as base64 bytes; exclusive with `key`.
    #[serde(default)]
    pub key_base64: Option<String>,
    /// Any JSON value, stored as its JSON text, or encoded with the value schema
    /// (`value_schema_id`, `value_subject`) in the serializers' wire format.
    /// (Kept as its JSON text: with an Avro value schema it is converted while parsed.)
    #[serde(default)]
    #[schema(value_type = Object)]
    pub value: Option<Box<serde_json::value::RawValue>>,
    /// Binary value, base64, stored as given; exclusive with `value`.
    #[serde(default)]
    pub value_base64: Option<String>,
    /// Target partition; by default murmur2 of the key (as Kafka clients), else round-robin.
    #[serde(default)]
    pub partition: Option<i32>,
    #[serde(default)]
    pub headers: Vec<HeaderIn>,
    /// Create time; now when absent.
    #[serde(default)]
    pub timestamp: Option<TimestampIn>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProduceRequest {
    pub records: Vec<ProduceRecord>,
    /// Encode every record's JSON `value` with this registered schema (Avro, JSON Schema,
    /// Protobuf) and frame it in Confluent's wire format (docs/schemas.md).
    #[serde(default)]
    pub value_schema_id: Option<i32>,
    /// ... or with a version of this subject (exclusive with `value_schema_id`).
    #[serde(default)]
    pub value_subject: Option<String>,
    /// The version of `value_subject`: a number or `"latest"` (the default).
    #[serde(default)]
    pub value_subject_version: Option<VersionIn>,
    /// Encode every record's JSON `key` with this registered schema.
    #[serde(default)]
    pub key_schema_id: Option<i32>,
    /// ... or with a version of this subject (exclusive with `key_schema_id`).
    #[serde(default)]
    pub key_subject: Option<String>,
    /// The version of `key_subject`: a number or `"latest"` (the default).
    #[serde(default)]
    pub key_subject_version: Option<VersionIn>,
}

/// Where one record landed (or why it did not).
#[derive(Debug, Serialize, ToSchema)]
pub struct RecordOffset {
    pub partition: Option<i32>,
    pub offset: Option<i64>,
    pub timestamp: Option<i64>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProduceResponse {
    pub topic: String,
    /// The schema the keys were encoded with, when the request named one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_schema_id: Option<i32>,
    /// The schema the values were encoded with, when the request named one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_schema_id: Option<i32>,
    /// One entry per request record, in request order.
    pub offsets: Vec<RecordOffset>,
}

/// Query parameters of a raw (`application/octet-stream`) single-record produce.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RawProduceParams {
    /// Record key (UTF-8).
    pub key: Option<String>,
    pub partition: Option<i32>,
    /// Milliseconds or RFC 3339.
    pub timestamp: Option<String>,
}

/// The outcome of one record of a write.
#[derive(Debug)]
pub enum Outcome {
    Written {
        partition: i32,
        offset: i64,
        timestamp: i64,
    },
    Failed {
        partition: i32,
        error: ApiError,
    },
}

/// Picks the partition as Kafka's default partitioner does, after validating an explicit one.
pub fn choose_partition(
    state: &Shared,
    topic: &Topic,
    explicit: Option<i32>,
    key: Option<&Bytes>,
) -> ApiResult<i32> {
    let count = topic.partition_count();
    match (explicit, key) {
        (Some(p), _) if p < 0 || p >= count => Err(ApiError::not_found(
            "unknown-partition",
            format!(
                "partition {p} does not exist in topic '{}' ({count} partitions)",
                topic.name()
            ),
        )
        .code(40402)),
        (Some(p), _) => Ok(p),
        (None, Some(key)) => Ok(default_partition(key, count)),
        (None, None) => Ok(state.next_round_robin(count)),
    }
}

/// Appends `records` (already validated, partitions chosen): one batch per partition.
/// Fails as a whole if nothing was written; once a batch is in, later failures are
/// reported per record.
pub async fn write(
    state: &Shared,
    topic: &Arc<Topic>,
    records: Vec<(i32, NewRecord)>,
) -> ApiResult<Vec<Outcome>> {
    if records.is_empty() {
        return Err(ApiError::unprocessable("no records to produce").code(42206));
    }
    crate::registry::check_produce(state, topic, &records)?;
    let max_batch = max_message_bytes(state, topic.name());
    let mut groups: BTreeMap<i32, Vec<(usize, NewRecord)>> = BTreeMap::new();
    let now = now_ms();
    for (i, (p, mut record)) in records.into_iter().enumerate() {
        // Stamped here so the response can report the timestamp that was stored.
        record.timestamp.get_or_insert(now);
        groups.entry(p).or_default().push((i, record));
    }
    let mut batches = Vec::new();
    for (p, group) in groups {
        let partition = topic.partition(p).ok_or_else(|| {
            ApiError::not_found("unknown-partition", format!("partition {p} not found")).code(40402)
        })?;
        let new: Vec<NewRecord> = group.iter().map(|(_, r)| r.clone()).collect();
        let encoded = encode_records(&new)?;
        if let Some(max) = max_batch {
            if encoded.len() > max {
                return Err(ApiError::new(
                    axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                    "record-batch-too-large",
                    format!(
                        "the records for partition {p} encode to {} bytes, above the topic's max.message.bytes of {max}",
                        encoded.len()
                    ),
                )
                .code(41301));
            }
        }
        let meta: Vec<(usize, i64)> = group
            .iter()
            .map(|(i, r)| (*i, r.timestamp.unwrap_or(now)))
            .collect();
        batches.push((p, partition, encoded, meta));
    }
    let total: usize = batches.iter().map(|b| b.3.len()).sum();
    let results = tokio::task::spawn_blocking(move || {
        let mut results = Vec::new();
        for (p, partition, mut encoded, meta) in batches {
            let appended = partition.append_batch_via(&mut encoded, "http");
            results.push((p, appended, meta));
        }
        results
    })
    .await
    .map_err(|e| ApiError::internal(format!("append task failed: {e}")))?;

    let mut outcomes: Vec<Option<Outcome>> = (0..total).map(|_| None).collect();
    let mut any_written = false;
    let mut first_error = None;
    for (p, appended, meta) in results {
        match appended {
            Ok(result) => {
                any_written = true;
                for (n, (i, ts)) in meta.into_iter().enumerate() {
                    let timestamp = if result.log_append_time >= 0 {
                        result.log_append_time
                    } else {
                        ts
                    };
                    outcomes[i] = Some(Outcome::Written {
                        partition: p,
                        offset: result.base_offset + n as i64,
                        timestamp,
                    });
                }
            }
            Err(err) => {
                let error = ApiError::from(err);
                tracing::warn!(topic = %topic.name(), partition = p, error = %error, "append failed");
                first_error.get_or_insert_with(|| error.clone());
                for (i, _) in meta {
                    outcomes[i] = Some(Outcome::Failed {
                        partition: p,
                        error: error.clone(),
                    });
                }
            }
        }
    }
    if let (false, Some(error)) = (any_written, first_error) {
        return Err(error);
    }
    Ok(outcomes.into_iter().flatten().collect())
}

fn max_message_bytes(state: &Shared, topic: &str) -> Option<usize> {
    state
        .broker
        .effective_topic_config(topic)
        .ok()?
        .into_iter()
        .find(|(k, _, _)| k == "max.message.bytes")
        .and_then(|(_, v, _)| v.parse().ok())
}

/// Converts a native record to a [`NewRecord`] and its partition.
fn native_record(
    state: &Shared,
    topic: &Topic,
    schemas: &RecordSchemas,
    index: usize,
    r: ProduceRecord,
) -> ApiResult<(i32, NewRecord)> {
    let ctx = |msg: String| ApiError::unprocessable(format!("record {index}: {msg}")).code(42206);
    let key = match (r.key, r.key_base64) {
        (Some(_), Some(_)) => return Err(ctx("give either key or key_base64, not both".into())),
        (Some(k), None) => produce_schema::key_bytes(schemas, index, k)?,
        (None, Some(b)) => Some(decode_b64("key_base64", &b).map_err(ctx)?),
        (None, None) => None,
    };
    let value = match (r.value, r.value_base64) {
        (Some(_), Some(_)) => {
            return Err(ctx("give either value or value_base64, not both".into()))
        }
        (Some(v), None) => Some(produce_schema::value_bytes(schemas, index, &v)?),
        (None, Some(b)) => Some(decode_b64("value_base64", &b).map_err(ctx)?),
        (None, None) => None,
    };
    let mut headers = Vec::with_capacity(r.headers.len());
    for h in r.headers {
        let value = match (h.value, h.value_base64) {
            (Some(_), Some(_)) => {
                return Err(ctx(format!(
                    "header '{}': give either value or value_base64",
                    h.key
                )))
            }
            (Some(v), None) => Some(Bytes::from(v)),
            (None, Some(b)) => Some(decode_b64("header value_base64", &b).map_err(ctx)?),
            (None, None) => None,
        };
        headers.push(RecordHeader { key: h.key, value });
    }
    let timestamp = match r.timestamp {
        Some(t) => Some(t.to_millis().map_err(|e| ctx(e.detail))?),
        None => None,
    };
    let partition =
        choose_partition(state, topic, r.partition, key.as_ref()).map_err(|e| ApiError {
            detail: format!("record {index}: {}", e.detail),
            ..e
        })?;
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

/// Validates native records into writes, keys and values encoded with `schemas`; the
/// first bad record fails the request.
pub fn native_records(
    state: &Shared,
    topic: &Topic,
    schemas: &RecordSchemas,
    records: Vec<ProduceRecord>,
) -> ApiResult<Vec<(i32, NewRecord)>> {
    records
        .into_iter()
        .enumerate()
        .map(|(i, r)| native_record(state, topic, schemas, i, r))
        .collect()
}

fn offsets(outcomes: Vec<Outcome>) -> Vec<RecordOffset> {
    outcomes
        .into_iter()
        .map(|o| match o {
            Outcome::Written {
                partition,
                offset,
                timestamp,
            } => RecordOffset {
                partition: Some(partition),
                offset: Some(offset),
                timestamp: Some(timestamp),
                error: None,
            },
            Outcome::Failed { partition, error } => RecordOffset {
                partition: Some(partition),
                offset: None,
                timestamp: None,
                error: Some(error.detail),
            },
        })
        .collect()
}

/// Produce records to a topic.
///
/// `application/json`: `{"records":[…]}`. `application/octet-stream`: the body is the value
/// of one record; key, partition and timestamp come from the query.
#[utoipa::path(
    post,
    path = "/v1/topics/{topic}/records",
    tag = "records",
    params(("topic" = String, Path, description = "Topic name"), RawProduceParams),
    request_body(content(
        (ProduceRequest = "application/json"),
        (Vec<u8> = "application/octet-stream"),
    )),
    responses(
        (status = 200, description = "Where every record landed", body = ProduceResponse),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown topic or partition, or a schema id, subject or version the request names", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body or batch too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Unsupported Content-Type", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid record, or a JSON key or value that does not convert with the named schema", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the producer byte-rate quota (see Retry-After)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn produce(
    State(state): State<Shared>,
    Caller(caller): Caller,
    Path(topic): Path<String>,
    Query(params): Query<RawProduceParams>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Json<ProduceResponse>> {
    let client_id = quotas::client_id(&headers);
    quotas::check(&state, &caller, &client_id, QuotaKey::ProducerByteRate)?;
    quotas::charge_produce(&state, &caller, &client_id, body.len());
    let ct = content_type(&headers);
    let topic_ref = state.topic_or_create(&caller, &topic)?;
    let mut schemas = RecordSchemas::default();
    let records = match ct.as_deref() {
        Some("application/json") => {
            let request: ProduceRequest = parse_json(&body)?;
            schemas = request_schemas(&state, &caller, &request)?;
            native_records(&state, &topic_ref, &schemas, request.records)?
        }
        Some("application/octet-stream") => {
            let key = params.key.map(Bytes::from);
            let timestamp = match params.timestamp {
                Some(t) => Some(crate::timefmt::parse_timestamp(&t)?),
                None => None,
            };
            let partition = choose_partition(&state, &topic_ref, params.partition, key.as_ref())?;
            vec![(
                partition,
                NewRecord {
                    key,
                    value: Some(body),
                    headers: Vec::new(),
                    timestamp,
                },
            )]
        }
        other => {
            return Err(ApiError::unsupported_media_type(format!(
                "unsupported Content-Type '{}'; use application/json or application/octet-stream",
                other.unwrap_or("(none)")
            )))
        }
    };
    let outcomes = write(&state, &topic_ref, records).await?;
    Ok(Json(ProduceResponse {
        topic,
        key_schema_id: schemas.key_id(),
        value_schema_id: schemas.value_id(),
        offsets: offsets(outcomes),
    }))
}

/// The key and value schemas `request` names (docs/schemas.md, "Producing JSON with a
/// schema").
fn request_schemas(
    state: &Shared,
    caller: &strom_auth::Session,
    request: &ProduceRequest,
) -> ApiResult<RecordSchemas> {
    let choice =
        |id: Option<i32>, subject: &Option<String>, version: &Option<VersionIn>| SchemaChoice {
            id,
            subject: subject.clone(),
            version: version.clone(),
        };
    produce_schema::resolve(
        state,
        caller,
        choice(
            request.key_schema_id,
            &request.key_subject,
            &request.key_subject_version,
        ),
        choice(
            request.value_schema_id,
            &request.value_subject,
            &request.value_subject_version,
        ),
    )
}
