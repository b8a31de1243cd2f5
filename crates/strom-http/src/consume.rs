//! Consuming one partition by position: from an offset or a timestamp, with `limit`,
//! `max_bytes` and a long-poll `timeout` that wakes on the partition's high-watermark
//! notification.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use strom_auth::QuotaKey;
use utoipa::{IntoParams, ToSchema};

use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::quotas;
use crate::reader::{read_records, DEFAULT_MAX_BYTES};
use crate::render::{record_json, ValueFormat};
use crate::schemas::Problem;
use crate::state::Shared;
use crate::timefmt::parse_timestamp;

/// Most records one request may ask for.
pub const MAX_LIMIT: usize = 10_000;
/// Largest byte budget one request may ask for.
pub const MAX_READ_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConsumeParams {
    /// First offset to return. Default: the log start. Exclusive with `timestamp`.
    pub offset: Option<i64>,
    /// Start at the first record with this timestamp or later (ms or RFC 3339).
    pub timestamp: Option<String>,
    /// Most records to return (1..=10000, default 100).
    pub limit: Option<usize>,
    /// Byte budget of the read (default 1 MiB).
    pub max_bytes: Option<usize>,
    /// Long-poll: wait up to this many milliseconds for a record (capped by the server).
    pub timeout: Option<u64>,
    /// `json` (default) or `binary`.
    #[param(inline)]
    pub format: Option<ValueFormat>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsumeResponse {
    pub topic: String,
    pub partition: i32,
    /// Records in offset order (see the record shape in docs/http.md).
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<serde_json::Value>,
    /// Pass as `offset` to continue.
    pub next_offset: i64,
    pub high_watermark: i64,
    pub log_start_offset: i64,
}

/// Validates `limit`.
pub fn check_limit(limit: Option<usize>, default: usize, max: usize) -> ApiResult<usize> {
    match limit.unwrap_or(default) {
        0 => Err(ApiError::bad_request("limit must be at least 1")),
        n if n > max => Err(ApiError::bad_request(format!(
            "limit {n} is above the maximum of {max}"
        ))),
        n => Ok(n),
    }
}

/// Read records of a partition from an offset or a timestamp.
#[utoipa::path(
    get,
    path = "/v1/topics/{topic}/partitions/{partition}/records",
    tag = "records",
    params(("topic" = String, Path), ("partition" = i32, Path), ConsumeParams),
    responses(
        (status = 200, body = ConsumeResponse),
        (status = 400, description = "Invalid parameter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown topic or partition", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Offset out of range", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the consumer byte-rate quota (see Retry-After)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn consume(
    State(state): State<Shared>,
    Caller(caller): Caller,
    Path((topic, partition)): Path<(String, i32)>,
    Query(params): Query<ConsumeParams>,
    headers: axum::http::HeaderMap,
) -> ApiResult<Json<ConsumeResponse>> {
    let client_id = quotas::client_id(&headers);
    quotas::check(&state, &caller, &client_id, QuotaKey::ConsumerByteRate)?;
    let limit = check_limit(params.limit, 100, MAX_LIMIT)?;
    let max_bytes = match params.max_bytes {
        Some(0) => return Err(ApiError::bad_request("max_bytes must be at least 1")),
        Some(n) => n.min(MAX_READ_BYTES),
        None => DEFAULT_MAX_BYTES,
    };
    let format = params.format.unwrap_or(ValueFormat::Json);
    let t = state.topic(&topic)?;
    let p = t.partition(partition).ok_or_else(|| {
        ApiError::not_found(
            "unknown-partition",
            format!(
                "partition {partition} of topic '{topic}' not found ({} partitions)",
                t.partition_count()
            ),
        )
        .code(40402)
    })?;
    let offset = match (params.offset, params.timestamp) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "give either offset or timestamp, not both",
            ))
        }
        (Some(o), None) => {
            if o < 0 {
                return Err(ApiError::bad_request(format!("offset {o} is negative")));
            }
            let (start, end) = (p.log_start_offset(), p.last_stable_offset());
            if o < start || o > end {
                return Err(ApiError::new(
                    axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                    "offset-out-of-range",
                    format!(
                        "offset {o} is out of range: partition {partition} holds [{start}, {end})"
                    ),
                )
                .code(42202));
            }
            o
        }
        (None, Some(ts)) => {
            let ms = parse_timestamp(&ts)?;
            let found = {
                let p = Arc::clone(&p);
                tokio::task::spawn_blocking(move || p.offset_for_timestamp(ms))
                    .await
                    .map_err(|e| ApiError::internal(format!("lookup task failed: {e}")))??
            };
            found
                .map(|(o, _)| o)
                .unwrap_or_else(|| p.last_stable_offset())
        }
        (None, None) => p.log_start_offset(),
    };
    let timeout = state.poll_timeout(params.timeout);
    if offset >= p.last_stable_offset() && !timeout.is_zero() {
        let mut shutdown = state.shutdown.clone();
        tokio::select! {
            _ = p.wait_for_data(offset, timeout) => {}
            _ = shutdown.changed() => {}
        }
    }
    let out = read_records(Arc::clone(&p), offset, limit, max_bytes).await?;
    let bytes: usize = out
        .records
        .iter()
        .map(|r| r.key.as_ref().map_or(0, |k| k.len()) + r.value.as_ref().map_or(0, |v| v.len()))
        .sum();
    quotas::charge_consume(&state, &caller, &client_id, bytes);
    let next_offset = if out.records.is_empty() {
        offset.max(out.next_offset)
    } else {
        out.next_offset
    };
    Ok(Json(ConsumeResponse {
        records: out
            .records
            .iter()
            .map(|r| {
                record_json(
                    &topic,
                    partition,
                    r,
                    format,
                    state.config.schemas.as_deref(),
                )
            })
            .collect(),
        topic,
        partition,
        next_offset,
        high_watermark: out.high_watermark.max(p.last_stable_offset()),
        log_start_offset: out.log_start_offset,
    }))
}
