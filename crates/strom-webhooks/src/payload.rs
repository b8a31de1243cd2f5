//! What a record becomes on the wire: its event id (the `ce_id` header, else
//! `<topic>/<partition>/<offset>`; a redriven dead letter keeps its original one) and the
//! body and headers of the CloudEvents HTTP binding, structured (default) or binary mode.
//! In structured mode a value in the schema registry's wire format is `data` decoded to
//! JSON, with `dataschema` `/schemas/ids/{id}` (the server's [`ValueDecoder`]), and such a
//! key is the `subject` decoded; binary mode sends the stored bytes and the key as text.
//! The attributes are written by [`crate::envelope`]; the header values every attempt sends
//! (`webhook-id`, `Content-Type`) are made here once per record ([`Wire`]).

use std::sync::Arc;

use bytes::Bytes;
use reqwest::header::HeaderValue;
use serde_json::Value;
use strom_broker::StoredRecord;

use crate::envelope::{self, Attr, Attrs};
use crate::model::PayloadMode;

/// Header that carries the original event id on a dead letter.
pub const DLQ_ID_HEADER: &str = "strom-dlq-event-id";

/// Decodes a value carrying the wire-format prefix of a registered schema: its JSON and the
/// schema id; `None` for any other value (or one that does not decode).
pub type ValueDecoder = Arc<dyn Fn(&[u8]) -> Option<(Value, i32)> + Send + Sync>;

/// A record ready to send.
#[derive(Debug, Clone)]
pub struct Event {
    pub id: Arc<str>,
    pub topic: Arc<str>,
    pub partition: i32,
    pub offset: i64,
    pub body: Bytes,
    pub content_type: String,
    /// `ce-*` headers (binary mode).
    pub headers: Vec<(String, String)>,
    /// Header values every attempt sends, made once.
    pub wire: Wire,
}

/// The `webhook-id` and `Content-Type` header values of an event (`None`: not a valid
/// header value, and not sent).
#[derive(Debug, Clone)]
pub struct Wire {
    pub id: Option<HeaderValue>,
    pub content_type: Option<HeaderValue>,
}

fn header<'a>(record: &'a StoredRecord, name: &str) -> Option<&'a [u8]> {
    record
        .headers
        .iter()
        .find(|h| h.key == name)
        .and_then(|h| h.value.as_deref())
}

fn header_str<'a>(record: &'a StoredRecord, name: &str) -> Option<&'a str> {
    header(record, name).and_then(|v| std::str::from_utf8(v).ok())
}

/// The stable event id of `record` read from `topic`/`partition`.
pub fn event_id(record: &StoredRecord, topic: &str, partition: i32) -> String {
    match header_str(record, DLQ_ID_HEADER).or_else(|| header_str(record, "ce_id")) {
        Some(id) if !id.is_empty() => id.to_string(),
        _ => {
            let (mut p, mut o) = (itoa::Buffer::new(), itoa::Buffer::new());
            let (p, o) = (p.format(partition), o.format(record.offset));
            let mut id = String::with_capacity(topic.len() + p.len() + o.len() + 2);
            for part in [topic, "/", p, "/", o] {
                id.push_str(part);
            }
            id
        }
    }
}

/// The CloudEvents type of a record (`ce_type`), if any.
pub fn event_type(record: &StoredRecord) -> Option<String> {
    header_str(record, "ce_type").map(str::to_string)
}

/// Puts `value` as the structured event's data: decoded with its schema, else JSON, else
/// base64 (with the record's `content-type` header as `datacontenttype`).
fn put_data<'a>(
    attrs: &mut Attrs<'a>,
    value: Option<&'a [u8]>,
    content_type: Option<&'a str>,
    decoder: Option<&ValueDecoder>,
) {
    let Some(v) = value else {
        attrs.push("data", Attr::Null);
        return;
    };
    if let Some((data, id)) = decoder.and_then(|d| d(v)) {
        attrs.push("datacontenttype", Attr::Str("application/json"));
        attrs.push("dataschema", Attr::Text(format!("/schemas/ids/{id}")));
        attrs.push("data", Attr::Decoded(data));
        return;
    }
    if content_type.is_none_or(|c| c.contains("json")) && envelope::is_json(v) {
        attrs.push("datacontenttype", Attr::Str("application/json"));
        attrs.push("data", Attr::Json(v));
        return;
    }
    if let Some(ct) = content_type {
        attrs.push("datacontenttype", Attr::Str(ct));
    }
    attrs.push("data_base64", Attr::Base64(v));
}

/// Bytes the structured body of `record` likely takes (so it is written without growing).
fn body_size(record: &StoredRecord, topic: &str) -> usize {
    let value = record.value.as_ref().map_or(0, |v| v.len());
    let key = record.key.as_ref().map_or(0, |k| k.len());
    let headers: usize = record
        .headers
        .iter()
        .map(|h| h.key.len() + h.value.as_ref().map_or(0, |v| v.len()) + 8)
        .sum();
    256 + 3 * topic.len() + key + headers + value * 4 / 3
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
    let mut attrs = Attrs::new(record, topic, partition, &id, key_decoder);
    let content_type = header_str(record, "content-type");
    let (body, content_type, headers) = match mode {
        PayloadMode::Structured => {
            put_data(&mut attrs, record.value.as_deref(), content_type, decoder);
            let body = Bytes::from(attrs.into_json(body_size(record, topic)));
            (body, STRUCTURED.to_string(), Vec::new())
        }
        PayloadMode::Binary => {
            let headers = attrs
                .into_headers()
                .into_iter()
                .map(|(k, v)| (k, percent_encode(&v)))
                .collect();
            let body = record.value.clone().unwrap_or_default();
            let ct = content_type
                .unwrap_or("application/octet-stream")
                .to_string();
            (body, ct, headers)
        }
    };
    let wire = Wire {
        id: HeaderValue::from_str(&id).ok(),
        content_type: match mode {
            PayloadMode::Structured => Some(HeaderValue::from_static(STRUCTURED)),
            PayloadMode::Binary => HeaderValue::from_str(&content_type).ok(),
        },
    };
    Event {
        id: id.into(),
        topic: topic.into(),
        partition,
        offset: record.offset,
        body,
        content_type,
        headers,
        wire,
    }
}

const STRUCTURED: &str = "application/cloudevents+json";

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
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use serde_json::json;
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
