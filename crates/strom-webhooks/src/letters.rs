//! Dead letters for operators: a page of a dead-letter topic (a subscription's, a group's or
//! a topic's), each with the original record and its `strom-dlq-*` headers as fields.
//! Read-only.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use serde::Serialize;
use strom_broker::{Broker, StoredRecord};

use crate::dlq::{self, field, PREFIX};
use crate::error::{Result, WebhookError};
use crate::Webhooks;

/// Most dead letters one page or redrive handles.
pub const MAX_BATCH: usize = 1000;

/// A record header as text.
#[derive(Debug, Clone, Serialize)]
pub struct Header {
    pub key: String,
    pub value: Option<String>,
}

/// A dead letter as listed: the original record and why it failed.
#[derive(Debug, Clone, Serialize)]
pub struct Letter {
    /// Its offset in the dead-letter topic.
    pub offset: i64,
    pub timestamp_ms: i64,
    pub key: Option<String>,
    /// The value as UTF-8 text, or `value_base64` when it is not.
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_base64: Option<String>,
    /// The original headers (without `strom-dlq-*`).
    pub headers: Vec<Header>,
    /// Who dead-lettered it: `subscription`, `consumer-group` or `topic`.
    pub source: Option<String>,
    pub event_id: Option<String>,
    pub topic: Option<String>,
    pub partition: Option<i32>,
    /// Offset of the original record in `topic`/`partition`.
    pub source_offset: Option<i64>,
    pub subscription: Option<String>,
    pub attempts: Option<u32>,
    /// Redrives to the subscription that failed again (0 for a first dead letter).
    pub redrives: u32,
    pub first_attempt: Option<String>,
    pub last_attempt: Option<String>,
    /// `exhausted` or `skipped`.
    pub reason: Option<String>,
    /// Last HTTP status; none after a network error.
    pub status: Option<u16>,
    pub error: Option<String>,
    pub response: Option<String>,
    /// REST Proxy rejects: the group and instance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Topic reports: the consumer named in the report (empty when none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer: Option<String>,
    /// Rejects and reports: the principal that sent it and when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
}

/// One page of dead letters.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Page {
    pub dead_letters: Vec<Letter>,
    pub start_offset: i64,
    pub end_offset: i64,
    /// The `from` of the next page; none at the end.
    pub next_offset: Option<i64>,
}

fn text(b: &Option<Bytes>) -> Option<String> {
    b.as_deref()
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// A stored dead letter as listed.
pub fn letter_view(r: &StoredRecord) -> Letter {
    let utf8 = r.value.as_deref().map(|v| std::str::from_utf8(v).is_ok());
    let value_base64 = (utf8 == Some(false))
        .then(|| r.value.as_deref().map(|v| STANDARD.encode(v)))
        .flatten();
    let num = |name: &str| field(r, name).and_then(|v| v.parse::<i64>().ok());
    let headers = r
        .headers
        .iter()
        .filter(|h| !h.key.starts_with(PREFIX))
        .map(|h| Header {
            key: h.key.clone(),
            value: text(&h.value),
        })
        .collect();
    Letter {
        offset: r.offset,
        timestamp_ms: r.timestamp,
        key: text(&r.key),
        value: if utf8 == Some(true) {
            text(&r.value)
        } else {
            None
        },
        value_base64,
        headers,
        source: field(r, "source"),
        event_id: field(r, "event-id"),
        topic: field(r, "topic"),
        partition: num("partition").and_then(|p| i32::try_from(p).ok()),
        source_offset: num("offset"),
        subscription: field(r, "subscription"),
        attempts: num("attempts").and_then(|a| u32::try_from(a).ok()),
        redrives: num("redrives")
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(0),
        first_attempt: field(r, "first-attempt"),
        last_attempt: field(r, "last-attempt"),
        reason: field(r, "reason"),
        status: num("status").and_then(|s| u16::try_from(s).ok()),
        error: field(r, "error"),
        response: field(r, "response"),
        group: field(r, "group"),
        instance: field(r, "instance"),
        consumer: field(r, "consumer"),
        principal: field(r, "principal"),
        time: field(r, "time"),
    }
}

/// Up to `limit` (at most [`MAX_BATCH`]) dead letters of `topic` from offset `from` (default:
/// the first kept), blocking. Errors: `Broker`.
pub fn page(broker: &Broker, topic: &str, from: Option<i64>, limit: usize) -> Result<Page> {
    let part = broker.partition(topic, 0)?;
    let (start, end) = (part.log_start_offset(), part.high_watermark());
    let limit = limit.clamp(1, MAX_BATCH);
    let records = dlq::read(broker, topic, from.unwrap_or(start), limit)?;
    let next = records.last().map(|r| r.offset + 1).filter(|n| *n < end);
    Ok(Page {
        dead_letters: records.iter().map(letter_view).collect(),
        start_offset: start,
        end_offset: end,
        next_offset: next,
    })
}

pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| WebhookError::Broker(strom_broker::BrokerError::ShuttingDown))?
}

impl Webhooks {
    fn dead_letter_topic(&self, name: &str) -> Result<String> {
        Ok(self.runtime(name)?.current().dead_letter_topic.clone())
    }

    /// Up to `limit` (at most [`MAX_BATCH`]) dead letters from offset `from` (default: the
    /// first). Errors: `NotFound`, `Broker`.
    pub async fn dead_letter_page(
        &self,
        name: &str,
        from: Option<i64>,
        limit: usize,
    ) -> Result<Page> {
        let topic = self.dead_letter_topic(name)?;
        let broker = Arc::clone(&self.ctx.broker);
        blocking(move || page(&broker, &topic, from, limit)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strom_broker::RecordHeader;

    fn letter(headers: &[(&str, &str)], value: &[u8]) -> StoredRecord {
        StoredRecord {
            offset: 3,
            timestamp: 1_000,
            key: Some(Bytes::from_static(b"k")),
            value: Some(Bytes::copy_from_slice(value)),
            headers: headers
                .iter()
                .map(|(k, v)| RecordHeader {
                    key: k.to_string(),
                    value: Some(Bytes::copy_from_slice(v.as_bytes())),
                })
                .collect(),
        }
    }

    #[test]
    fn a_letter_shows_its_failure_headers_as_fields() {
        let r = letter(
            &[
                ("trace", "t1"),
                ("strom-dlq-topic", "orders"),
                ("strom-dlq-partition", "2"),
                ("strom-dlq-offset", "41"),
                ("strom-dlq-attempts", "3"),
                ("strom-dlq-status", "500"),
                ("strom-dlq-last-attempt", "2026-01-01T00:00:00.000Z"),
            ],
            b"\xff\x00",
        );
        let v = letter_view(&r);
        assert_eq!(v.topic.as_deref(), Some("orders"));
        assert_eq!((v.partition, v.source_offset), (Some(2), Some(41)));
        assert_eq!((v.attempts, v.status), (Some(3), Some(500)));
        assert_eq!(v.headers.len(), 1);
        assert_eq!(v.value, None);
        assert_eq!(v.value_base64.as_deref(), Some("/wA="));
    }
}
