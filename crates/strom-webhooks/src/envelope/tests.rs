//! The direct writer against the `serde_json::Value` tree it replaced: the same bytes for
//! every kind of value and header, in both payload modes.

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use serde_json::{json, Map, Value};
use strom_broker::{RecordHeader, StoredRecord};

use crate::model::PayloadMode;
use crate::payload::{self, ValueDecoder};

/// The tree-built body of the previous implementation, kept as the reference.
mod tree {
    use super::*;

    fn header_str(record: &StoredRecord, name: &str) -> Option<String> {
        record
            .headers
            .iter()
            .find(|h| h.key == name)
            .and_then(|h| h.value.as_deref())
            .and_then(|v| std::str::from_utf8(v).ok().map(str::to_string))
    }

    fn rfc3339(ms: i64) -> String {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
        humantime::format_rfc3339_millis(t).to_string()
    }

    fn subject(key: &[u8], decoder: Option<&ValueDecoder>) -> String {
        match decoder.and_then(|d| d(key)) {
            Some((Value::String(text), _)) => text,
            Some((other, _)) => other.to_string(),
            None => String::from_utf8_lossy(key).into_owned(),
        }
    }

    pub fn attributes(
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

    pub fn structured(
        record: &StoredRecord,
        topic: &str,
        partition: i32,
        decoder: Option<&ValueDecoder>,
    ) -> Vec<u8> {
        let id = payload::event_id(record, topic, partition);
        let mut attrs = attributes(record, topic, partition, &id, decoder);
        let ct = header_str(record, "content-type");
        put_data(&mut attrs, record.value.as_deref(), ct, decoder);
        serde_json::to_vec(&Value::Object(attrs)).expect("json")
    }

    pub fn binary_headers(
        record: &StoredRecord,
        topic: &str,
        partition: i32,
    ) -> Vec<(String, String)> {
        let id = payload::event_id(record, topic, partition);
        attributes(record, topic, partition, &id, None)
            .into_iter()
            .filter(|(k, _)| k != "datacontenttype")
            .map(|(k, v)| {
                let text = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                (format!("ce-{k}"), text)
            })
            .collect()
    }
}

fn record(key: Option<&[u8]>, value: Option<&[u8]>, headers: &[(&str, &[u8])]) -> StoredRecord {
    StoredRecord {
        offset: 42,
        timestamp: 1_700_000_000_123,
        key: key.map(Bytes::copy_from_slice),
        value: value.map(Bytes::copy_from_slice),
        headers: headers
            .iter()
            .map(|(k, v)| RecordHeader {
                key: (*k).into(),
                value: Some(Bytes::copy_from_slice(v)),
            })
            .collect(),
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).expect("hex"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("utf-8")
}

/// Values in canonical JSON (what `serde_json` writes back: sorted keys, no spaces) give
/// the very bytes of the tree; any other value the same JSON.
#[test]
fn the_writer_gives_the_bytes_of_the_tree() {
    let values: [Option<&[u8]>; 17] = [
        Some(br#"{"n":1,"t":1700000000.5}"#),
        Some(r#"{"a":{"b":[1,2,{"c":null}]},"s":"é\"\\x\n"}"#.as_bytes()),
        Some(br#""just a string""#),
        Some(b"12345"),
        Some(b"-0.5"),
        Some(b"true"),
        Some(b"null"),
        Some(b"[]"),
        Some(b"not json"),
        Some(&[0xff, 0xfe, 0x00, 0x01]),
        Some(b""),
        None,
        Some(b"{\"s\":\"\xff\"}"),
        Some(br#""\ud800""#),
        Some(b"1e400"),
        Some(b"{\"a\":1} x"),
        Some("\"caf\u{e9} \u{1F600}\"".as_bytes()),
    ];
    let header_sets: [&[(&str, &[u8])]; 5] = [
        &[],
        &[("ce_type", b"order.created"), ("ce_source", b"/shop")],
        &[
            ("ce_id", b"evt-1"),
            ("ce_type", b"a"),
            ("ce_type", b"b"),
            ("ce_Bad", b"x"),
        ],
        &[
            ("content-type", b"text/plain"),
            ("ce_datacontenttype", b"x/y"),
        ],
        &[
            ("content-type", b"application/json"),
            ("ce_zz9", b"\xffq\"\n"),
            ("ce_data", b"no"),
        ],
    ];
    let keys: [Option<&[u8]>; 3] = [Some(b"k1"), None, Some(b"\xff\"key\"")];
    let mut cases = 0;
    for value in values {
        for headers in header_sets {
            for key in keys {
                let r = record(key, value, headers);
                let old = tree::structured(&r, "orders.eu", 3, None);
                let new = payload::build(&r, "orders.eu", 3, PayloadMode::Structured, None);
                assert_eq!(
                    String::from_utf8_lossy(&new.body),
                    String::from_utf8_lossy(&old),
                    "value {value:?}, headers {headers:?}, key {key:?}"
                );
                let b = payload::build(&r, "orders.eu", 3, PayloadMode::Binary, None);
                let decoded: Vec<(String, String)> = b
                    .headers
                    .iter()
                    .map(|(k, v)| (k.clone(), percent_decode(v)))
                    .collect();
                assert_eq!(decoded, tree::binary_headers(&r, "orders.eu", 3));
                cases += 1;
            }
        }
    }
    assert_eq!(cases, 17 * 5 * 3);
}

#[test]
fn json_not_in_canonical_form_is_embedded_as_produced() {
    let produced = b"{ \"t\": 1.50, \"n\": 1, \"n\": 2, \"s\": \"\\u00e9\" }\n";
    let r = record(Some(b"k"), Some(produced), &[]);
    let new = payload::build(&r, "t", 0, PayloadMode::Structured, None);
    let body = String::from_utf8_lossy(&new.body);
    assert!(
        body.contains(r#""data":{ "t": 1.50, "n": 1, "n": 2, "s": "\u00e9" }"#),
        "{body}"
    );
    let old: Value = serde_json::from_slice(&tree::structured(&r, "t", 0, None)).expect("json");
    let parsed: Value = serde_json::from_slice(&new.body).expect("json");
    assert_eq!(parsed, old);
}

#[test]
fn schema_decoded_values_and_keys_match_the_tree() {
    let decoder: ValueDecoder = Arc::new(|v: &[u8]| match v {
        [0, 0, 0, 0, 5, rest @ ..] => Some((json!({"len": rest.len(), "s": "é"}), 5)),
        [0, 0, 0, 0, 6, ..] => Some((json!({"id": 7, "region": "eu"}), 6)),
        _ => None,
    });
    let values: [&[u8]; 3] = [&[0, 0, 0, 0, 5, 2, 104], br#"{"n":1}"#, b"plain"];
    for value in values {
        let r = record(Some(&[0, 0, 0, 0, 6, 1]), Some(value), &[("ce_type", b"x")]);
        let old = tree::structured(&r, "t", 0, Some(&decoder));
        let new = payload::build(&r, "t", 0, PayloadMode::Structured, Some(&decoder));
        assert_eq!(
            String::from_utf8_lossy(&new.body),
            String::from_utf8_lossy(&old)
        );
    }
}

#[test]
fn validity_is_what_serde_json_accepts_as_a_value() {
    let inputs: [&[u8]; 12] = [
        b"{}",
        b" [1, 2.5, -3e2, \"x\", {\"k\": [null, true]}] ",
        b"\"\\ud83d\\ude00\"",
        b"\"\\ud800\"",
        b"\"\xff\"",
        b"{\"\xff\":1}",
        b"1e400",
        b"[1,]",
        b"",
        b"{\"a\":1}{}",
        b"18446744073709551616",
        b"\"tab\there\"",
    ];
    for input in inputs {
        let tree = serde_json::from_slice::<Value>(input).is_ok();
        assert_eq!(
            super::is_json(input),
            tree,
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
    let deep = "[".repeat(200) + &"]".repeat(200);
    assert!(!super::is_json(deep.as_bytes()));
    assert!(serde_json::from_slice::<Value>(deep.as_bytes()).is_err());
}
