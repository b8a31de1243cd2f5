//! Bounded, resumable search over a topic (console C6): `GET /v1/topics/{topic}/search`.
//! The filter is plain byte comparison (key equals or contains, value contains, a header,
//! a time range); no user code runs on the server. Every request is bounded by records and
//! bytes scanned and wall time (each capped by the server) and answers what it scanned and
//! matched with a cursor to continue exactly where it stopped. A key-equals search reads
//! only the partition Kafka's default partitioner (murmur2) puts the key in. Needs Read on
//! the topic (authz.rs).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use strom_auth::QuotaKey;
use strom_broker::Topic;
use utoipa::{IntoParams, ToSchema};

use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::export::{download, ExportEncoding, ExportFormat};
use crate::quotas;
use crate::render::{record_json, ValueFormat};
use crate::schemas::Problem;
use crate::search_scan::{scan, Budget, Filter, Lane, SearchCursor, Stop};
use crate::state::Shared;
use crate::timefmt::{now_ms, parse_timestamp};

/// Most matches one request returns.
pub const MAX_MATCHES: usize = 500;
/// Most records one request scans.
pub const MAX_SCAN_RECORDS: u64 = 1_000_000;
/// Most bytes (keys, values, headers) one request scans.
pub const MAX_SCAN_BYTES: u64 = 256 * 1024 * 1024;
/// Longest one request scans, in milliseconds.
pub const MAX_SCAN_MS: u64 = 10_000;

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Key to look for (UTF-8 text).
    pub key: Option<String>,
    /// `equals` (default: only the key's partition by murmur2 is scanned, unless `partition`
    /// is given) or `contains`.
    pub key_match: Option<String>,
    /// Bytes the value must contain (UTF-8 text).
    pub value_contains: Option<String>,
    /// `name` (the record has this header) or `name:value` (with exactly this value).
    pub header: Option<String>,
    /// Scan only this partition.
    pub partition: Option<i32>,
    /// First offset to scan in each partition (default: the log start).
    pub from_offset: Option<i64>,
    /// Stop before this offset in each partition (default: the end when the request runs).
    pub to_offset: Option<i64>,
    /// Only records at or after this time (ms or RFC 3339); also where the scan starts.
    pub from_time: Option<String>,
    /// Only records at or before this time (ms or RFC 3339).
    pub to_time: Option<String>,
    /// A previous answer's `cursor`: continue there (its partitions are the scope).
    pub cursor: Option<String>,
    /// Most matches to return (1..=500, default 50).
    pub limit: Option<usize>,
    /// Most records to scan (default 100000, at most 1000000).
    pub max_records: Option<u64>,
    /// Most bytes to scan (default 64 MiB, at most 256 MiB).
    pub max_bytes: Option<u64>,
    /// Longest to scan in milliseconds (default 2000, at most 10000).
    pub max_ms: Option<u64>,
    /// `json` (default) or `binary`.
    #[param(inline)]
    pub format: Option<ValueFormat>,
    /// Download the matches as `jsonl` or `csv` instead of the JSON answer (console C16).
    #[param(inline)]
    pub export: Option<ExportFormat>,
    /// With `export`: keys and values as `text` (UTF-8, else base64; default) or `base64`.
    #[param(inline)]
    pub encoding: Option<ExportEncoding>,
}

/// Where the scan of one partition stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct LaneState {
    pub partition: i32,
    /// The next offset to scan.
    pub position: i64,
    /// Where the scan of this partition ends (exclusive).
    pub end: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResponse {
    pub topic: String,
    /// Matching records (the record shape of the consume API), partition by partition.
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<serde_json::Value>,
    /// Records scanned by this request.
    pub scanned: u64,
    pub scanned_bytes: u64,
    /// Records matched by this request.
    pub matched: u64,
    /// Why the request stopped: `end`, `limit`, `max_records`, `max_bytes` or `max_ms`.
    pub stopped: Stop,
    /// Pass as `cursor` to continue; `null` once every partition was scanned to its end.
    pub cursor: Option<String>,
    pub partitions: Vec<LaneState>,
    pub elapsed_ms: u64,
}

fn bounded(value: Option<u64>, default: u64, max: u64, name: &str) -> ApiResult<u64> {
    match value.unwrap_or(default) {
        0 => Err(ApiError::bad_request(format!("{name} must be at least 1"))),
        n => Ok(n.min(max)),
    }
}

fn budget(p: &SearchParams) -> ApiResult<Budget> {
    Ok(Budget {
        limit: crate::consume::check_limit(p.limit, 50, MAX_MATCHES)?,
        max_records: bounded(p.max_records, 100_000, MAX_SCAN_RECORDS, "max_records")?,
        max_bytes: bounded(p.max_bytes, 64 * 1024 * 1024, MAX_SCAN_BYTES, "max_bytes")?,
        max_ms: bounded(p.max_ms, 2_000, MAX_SCAN_MS, "max_ms")?,
    })
}

