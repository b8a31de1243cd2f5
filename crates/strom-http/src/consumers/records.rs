//! REST Proxy v2 record fetch: the assigned partitions' records in the instance's embedded
//! format (binary, JSON, or decoded with the schema registry: avro, jsonschema, protobuf,
//! in Confluent's JSON rendering), with long-poll and a byte budget.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use futures_util::future::select_all;
use serde::Deserialize;
use serde_json::{json, Value};
use utoipa::IntoParams;

use super::handlers::instance;
use super::instance::{Format, Instance, UNDEFINED};
use super::offsets::commit_positions;
use crate::body::accepted;
use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::reader::read_records;
use crate::schemas::RestError;
use crate::state::Shared;

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

/// A key or value in the consumer's format. Errors: a schema format's bytes that do not
/// carry a known schema id or do not decode (why).
fn embed(state: &Shared, format: Format, bytes: &Option<bytes::Bytes>) -> Result<Value, String> {
    Ok(match bytes {
        None => Value::Null,
        Some(b) => match format {
            Format::Binary => json!(base64::engine::general_purpose::STANDARD.encode(b)),
            Format::Json => {
                serde_json::from_slice(b).unwrap_or_else(|_| json!(String::from_utf8_lossy(b)))
            }
            Format::Schema(_) => {
                let registry = state.config.schemas.as_ref().ok_or("no schema registry")?;
                match registry.decode_value_tagged(b) {
                    Some(decoded) => decoded?.value,
                    None => return Err("unknown magic byte or schema id".to_string()),
                }
            }
        },
    })
}

/// A record the consumer's format cannot show: Kafka's deserialization error, as the REST
/// Proxy reports it (500, 50002). The position stays on the record.
fn undecodable(topic: &str, p: i32, offset: i64, why: &str) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "deserialization",
        format!(
            "Error deserializing key/value for partition {topic}-{p} at offset {offset}: {why}"
        ),
    )
    .code(50002)
    .rest()
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
    let want = inst.format.media_type();
    let accepts = accepted(&headers);
    let other_format = |a: &String| {
        a.starts_with("application/vnd.kafka.") && a.ends_with(".v2+json") && a.as_str() != want
    };
    if accepts.iter().any(other_format)
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
                let embedded = embed(&state, inst.format, &r.key)
                    .and_then(|k| Ok((k, embed(&state, inst.format, &r.value)?)));
                let (key, value) = match embedded {
                    Ok(kv) => kv,
                    Err(why) if out.is_empty() => {
                        return Err(undecodable(topic, *p, r.offset, &why))
                    }
                    Err(_) => {
                        budget = 0;
                        break;
                    }
                };
                budget = budget.saturating_sub(size);
                let headers: Vec<Value> = r
                    .headers
                    .iter()
                    .map(|h| json!({"key": h.key, "value": h.value.as_ref().map(|v| base64::engine::general_purpose::STANDARD.encode(v))}))
                    .collect();
                out.push(json!({"topic": topic, "key": key, "value": value,
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
