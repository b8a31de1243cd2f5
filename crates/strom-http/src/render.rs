//! Stored records as JSON for the REST consume API and WebSocket: keys and header values as
//! text when they are UTF-8 (else base64 under a `_base64` name), values as JSON when they
//! parse as JSON (else base64), `null` for a tombstone. A value carrying the wire-format
//! prefix of a schema in the registry (Avro, JSON Schema, Protobuf) is shown decoded, with
//! its id in `value_schema_id`; so is such a key in `json` format (`key`, `key_schema_id`)
//! (docs/schemas.md).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use bytes::Bytes;
use serde_json::{json, Map, Value};
use strom_broker::StoredRecord;
use strom_schema::Registry;

use crate::timefmt::rfc3339;

/// How values are rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ValueFormat {
    /// `value` holds the JSON value; values that are not JSON fall back to `value_base64`.
    Json,
    /// `value_base64` always.
    Binary,
}

/// Puts `bytes` under `name` as text if UTF-8, else under `{name}_base64`.
fn put_text_or_b64(obj: &mut Map<String, Value>, name: &str, bytes: &Option<Bytes>) {
    match bytes {
        None => {
            obj.insert(name.to_string(), Value::Null);
        }
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) => {
                obj.insert(name.to_string(), Value::String(s.to_string()));
            }
            Err(_) => {
                obj.insert(format!("{name}_base64"), Value::String(B64.encode(b)));
            }
        },
    }
}

/// The value as JSON if it parses, for embedding as a JSON value.
pub fn value_as_json(bytes: &[u8]) -> Option<Value> {
    serde_json::from_slice(bytes).ok()
}

/// Puts a JSON-format value: decoded with its schema when it carries a registered schema
/// id, else embedded when it is JSON, else base64.
fn put_json_value(obj: &mut Map<String, Value>, v: &[u8], schemas: Option<&Registry>) {
    match schemas.and_then(|s| s.decode_value(v)) {
        Some(Ok(decoded)) => {
            obj.insert("value".into(), decoded.value);
            obj.insert("value_schema_id".into(), json!(decoded.schema_id));
            return;
        }
        Some(Err(why)) => {
            obj.insert("value_schema_error".into(), json!(why));
        }
        None => {}
    }
    match value_as_json(v) {
        Some(parsed) => obj.insert("value".into(), parsed),
        None => obj.insert("value_base64".into(), json!(B64.encode(v))),
    };
}

/// Puts a JSON-format key: decoded with its schema when it carries a registered schema id
/// (`key_schema_id`), else as text or base64.
fn put_json_key(obj: &mut Map<String, Value>, key: &Option<Bytes>, schemas: Option<&Registry>) {
    let decoded = key
        .as_deref()
        .and_then(|k| schemas.and_then(|s| s.decode_value(k)));
    match decoded {
        Some(Ok(decoded)) => {
            obj.insert("key".into(), decoded.value);
            obj.insert("key_schema_id".into(), json!(decoded.schema_id));
        }
        Some(Err(why)) => {
            obj.insert("key_schema_error".into(), json!(why));
            put_text_or_b64(obj, "key", key);
        }
        None => put_text_or_b64(obj, "key", key),
    }
}

/// One record as a JSON object; `schemas` decodes schema-encoded values in `json` format.
pub fn record_json(
    topic: &str,
    partition: i32,
    r: &StoredRecord,
    format: ValueFormat,
    schemas: Option<&Registry>,
) -> Value {
    let mut obj = Map::new();
    obj.insert("topic".into(), json!(topic));
    obj.insert("partition".into(), json!(partition));
    obj.insert("offset".into(), json!(r.offset));
    obj.insert("timestamp".into(), json!(r.timestamp));
    obj.insert("time".into(), json!(rfc3339(r.timestamp)));
    match format {
        ValueFormat::Json => put_json_key(&mut obj, &r.key, schemas),
        ValueFormat::Binary => put_text_or_b64(&mut obj, "key", &r.key),
    }
    match (&r.value, format) {
        (None, _) => {
            obj.insert("value".into(), Value::Null);
        }
        (Some(v), ValueFormat::Json) => put_json_value(&mut obj, v, schemas),
        (Some(v), ValueFormat::Binary) => {
            obj.insert("value_base64".into(), json!(B64.encode(v)));
        }
    }
    let headers: Vec<Value> = r
        .headers
        .iter()
        .map(|h| {
            let mut o = Map::new();
            o.insert("key".into(), json!(h.key));
            put_text_or_b64(&mut o, "value", &h.value);
            Value::Object(o)
        })
        .collect();
    obj.insert("headers".into(), Value::Array(headers));
    Value::Object(obj)
}

/// Decodes base64 from a client, naming the field on error.
pub fn decode_b64(field: &str, text: &str) -> Result<Bytes, String> {
    B64.decode(text.as_bytes())
        .map(Bytes::from)
        .map_err(|e| format!("{field} is not valid base64: {e}"))
}

pub fn encode_b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use strom_broker::RecordHeader;

    #[test]
    fn renders_text_json_binary_and_tombstones() {
        let r = StoredRecord {
            offset: 3,
            timestamp: 0,
            key: Some(Bytes::from_static(&[0xff, 0])),
            value: Some(Bytes::from_static(b"{\"a\":1}")),
            headers: vec![RecordHeader {
                key: "h".into(),
                value: Some(Bytes::from_static(b"v")),
            }],
        };
        let j = record_json("t", 0, &r, ValueFormat::Json, None);
        assert_eq!(j["value"], json!({"a": 1}));
        assert_eq!(j["key_base64"], json!("/wA="));
        assert_eq!(j["headers"][0]["value"], json!("v"));
        let b = record_json("t", 0, &r, ValueFormat::Binary, None);
        assert_eq!(b["value_base64"], json!(B64.encode(b"{\"a\":1}")));
        let tomb = StoredRecord { value: None, ..r };
        assert_eq!(
            record_json("t", 0, &tomb, ValueFormat::Json, None)["value"],
            Value::Null
        );
    }
}
