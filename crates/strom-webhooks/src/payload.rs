//! What a record becomes on the wire: its event id (the `ce_id` header, else
//! `<topic>/<partition>/<offset>`; a redriven dead letter keeps its original one) and the
//! body and headers of the CloudEvents HTTP binding, structured (default) or binary mode.
//! In structured mode a value in the schema registry's wire format is `data` decoded to
//! JSON, with `dataschema` `/schemas/ids/{id}` (the server's [`ValueDecoder`]), and such a
//! key is the `subject` decoded; binary mode sends the stored bytes and the key as text.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use serde_json::{json, Map, Value};
use strom_broker::StoredRecord;

use crate::model::PayloadMode;

/// Header that carries the original event id on a dead letter.
pub const DLQ_ID_HEADER: &str = "strom-dlq-event-id";

/// Decodes a value carrying the wire-format prefix of a registered schema: its JSON and the
/// schema id; `None` for any other value (or one that does not decode).
pub type ValueDecoder = Arc<dyn Fn(&[u8]) -> Option<(Value, i32)> + Send + Sync>;

/// A record ready to send.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: String,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub body: Bytes,
    pub content_type: String,
    /// `ce-*` headers (binary mode).
    pub headers: Vec<(String, String)>,
}

fn header<'a>(record: &'a StoredRecord, name: &str) -> Option<&'a [u8]> {
    record
        .headers
        .iter()
        .find(|h| h.key == name)
        .and_then(|h| h.value.as_deref())
}

fn header_str(record: &StoredRecord, name: &str) -> Option<String> {
    header(record, name).and_then(|v| std::str::from_utf8(v).ok().map(str::to_string))
}

/// The stable event id of `record` read from `topic`/`partition`.
pub fn event_id(record: &StoredRecord, topic: &str, partition: i32) -> String {
    header_str(record, DLQ_ID_HEADER)
        .or_else(|| header_str(record, "ce_id"))
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| format!("{topic}/{partition}/{}", record.offset))
}

/// The CloudEvents type of a record (`ce_type`), if any.
pub fn event_type(record: &StoredRecord) -> Option<String> {
    header_str(record, "ce_type")
}

