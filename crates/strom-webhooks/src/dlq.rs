//! Dead letters: the one dead-letter record builder ([`build`]: the original key, value,
//! timestamp and headers plus `strom-dlq-*` headers saying who dead-lettered it and why),
//! shared by webhook subscriptions, REST Proxy consumer rejects and topic reports
//! ([`crate::reports`]), and reading them back (listing, redrive).

use bytes::Bytes;
use strom_broker::{decode_records, Broker, NewRecord, RecordHeader, StoredRecord};

use crate::error::Result;
use crate::payload::DLQ_ID_HEADER;

/// Prefix of the headers Strom adds to a dead letter.
pub const PREFIX: &str = "strom-dlq-";
const READ_BYTES: usize = 1 << 20;

/// Why an event was dead-lettered.
#[derive(Debug, Clone)]
pub struct Reason {
    pub subscription: String,
    pub event_id: String,
    pub topic: String,
    pub partition: i32,
    /// Attempts over the event's life (earlier redrives included).
    pub attempts: u32,
    /// How often the event was redriven and failed again.
    pub redrives: u32,
    pub first_attempt_ms: i64,
    pub last_attempt_ms: i64,
    /// `exhausted` (retries used up) or `skipped` (operator skip of a blocked event).
    pub reason: &'static str,
    pub status: Option<u16>,
    pub error: String,
    pub response: String,
}

/// Who dead-lettered a record: the `strom-dlq-source` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A webhook subscription, after its retries (or an operator skip).
    Subscription,
    /// A REST Proxy v2 consumer instance that rejected the record.
    ConsumerGroup,
    /// A client's report on a topic's dead-letter endpoint (feed readers).
    Topic,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Subscription => "subscription",
            Source::ConsumerGroup => "consumer-group",
            Source::Topic => "topic",
        }
    }
}

