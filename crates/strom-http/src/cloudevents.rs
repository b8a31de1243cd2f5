//! Feed events as CloudEvents 1.0 (JSON format), following http-feeds.org: the record key
//! is the `subject` (a key carrying the wire-format prefix of a registered schema decoded,
//! see [`subject`]), a tombstone is `method: "DELETE"` without data, and the id is the feed
//! cursor. CloudEvents Kafka-binding headers (`ce_type`, `ce_source`, `ce_time`,
//! `content-type`) written by Kafka producers override the defaults. A value carrying the
//! wire-format prefix of a registered schema is `data` decoded to JSON, with `dataschema`
//! pointing at `/schemas/ids/{id}`.

use serde_json::{json, Map, Value};

use crate::feed::FeedEvent;
use crate::render::{encode_b64, value_as_json};
use crate::timefmt::rfc3339;
use strom_schema::Registry;

/// Default CloudEvents `type` of a record.
pub const EVENT_TYPE: &str = "dev.strom.record";

fn header_text<'a>(event: &'a FeedEvent, name: &str) -> Option<&'a str> {
    event
        .record
        .headers
        .iter()
        .rev()
        .find(|h| h.key.eq_ignore_ascii_case(name))
        .and_then(|h| h.value.as_deref())
        .and_then(|v| std::str::from_utf8(v).ok())
}

/// The `subject` of a record with `key`: a key carrying the wire-format prefix of a
/// registered schema decoded (a string key as itself, any other JSON value as its compact
/// text), else the key as text, else (CloudEvents attributes are strings) base64; `None`
/// for an empty key.
pub fn subject(key: &[u8], schemas: Option<&Registry>) -> Option<String> {
    if key.is_empty() {
        return None;
    }
    if let Some(Ok(decoded)) = schemas.and_then(|s| s.decode_value(key)) {
        return Some(match decoded.value {
            Value::String(text) => text,
            other => other.to_string(),
        });
    }
    Some(match std::str::from_utf8(key) {
        Ok(text) => text.to_string(),
        Err(_) => encode_b64(key),
    })
}

