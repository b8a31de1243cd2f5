//! Export of a result set (console C16): the records a search or browse request returned, as
//! a JSON Lines or CSV download. Keys and values are text when they are UTF-8 (else in a
//! `*_base64` field or column), or always base64 with `encoding=base64`; headers keep their
//! order and duplicates. `[console] export = false` turns it off (403 `export-disabled`).

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use strom_broker::StoredRecord;

use crate::error::{ApiError, ApiResult};

/// The console's settings (`[console]` in the server's file).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleConfig {
    /// Whether results may be downloaded as JSONL or CSV (`export=` on the search route).
    pub export: bool,
    /// Milliseconds between samples of the charts' history (`history.rs`).
    pub history_interval_ms: u64,
    /// Samples kept (360 at 10 s: one hour).
    pub history_points: usize,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            export: true,
            history_interval_ms: 10_000,
            history_points: 360,
        }
    }
}

/// The file format of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Jsonl,
    Csv,
}

/// How keys and values are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportEncoding {
    /// UTF-8 text, else base64 under a `_base64` name.
    #[default]
    Text,
    /// Always base64 (`key_base64`, `value_base64`).
    Base64,
}

fn put(obj: &mut Map<String, Value>, name: &str, bytes: Option<&[u8]>, enc: ExportEncoding) {
    match bytes {
        None => {
            obj.insert(name.into(), Value::Null);
        }
        Some(b) => match (enc, std::str::from_utf8(b)) {
            (ExportEncoding::Text, Ok(s)) => {
                obj.insert(name.into(), json!(s));
            }
            _ => {
                obj.insert(format!("{name}_base64"), json!(B64.encode(b)));
            }
        },
    }
}

/// One record as an export object: partition, offset, timestamp, key, value, headers.
pub fn record_object(partition: i32, r: &StoredRecord, enc: ExportEncoding) -> Value {
    let mut obj = Map::new();
    obj.insert("partition".into(), json!(partition));
    obj.insert("offset".into(), json!(r.offset));
    obj.insert("timestamp".into(), json!(r.timestamp));
    put(&mut obj, "key", r.key.as_deref(), enc);
    put(&mut obj, "value", r.value.as_deref(), enc);
    let headers: Vec<Value> = r
        .headers
        .iter()
        .map(|h| {
            let mut o = Map::new();
            o.insert("key".into(), json!(h.key));
            put(&mut o, "value", h.value.as_deref(), enc);
            Value::Object(o)
        })
        .collect();
    obj.insert("headers".into(), Value::Array(headers));
    Value::Object(obj)
}

/// A CSV field, quoted when it holds a comma, quote or line break (RFC 4180).
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// The CSV columns; `headers` is the record's headers as a JSON array.
pub const CSV_COLUMNS: &[&str] = &[
    "partition",
    "offset",
    "timestamp",
    "key",
    "key_base64",
    "value",
    "value_base64",
    "headers",
];

fn csv_row(obj: &Value) -> String {
    let cell = |name: &str| match &obj[name] {
        Value::Null => String::new(),
        Value::String(s) => csv_field(s),
        other => csv_field(&other.to_string()),
    };
    CSV_COLUMNS
        .iter()
        .map(|c| cell(c))
        .collect::<Vec<_>>()
        .join(",")
        + "\r\n"
}

/// The download of `records` (partition, record) as `format`.
pub fn download(
    enabled: bool,
    topic: &str,
    records: &[(i32, StoredRecord)],
    format: ExportFormat,
    enc: ExportEncoding,
) -> ApiResult<Response> {
    if !enabled {
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "export-disabled",
            "export is turned off on this server ([console] export = false)",
        )
        .code(40301));
    }
    let objects = records.iter().map(|(p, r)| record_object(*p, r, enc));
    let (body, content_type, ext) = match format {
        ExportFormat::Jsonl => (
            objects.map(|o| o.to_string() + "\n").collect::<String>(),
            "application/x-ndjson",
            "jsonl",
        ),
        ExportFormat::Csv => (
            std::iter::once(CSV_COLUMNS.join(",") + "\r\n")
                .chain(objects.map(|o| csv_row(&o)))
                .collect::<String>(),
            "text/csv; charset=utf-8",
            "csv",
        ),
    };
    let safe: String = topic
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut response = body.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{safe}.{ext}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use strom_broker::RecordHeader;

    fn rec() -> StoredRecord {
        StoredRecord {
            offset: 4,
            timestamp: 99,
            key: Some(Bytes::from_static(b"k,1")),
            value: Some(Bytes::from_static(&[0xff, 0x00])),
            headers: vec![RecordHeader {
                key: "h".into(),
                value: Some(Bytes::from_static(b"a\"b")),
            }],
        }
    }

    #[test]
    fn jsonl_and_csv_keep_text_binary_and_headers() {
        let o = record_object(2, &rec(), ExportEncoding::Text);
        assert_eq!(o["key"], json!("k,1"));
        assert_eq!(o["value_base64"], json!("/wA="));
        assert_eq!(o["headers"][0]["value"], json!("a\"b"));
        let b = record_object(2, &rec(), ExportEncoding::Base64);
        assert_eq!(b["key_base64"], json!("aywx"));
        let row = csv_row(&o);
        assert!(row.starts_with("2,4,99,\"k,1\",,,/wA=,"), "{row}");
        assert!(
            row.ends_with("\"[{\"\"key\"\":\"\"h\"\",\"\"value\"\":\"\"a\\\"\"b\"\"}]\"\r\n"),
            "{row}"
        );
    }

    #[test]
    fn a_disabled_export_is_refused() {
        let err = download(false, "t", &[], ExportFormat::Csv, ExportEncoding::Text).unwrap_err();
        assert_eq!((err.status.as_u16(), err.kind), (403, "export-disabled"));
    }
}