/// RFC 3339 with milliseconds, as the time headers carry it.
pub fn rfc3339(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

/// The one dead-letter builder (webhooks, REST Proxy rejects, topic reports): the original
/// key, value, timestamp and headers of `record` (minus earlier `strom-dlq-*` ones and
/// repeated keys), then `strom-dlq-source`, `strom-dlq-topic`, `strom-dlq-partition`,
/// `strom-dlq-offset` and the source's own `fields` (names without the prefix).
pub fn build(
    record: &StoredRecord,
    source: Source,
    topic: &str,
    partition: i32,
    fields: Vec<(&str, String)>,
) -> NewRecord {
    let mut headers: Vec<RecordHeader> = Vec::new();
    for h in &record.headers {
        if !h.key.starts_with(PREFIX) && !headers.iter().any(|k| k.key == h.key) {
            headers.push(h.clone());
        }
    }
    let common = [
        ("source", source.as_str().to_string()),
        ("topic", topic.to_string()),
        ("partition", partition.to_string()),
        ("offset", record.offset.to_string()),
    ];
    for (name, value) in common.into_iter().chain(fields) {
        headers.push(RecordHeader {
            key: format!("{PREFIX}{name}"),
            value: Some(Bytes::from(value)),
        });
    }
    NewRecord {
        key: record.key.clone(),
        value: record.value.clone(),
        headers,
        timestamp: Some(record.timestamp),
    }
}

/// The dead letter of `record` failed by a subscription: [`build`] with the delivery
/// headers.
pub fn letter(record: &StoredRecord, why: &Reason) -> NewRecord {
    let status = why.status.map(|s| s.to_string()).unwrap_or_default();
    let fields = vec![
        ("event-id", why.event_id.clone()),
        ("subscription", why.subscription.clone()),
        ("attempts", why.attempts.to_string()),
        ("redrives", why.redrives.to_string()),
        ("first-attempt", rfc3339(why.first_attempt_ms)),
        ("last-attempt", rfc3339(why.last_attempt_ms)),
        ("reason", why.reason.to_string()),
        ("status", status),
        ("error", why.error.clone()),
        ("response", why.response.clone()),
    ];
    build(
        record,
        Source::Subscription,
        &why.topic,
        why.partition,
        fields,
    )
}

/// Appends one dead letter (blocking). Errors: `Broker` when the topic cannot be written.
pub fn write(broker: &Broker, topic: &str, letter: NewRecord) -> Result<i64> {
    let partition = broker.partition(topic, 0)?;
    let appended = partition.append_records(&[letter])?;
    Ok(appended.base_offset)
}

/// The header `name` (without prefix) of a dead letter.
pub fn field(record: &StoredRecord, name: &str) -> Option<String> {
    let key = format!("{PREFIX}{name}");
    record
        .headers
        .iter()
        .find(|h| h.key == key)
        .and_then(|h| h.value.as_deref())
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// The record as it was before dead-lettering, with its original id kept in
/// `strom-dlq-event-id`, and where it came from.
pub fn original(letter: &StoredRecord) -> Option<(StoredRecord, String, i32)> {
    let topic = field(letter, "topic")?;
    let partition = field(letter, "partition")?.parse().ok()?;
    let offset = field(letter, "offset")?.parse().ok()?;
    let id = field(letter, "event-id")?;
    let mut headers: Vec<RecordHeader> = letter
        .headers
        .iter()
        .filter(|h| !h.key.starts_with(PREFIX))
        .cloned()
        .collect();
    headers.push(RecordHeader {
        key: DLQ_ID_HEADER.into(),
        value: Some(Bytes::from(id)),
    });
    let record = StoredRecord {
        offset,
        timestamp: letter.timestamp,
        key: letter.key.clone(),
        value: letter.value.clone(),
        headers,
    };
    Some((record, topic, partition))
}

/// Dead letters from `from` (at most `limit`), oldest first (blocking).
pub fn read(broker: &Broker, topic: &str, from: i64, limit: usize) -> Result<Vec<StoredRecord>> {
    let partition = broker.partition(topic, 0)?;
    let mut next = from.max(partition.log_start_offset());
    let end = partition.high_watermark();
    let mut out = Vec::new();
    while next < end && out.len() < limit {
        let fetched = partition.read(next, READ_BYTES)?;
        let records = decode_records(&fetched.records)?;
        let Some(last) = records.last().map(|r| r.offset) else {
            break;
        };
        out.extend(records.into_iter().filter(|r| r.offset >= next));
        next = last + 1;
    }
    out.truncate(limit);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_gets_the_common_headers_after_the_original_ones() {
        let record = StoredRecord {
            offset: 7,
            timestamp: 1_000,
            key: Some(Bytes::from_static(b"k")),
            value: Some(Bytes::from_static(b"\xff")),
            headers: vec![
                RecordHeader {
                    key: "trace".into(),
                    value: Some(Bytes::from_static(b"t")),
                },
                RecordHeader {
                    key: "strom-dlq-reason".into(),
                    value: Some(Bytes::from_static(b"old")),
                },
            ],
        };
        let fields = vec![("group", "g".to_string()), ("reason", "bad".to_string())];
        let l = build(&record, Source::ConsumerGroup, "orders", 2, fields);
        let keys: Vec<&str> = l.headers.iter().map(|h| h.key.as_str()).collect();
        let want = [
            "trace",
            "strom-dlq-source",
            "strom-dlq-topic",
            "strom-dlq-partition",
            "strom-dlq-offset",
            "strom-dlq-group",
            "strom-dlq-reason",
        ];
        assert_eq!(keys, want);
        assert_eq!(l.headers[1].value.as_deref(), Some(&b"consumer-group"[..]));
        assert_eq!(l.headers[4].value.as_deref(), Some(&b"7"[..]));
        assert_eq!((l.value, l.timestamp), (record.value, Some(1_000)));
    }

    /// The `strom-dlq-*` names in the "### Dead letters" section of docs/webhooks.md.
    fn documented_headers() -> Vec<String> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/webhooks.md");
        let doc = std::fs::read_to_string(path).unwrap();
        let start = doc.find("### Dead letters\n").unwrap();
        let section = &doc[start..];
        let section = &section[..section.find("\n\n`GET").unwrap()];
        let mut names: Vec<String> = section
            .split('`')
            .filter(|s| s.starts_with(PREFIX))
            .map(str::to_string)
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_subscriptions_dead_letter_has_the_documented_headers_and_values() {
        let record = StoredRecord {
            offset: 9,
            timestamp: 5,
            key: None,
            value: None,
            headers: Vec::new(),
        };
        let why = Reason {
            subscription: "s".into(),
            event_id: "t/1/9".into(),
            topic: "t".into(),
            partition: 1,
            attempts: 3,
            redrives: 1,
            first_attempt_ms: 0,
            last_attempt_ms: 1_500,
            reason: "exhausted",
            status: None,
            error: "timed out".into(),
            response: String::new(),
        };
        let l = letter(&record, &why);
        let mut keys: Vec<String> = l.headers.iter().map(|h| h.key.clone()).collect();
        keys.sort();
        assert_eq!(keys, documented_headers());
        let value = |name: &str| {
            let h = l
                .headers
                .iter()
                .find(|h| h.key == format!("{PREFIX}{name}"));
            String::from_utf8(h.unwrap().value.clone().unwrap().to_vec()).unwrap()
        };
        let want = [
            ("source", "subscription"),
            ("event-id", "t/1/9"),
            ("topic", "t"),
            ("partition", "1"),
            ("offset", "9"),
            ("subscription", "s"),
            ("attempts", "3"),
            ("redrives", "1"),
            ("first-attempt", "1970-01-01T00:00:00.000Z"),
            ("last-attempt", "1970-01-01T00:00:01.500Z"),
            ("reason", "exhausted"),
            ("status", ""),
            ("error", "timed out"),
            ("response", ""),
        ];
        for (name, v) in want {
            assert_eq!(value(name), v, "{PREFIX}{name}");
        }
    }
}