/// One event as a CloudEvent JSON object; `schemas` decodes schema-encoded values.
pub fn cloud_event(topic: &str, event: &FeedEvent, schemas: Option<&Registry>) -> Value {
    let r = &event.record;
    let mut o = Map::new();
    o.insert("specversion".into(), json!("1.0"));
    o.insert("id".into(), json!(event.id.to_string()));
    o.insert(
        "type".into(),
        json!(header_text(event, "ce_type").unwrap_or(EVENT_TYPE)),
    );
    let default_source = format!("/topics/{topic}");
    o.insert(
        "source".into(),
        json!(header_text(event, "ce_source").unwrap_or(&default_source)),
    );
    o.insert(
        "time".into(),
        json!(header_text(event, "ce_time")
            .map(str::to_string)
            .unwrap_or_else(|| rfc3339(r.timestamp))),
    );
    if let Some(subject) = r.key.as_deref().and_then(|k| subject(k, schemas)) {
        o.insert("subject".into(), json!(subject));
    }
    o.insert("partition".into(), json!(event.partition));
    o.insert("offset".into(), json!(r.offset));
    match &r.value {
        None => {
            o.insert("method".into(), json!("DELETE"));
        }
        Some(value) => {
            o.insert("method".into(), json!("PUT"));
            if let Some(Ok(decoded)) = schemas.and_then(|s| s.decode_value(value)) {
                o.insert("datacontenttype".into(), json!("application/json"));
                o.insert(
                    "dataschema".into(),
                    json!(format!("/schemas/ids/{}", decoded.schema_id)),
                );
                o.insert("data".into(), decoded.value);
                return Value::Object(o);
            }
            let declared = header_text(event, "content-type").map(str::to_string);
            let json_declared = declared
                .as_deref()
                .map(|ct| {
                    let ct = crate::body::essence(ct);
                    ct == "application/json" || ct.ends_with("+json")
                })
                .unwrap_or(true);
            match (json_declared, value_as_json(value)) {
                (true, Some(parsed)) => {
                    o.insert("datacontenttype".into(), json!("application/json"));
                    o.insert("data".into(), parsed);
                }
                _ => match std::str::from_utf8(value) {
                    Ok(text) if declared.is_some() => {
                        o.insert("datacontenttype".into(), json!(declared));
                        o.insert("data".into(), json!(text));
                    }
                    Ok(text) => {
                        o.insert("datacontenttype".into(), json!("text/plain"));
                        o.insert("data".into(), json!(text));
                    }
                    Err(_) => {
                        o.insert(
                            "datacontenttype".into(),
                            json!(declared.unwrap_or_else(|| "application/octet-stream".into())),
                        );
                        o.insert("data_base64".into(), json!(encode_b64(value)));
                    }
                },
            }
        }
    }
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cursor::Cursor;
    use bytes::Bytes;
    use strom_broker::StoredRecord;

    fn ev(key: Option<&'static [u8]>, value: Option<&'static [u8]>) -> FeedEvent {
        FeedEvent {
            partition: 0,
            id: Cursor(vec![7]),
            record: StoredRecord {
                offset: 7,
                timestamp: 0,
                key: key.map(Bytes::from_static),
                value: value.map(Bytes::from_static),
                headers: vec![],
            },
        }
    }

    #[test]
    fn tombstone_is_delete_without_data() {
        let e = cloud_event("t", &ev(Some(b"k"), None), None);
        assert_eq!(e["method"], "DELETE");
        assert_eq!(e["subject"], "k");
        assert!(e.get("data").is_none());
        assert_eq!(e["id"], "7");
    }

    #[test]
    fn json_text_and_binary_data() {
        assert_eq!(
            cloud_event("t", &ev(None, Some(b"{\"a\":1}")), None)["data"]["a"],
            1
        );
        assert_eq!(cloud_event("t", &ev(None, Some(b"hi")), None)["data"], "hi");
        assert_eq!(
            cloud_event("t", &ev(None, Some(&[0xff])), None)["data_base64"],
            "/w=="
        );
    }

    #[test]
    fn keys_are_text_else_base64() {
        assert_eq!(subject(b"k1", None).as_deref(), Some("k1"));
        assert_eq!(subject(&[0xff, 0], None).as_deref(), Some("/wA="));
        assert_eq!(subject(b"", None), None);
    }

    #[test]
    fn schema_encoded_keys_are_decoded() {
        use strom_schema::{Level, MemoryBackend, NewSchema, SchemaType};
        let registry = Registry::open(Box::<MemoryBackend>::default(), Level::None).expect("open");
        let register = |subject: &str, text: &str| {
            let new = NewSchema {
                schema: text.to_string(),
                schema_type: SchemaType::Avro,
                ..NewSchema::default()
            };
            registry.register(subject, new, false).expect("register")
        };
        let string_id = register("t-key", r#""string""#);
        let record_id = register(
            "r-key",
            r#"{"type":"record","name":"K","fields":[{"name":"id","type":"int"},{"name":"region","type":"string"}]}"#,
        );
        let framed = |id: i32, body: &[u8]| {
            let mut out = vec![0];
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(body);
            out
        };
        let text_key = framed(string_id, &[4, b'k', b'9']);
        assert_eq!(subject(&text_key, Some(&registry)).as_deref(), Some("k9"));
        let record_key = framed(record_id, &[14, 4, b'e', b'u']);
        assert_eq!(
            subject(&record_key, Some(&registry)).as_deref(),
            Some(r#"{"id":7,"region":"eu"}"#)
        );
        // Without the registry the key stays as stored.
        let raw = String::from_utf8(text_key.clone()).expect("utf-8");
        assert_eq!(subject(&text_key, None), Some(raw));
    }
}
