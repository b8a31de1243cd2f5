//! `GET /feeds/{topic}`: the topic as an HTTP feed (http-feeds.org, CloudEvents batch), as
//! Atom (`Accept: application/atom+xml`, see [`crate::atom`]) or as Server-Sent Events
//! (`Accept: text/event-stream`, see [`crate::sse`]), chosen by content negotiation.
//!
//! A full batch (exactly `limit` events, all below the high watermark) stays a correct
//! answer forever, so it carries a strong `ETag` and a year-long immutable `Cache-Control`;
//! `If-None-Match` answers 304.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::body::accepted;
use crate::consume::check_limit;
use crate::cursor::Cursor;
use crate::error::{ApiError, ApiResult};
use crate::schemas::Problem;
use crate::state::Shared;

/// Most events per feed response.
pub const MAX_FEED_LIMIT: usize = 1000;
pub const DEFAULT_FEED_LIMIT: usize = 100;
pub const CE_BATCH: &str = "application/cloudevents-batch+json";
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(non_snake_case)]
pub struct FeedParams {
    /// The id of the last processed event; absent or empty for the beginning.
    pub lastEventId: Option<String>,
    /// Long-poll: milliseconds to wait for events when there are none (capped by the server).
    pub timeout: Option<u64>,
    /// Most events to return (1..=1000, default 100).
    pub limit: Option<usize>,
    /// Atom only: the partition whose feed to show (default 0).
    pub partition: Option<i32>,
}

/// Representation chosen for a feed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedFormat {
    CloudEvents,
    PlainJson,
    Atom,
    EventStream,
}

/// Picks the representation from `Accept`: the first acceptable type wins.
pub fn negotiate(headers: &HeaderMap) -> ApiResult<FeedFormat> {
    let accepts = accepted(headers);
    if accepts.is_empty() {
        return Ok(FeedFormat::CloudEvents);
    }
    for media in &accepts {
        match media.as_str() {
            CE_BATCH | "application/*" | "*/*" => return Ok(FeedFormat::CloudEvents),
            "application/json" => return Ok(FeedFormat::PlainJson),
            "application/atom+xml" => return Ok(FeedFormat::Atom),
            "text/event-stream" => return Ok(FeedFormat::EventStream),
            _ => {}
        }
    }
    Err(ApiError::not_acceptable(format!(
        "cannot produce any of '{}'; available: {CE_BATCH}, application/json, application/atom+xml, text/event-stream",
        accepts.join(", ")
    )))
}

/// Whether `If-None-Match` lists `etag` (or `*`).
pub fn etag_matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

/// Topic id as short hex, so a deleted and recreated topic never reuses an ETag.
pub fn topic_tag(id: [u8; 16]) -> String {
    id.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// The feed of a topic: CloudEvents batch, Atom or Server-Sent Events by `Accept`.
#[utoipa::path(
    get,
    path = "/feeds/{topic}",
    tag = "feeds",
    params(("topic" = String, Path), FeedParams,
           ("Last-Event-ID" = Option<String>, Header, description = "SSE resume position")),
    responses(
        (status = 200, description = "Events after lastEventId, in order; [] at the end of the feed",
         content(
            (Vec<Object> = "application/cloudevents-batch+json"),
            (Vec<Object> = "application/json"),
            (String = "application/atom+xml"),
            (String = "text/event-stream"),
         )),
        (status = 304, description = "Not modified (If-None-Match on a full batch)"),
        (status = 400, description = "Invalid lastEventId, limit or timeout", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown topic", body = Problem, content_type = "application/problem+json"),
        (status = 406, description = "No acceptable representation", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn feed(
    State(state): State<Shared>,
    Path(topic): Path<String>,
    Query(params): Query<FeedParams>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let format = negotiate(&headers)?;
    let limit = check_limit(params.limit, DEFAULT_FEED_LIMIT, MAX_FEED_LIMIT)?;
    let t = state.topic(&topic)?;
    match format {
        FeedFormat::Atom => {
            return crate::atom::subscription(&state, &t, params.partition.unwrap_or(0), &headers)
                .await
        }
        FeedFormat::EventStream => {
            let last = headers
                .get("last-event-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
                .or(params.lastEventId);
            let cursor = Cursor::parse(last.as_deref(), t.partition_count() as usize)?;
            return Ok(crate::sse::stream(state, t, cursor, limit).into_response());
        }
        FeedFormat::CloudEvents | FeedFormat::PlainJson => {}
    }
    let cursor = Cursor::parse(params.lastEventId.as_deref(), t.partition_count() as usize)?;
    let timeout = state.poll_timeout(params.timeout);
    let mut shutdown = state.shutdown.clone();
    let shared = state
        .feed_cache
        .read_wait(&t, &cursor, limit, timeout, &mut shutdown)
        .await?;
    let batch = &shared.batch;
    // Events are rendered once per cached batch and spliced into the array as text.
    let mut body = String::from("[");
    for (i, (_, json)) in shared.rendered(&topic).iter().enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(json);
    }
    body.push(']');
    let content_type = if format == FeedFormat::PlainJson {
        "application/json"
    } else {
        CE_BATCH
    };
    let mut response_headers = HeaderMap::new();
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response_headers.insert(header::VARY, HeaderValue::from_static("accept"));
    if batch.full {
        let etag = format!(
            "\"ce-{}-{}-{}-{}\"",
            topic_tag(t.id()),
            cursor,
            limit,
            batch.cursor
        );
        if let Ok(v) = HeaderValue::from_str(&etag) {
            response_headers.insert(header::ETAG, v);
        }
        response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
        if etag_matches(&headers, &etag) {
            return Ok((StatusCode::NOT_MODIFIED, response_headers).into_response());
        }
    } else {
        response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    Ok((response_headers, body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation() {
        let mut h = HeaderMap::new();
        assert_eq!(negotiate(&h).unwrap(), FeedFormat::CloudEvents);
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/atom+xml"),
        );
        assert_eq!(negotiate(&h).unwrap(), FeedFormat::Atom);
        h.insert(header::ACCEPT, HeaderValue::from_static("text/html"));
        assert!(negotiate(&h).is_err());
    }

    #[test]
    fn if_none_match_lists() {
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"a\", W/\"b\""),
        );
        assert!(etag_matches(&h, "\"b\""));
        assert!(!etag_matches(&h, "\"c\""));
    }
}