fn filter(p: &SearchParams) -> ApiResult<Filter> {
    let key_equals = match p.key_match.as_deref().unwrap_or("equals") {
        "equals" => true,
        "contains" => false,
        other => {
            return Err(ApiError::bad_request(format!(
                "key_match '{other}' is not one of equals, contains"
            )))
        }
    };
    let header = p.header.as_deref().map(|h| match h.split_once(':') {
        Some((k, v)) => (k.to_string(), Some(v.as_bytes().to_vec())),
        None => (h.to_string(), None),
    });
    Ok(Filter {
        key: p.key.as_ref().map(|k| k.as_bytes().to_vec()),
        key_equals,
        value_contains: p.value_contains.as_ref().map(|v| v.as_bytes().to_vec()),
        header,
        from_time: p.from_time.as_deref().map(parse_timestamp).transpose()?,
        to_time: p.to_time.as_deref().map(parse_timestamp).transpose()?,
    })
}

/// The partitions to scan and where each starts: the cursor's, else `partition`, else the
/// key's partition for a key-equals search, else all.
async fn lanes(topic: &Topic, p: &SearchParams, f: &Filter) -> ApiResult<Vec<Lane>> {
    let count = topic.partition_count();
    let starts: Vec<(i32, Option<i64>)> = match &p.cursor {
        Some(c) => SearchCursor::parse(c, count)?
            .0
            .into_iter()
            .map(|(i, o)| (i, Some(o)))
            .collect(),
        None => {
            let scope: Vec<i32> = match (p.partition, &f.key) {
                (Some(i), _) if i < 0 || i >= count => {
                    return Err(ApiError::not_found(
                        "unknown-partition",
                        format!("partition {i} not found ({count} partitions)"),
                    )
                    .code(40402))
                }
                (Some(i), _) => vec![i],
                (None, Some(k)) if f.key_equals => {
                    vec![strom_broker::default_partition(k, count)]
                }
                (None, _) => (0..count).collect(),
            };
            scope.into_iter().map(|i| (i, p.from_offset)).collect()
        }
    };
    let mut out = Vec::with_capacity(starts.len());
    for (i, start) in starts {
        let partition = topic.partition(i).ok_or_else(|| {
            ApiError::not_found("unknown-partition", format!("partition {i} not found"))
        })?;
        let stable = partition.last_stable_offset();
        let end = p.to_offset.map_or(stable, |t| t.clamp(0, stable));
        let position = match (start, f.from_time) {
            (Some(o), _) => o,
            (None, Some(ms)) => {
                let part = Arc::clone(&partition);
                tokio::task::spawn_blocking(move || part.offset_for_timestamp(ms))
                    .await
                    .map_err(|e| ApiError::internal(format!("lookup task failed: {e}")))??
                    .map_or(end, |(o, _)| o)
            }
            (None, None) => partition.log_start_offset(),
        };
        out.push(Lane {
            partition,
            position: position.max(0),
            end,
        });
    }
    Ok(out)
}

/// Search a topic's records within a budget; continue with the answer's `cursor`.
#[utoipa::path(
    get,
    path = "/v1/topics/{topic}/search",
    tag = "records",
    params(("topic" = String, Path), SearchParams),
    responses(
        (status = 200, body = SearchResponse),
        (status = 403, description = "Not authorized, or export turned off", body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "Invalid parameter", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown topic or partition", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Over the consumer byte-rate quota (see Retry-After)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn search(
    State(state): State<Shared>,
    Caller(caller): Caller,
    Path(topic): Path<String>,
    Query(params): Query<SearchParams>,
    headers: axum::http::HeaderMap,
) -> ApiResult<Response> {
    let client_id = quotas::client_id(&headers);
    quotas::check(&state, &caller, &client_id, QuotaKey::ConsumerByteRate)?;
    let budget = budget(&params)?;
    let filter = filter(&params)?;
    let format = params.format.unwrap_or(ValueFormat::Json);
    if params.export.is_some() && !state.config.console.export {
        return download(
            false,
            &topic,
            &[],
            ExportFormat::Jsonl,
            ExportEncoding::Text,
        );
    }
    let t = state.topic(&topic)?;
    let started = now_ms();
    let mut lanes = lanes(&t, &params, &filter).await?;
    let found = scan(&mut lanes, &filter, budget).await?;
    let bytes: usize = found
        .matches
        .iter()
        .map(|(_, r)| {
            r.key.as_ref().map_or(0, |k| k.len()) + r.value.as_ref().map_or(0, |v| v.len())
        })
        .sum();
    quotas::charge_consume(&state, &caller, &client_id, bytes);
    strom_broker::telemetry::records_out(&topic, "http", found.matches.len() as u64, bytes as u64);
    if let Some(kind) = params.export {
        let encoding = params.encoding.unwrap_or_default();
        return download(true, &topic, &found.matches, kind, encoding);
    }
    let done = lanes.iter().all(|l| l.position >= l.end);
    let cursor = SearchCursor(
        lanes
            .iter()
            .map(|l| (l.partition.index(), l.position))
            .collect(),
    );
    let schemas = state.config.schemas.as_deref();
    Ok(Json(SearchResponse {
        records: found
            .matches
            .iter()
            .map(|(i, r)| record_json(&topic, *i, r, format, schemas))
            .collect(),
        scanned: found.scanned,
        scanned_bytes: found.scanned_bytes,
        matched: found.matches.len() as u64,
        stopped: found.stop.unwrap_or(Stop::End),
        cursor: (!done).then(|| cursor.to_string()),
        partitions: lanes
            .iter()
            .map(|l| LaneState {
                partition: l.partition.index(),
                position: l.position,
                end: l.end,
            })
            .collect(),
        elapsed_ms: (now_ms() - started).max(0) as u64,
        topic,
    })
    .into_response())
}