fn rfc3339(ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

/// The `subject` of a record with `key`: decoded with its schema when `decoder` knows the
/// key's wire-format prefix (a string as itself, any other JSON value as its compact text),
/// else the key as (lossy) text.
fn subject(key: &[u8], decoder: Option<&ValueDecoder>) -> String {
    match decoder.and_then(|d| d(key)) {
        Some((Value::String(text), _)) => text,
        Some((other, _)) => other.to_string(),
        None => String::from_utf8_lossy(key).into_owned(),
    }
}

/// The core attributes: `ce_*` headers override the derived ones; `decoder` (structured
/// mode) decodes a schema-encoded key into `subject`.
fn attributes(
    record: &StoredRecord,
    topic: &str,
    partition: i32,
    id: &str,
    decoder: Option<&ValueDecoder>,
) -> Map<String, Value> {
    let mut attrs = Map::new();
    attrs.insert("specversion".into(), json!("1.0"));
    attrs.insert("id".into(), json!(id));
    attrs.insert("source".into(), json!(format!("/strom/topics/{topic}")));
    attrs.insert("type".into(), json!("strom.record"));
    attrs.insert("time".into(), json!(rfc3339(record.timestamp)));
    if let Some(key) = record.key.as_deref() {
        attrs.insert("subject".into(), json!(subject(key, decoder)));
    }
    attrs.insert("stromtopic".into(), json!(topic));
    attrs.insert("strompartition".into(), json!(partition));
    attrs.insert("stromoffset".into(), json!(record.offset));
    for h in &record.headers {
        let Some(name) = h.key.strip_prefix("ce_") else {
            continue;
        };
        let valid = !name.is_empty()
            && name != "data"
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        if let (true, Some(v)) = (valid, h.value.as_deref()) {
            if name != "id" {
                attrs.insert(name.into(), json!(String::from_utf8_lossy(v)));
            }
        }
    }
    attrs
}

/// Puts `value` as the structured event's data: decoded with its schema, else JSON, else
/// base64 (with the record's `content-type` header as `datacontenttype`).
fn put_data(
    attrs: &mut Map<String, Value>,
    value: Option<&[u8]>,
    content_type: Option<String>,
    decoder: Option<&ValueDecoder>,
) {
    let Some(v) = value else {
        attrs.insert("data".into(), Value::Null);
        return;
    };
    if let Some((data, id)) = decoder.and_then(|d| d(v)) {
        attrs.insert("datacontenttype".into(), json!("application/json"));
        attrs.insert("dataschema".into(), json!(format!("/schemas/ids/{id}")));
        attrs.insert("data".into(), data);
        return;
    }
    match serde_json::from_slice::<Value>(v) {
        Ok(data) if content_type.as_deref().is_none_or(|c| c.contains("json")) => {
            attrs.insert("datacontenttype".into(), json!("application/json"));
            attrs.insert("data".into(), data);
        }
        _ => {
            if let Some(ct) = content_type {
                attrs.insert("datacontenttype".into(), json!(ct));
            }
            attrs.insert("data_base64".into(), json!(STANDARD.encode(v)));
        }
    }
}

/// Builds the request body and headers of `record` in `mode`; `decoder` shows
/// schema-encoded values as JSON in structured mode.
pub fn build(
    record: &StoredRecord,
    topic: &str,
    partition: i32,
    mode: PayloadMode,
    decoder: Option<&ValueDecoder>,
) -> Event {
    let id = event_id(record, topic, partition);
    let key_decoder = decoder.filter(|_| mode == PayloadMode::Structured);
    let mut attrs = attributes(record, topic, partition, &id, key_decoder);
    let content_type = header_str(record, "content-type");
    let (body, content_type, headers) = match mode {
        PayloadMode::Structured => {
            put_data(&mut attrs, record.value.as_deref(), content_type, decoder);
            let body = Bytes::from(serde_json::to_vec(&Value::Object(attrs)).unwrap_or_default());
            (body, "application/cloudevents+json".to_string(), Vec::new())
        }
        PayloadMode::Binary => {
            let headers = attrs
                .into_iter()
                .filter(|(k, _)| k != "datacontenttype")
                .map(|(k, v)| {
                    let text = match v {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (format!("ce-{k}"), percent_encode(&text))
                })
                .collect();
            let body = record.value.clone().unwrap_or_default();
            let ct = content_type.unwrap_or_else(|| "application/octet-stream".into());
            (body, ct, headers)
        }
    };
    Event {
        id,
        topic: topic.to_string(),
        partition,
        offset: record.offset,
        body,
        content_type,
        headers,
    }
}

/// Percent-encodes what the CloudEvents HTTP binding says a header value must not carry.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if (0x21..=0x7e).contains(&b) && b != b'"' && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use strom_broker::RecordHeader;

    fn record(headers: Vec<(&str, &str)>, value: &str) -> StoredRecord {
        StoredRecord {
            offset: 7,
            timestamp: 1_700_000_000_000,
            key: Some(Bytes::from_static(b"k1")),
            value: Some(Bytes::copy_from_slice(value.as_bytes())),
            headers: headers
                .into_iter()
                .map(|(k, v)| RecordHeader {
                    key: k.into(),
                    value: Some(Bytes::copy_from_slice(v.as_bytes())),
                })
                .collect(),
        }
    }

    #[test]
    fn ids_come_from_ce_id_else_the_position() {
        assert_eq!(event_id(&record(vec![], "1"), "t", 2), "t/2/7");
        assert_eq!(
            event_id(&record(vec![("ce_id", "abc")], "1"), "t", 2),
            "abc"
        );
    }

    #[test]
    fn structured_and_binary_modes() {
        let r = record(vec![("ce_type", "order.created")], r#"{"n":1}"#);
        let e = build(&r, "orders", 0, PayloadMode::Structured, None);
        let v: Value = serde_json::from_slice(&e.body).expect("json");
        assert_eq!(v["data"]["n"], 1);
        assert_eq!(v["type"], "order.created");
        assert_eq!(v["subject"], "k1");
        let b = build(&r, "orders", 0, PayloadMode::Binary, None);
        assert_eq!(&b.body[..], br#"{"n":1}"#);
        assert!(b
            .headers
            .contains(&("ce-type".into(), "order.created".into())));
        let raw = build(
            &record(vec![], "not json"),
            "t",
            0,
            PayloadMode::Structured,
            None,
        );
        let v: Value = serde_json::from_slice(&raw.body).expect("json");
        assert_eq!(v["data_base64"], STANDARD.encode("not json"));
    }

    #[test]
    fn schema_encoded_values_are_decoded_in_structured_mode() {
        let decoder: ValueDecoder = Arc::new(|v: &[u8]| match v {
            [0, 0, 0, 0, 5, rest @ ..] => Some((json!({ "len": rest.len() }), 5)),
            _ => None,
        });
        let mut r = record(vec![], "");
        r.value = Some(Bytes::from_static(&[0, 0, 0, 0, 5, 2, 104]));
        let e = build(&r, "t", 0, PayloadMode::Structured, Some(&decoder));
        let v: Value = serde_json::from_slice(&e.body).expect("json");
        assert_eq!(v["data"], json!({"len": 2}));
        assert_eq!(v["dataschema"], "/schemas/ids/5");
        assert_eq!(v["datacontenttype"], "application/json");
        let b = build(&r, "t", 0, PayloadMode::Binary, Some(&decoder));
        assert_eq!(&b.body[..], [0, 0, 0, 0, 5, 2, 104]);
        let plain = build(
            &record(vec![], r#"{"n":1}"#),
            "t",
            0,
            PayloadMode::Structured,
            Some(&decoder),
        );
        let v: Value = serde_json::from_slice(&plain.body).expect("json");
        assert_eq!(v["data"]["n"], 1);
        assert!(v.get("dataschema").is_none());
    }

    #[test]
    fn schema_encoded_keys_are_the_decoded_subject_in_structured_mode() {
        let decoder: ValueDecoder = Arc::new(|v: &[u8]| match v {
            [0, 0, 0, 0, 5, rest @ ..] => Some((json!(String::from_utf8_lossy(rest)), 5)),
            [0, 0, 0, 0, 6, ..] => Some((json!({"id": 7, "region": "eu"}), 6)),
            _ => None,
        });
        let mut r = record(vec![], r#"{"n":1}"#);
        r.key = Some(Bytes::from_static(&[0, 0, 0, 0, 5, b'k', b'9']));
        let e = build(&r, "t", 0, PayloadMode::Structured, Some(&decoder));
        let v: Value = serde_json::from_slice(&e.body).expect("json");
        assert_eq!(v["subject"], "k9");
        r.key = Some(Bytes::from_static(&[0, 0, 0, 0, 6, 1]));
        let e = build(&r, "t", 0, PayloadMode::Structured, Some(&decoder));
        let v: Value = serde_json::from_slice(&e.body).expect("json");
        assert_eq!(v["subject"], r#"{"id":7,"region":"eu"}"#);
        // Binary mode keeps the key as stored (lossy text, percent-encoded in the header).
        let b = build(&r, "t", 0, PayloadMode::Binary, Some(&decoder));
        let subject = b.headers.iter().find(|(k, _)| k == "ce-subject");
        assert_eq!(subject.map(|(_, v)| v.as_str()), Some("%00%00%00%00%06%01"));
    }
}
