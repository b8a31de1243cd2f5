//! Client quotas on the Kafka data path (`strom_auth::Quotas`). Produce is charged the
//! record bytes it carries, Fetch the record bytes of its response, to the quota group of
//! (principal name, client id). Over quota, the response carries the delay in
//! `throttle_time_ms` and is sent at once; a throttled Fetch carries no data (and is not
//! charged). The connection then stops reading requests for the delay (KIP-219), which
//! `connection.rs` does with the duration returned here.

use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::messages::{
    FetchRequest, FetchResponse, ProduceRequest, ProduceResponse, RequestHeader,
};
use strom_auth::Session;

use super::Context;

/// The record bytes a Produce request carries.
pub(super) fn produce_bytes(request: &ProduceRequest) -> u64 {
    request
        .topic_data
        .iter()
        .flat_map(|t| t.partition_data.iter())
        .map(|p| p.records.as_ref().map_or(0, |r| r.len() as u64))
        .sum()
}

/// Charges a served Produce; sets `throttle_time_ms` when over quota. Returns the delay.
pub(super) fn produce(
    ctx: &Context,
    session: &Session,
    header: &RequestHeader,
    bytes: u64,
    response: Option<&mut ProduceResponse>,
) -> Duration {
    let delay =
        ctx.config
            .security
            .quotas
            .record_produce(&session.principal, client_id(header), bytes);
    if let Some(response) = response {
        response.throttle_time_ms = millis(delay);
    }
    delay
}

/// Caps a Fetch's `max_bytes` at what the client's consumer quota lets through in a window
/// (Kafka does the same), so one large fetch cannot stay over quota forever.
pub(super) fn cap_fetch(
    ctx: &Context,
    session: &Session,
    header: &RequestHeader,
    request: &mut FetchRequest,
) {
    let quotas = &ctx.config.security.quotas;
    if let Some(cap) = quotas.fetch_window_bytes(&session.principal, client_id(header)) {
        let cap = i32::try_from(cap).unwrap_or(i32::MAX).max(1);
        request.max_bytes = request.max_bytes.min(cap);
        request.min_bytes = request.min_bytes.min(request.max_bytes);
    }
}

/// Charges handler time to the client's `request_percentage` quota (Fetch is not charged:
/// its time is mostly the long-poll wait). Returns the delay, at most one window.
pub(super) fn request_time(
    ctx: &Context,
    session: &Session,
    header: &RequestHeader,
    busy: Duration,
) -> Duration {
    ctx.config
        .security
        .quotas
        .record_request_time(&session.principal, client_id(header), busy)
}

/// Charges a Fetch response; over quota, answers an empty response carrying the delay
/// instead (Kafka's `getThrottledResponse`). Returns the response to send and the delay.
pub(super) fn fetch(
    ctx: &Context,
    session: &Session,
    header: &RequestHeader,
    response: FetchResponse,
) -> (FetchResponse, Duration) {
    let bytes: u64 = response
        .responses
        .iter()
        .flat_map(|t| t.partitions.iter())
        .map(|p| p.records.as_ref().map_or(0, |r: &Bytes| r.len() as u64))
        .sum();
    let delay =
        ctx.config
            .security
            .quotas
            .record_fetch(&session.principal, client_id(header), bytes);
    if delay.is_zero() {
        return (response, delay);
    }
    let throttled = FetchResponse::default()
        .with_throttle_time_ms(millis(delay))
        .with_error_code(response.error_code)
        .with_session_id(response.session_id);
    (throttled, delay)
}

fn client_id(header: &RequestHeader) -> &str {
    header.client_id.as_deref().unwrap_or_default()
}

fn millis(delay: Duration) -> i32 {
    i32::try_from(delay.as_millis()).unwrap_or(i32::MAX)
}
