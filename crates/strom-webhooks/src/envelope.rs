//! The CloudEvents attributes of a record and their two wire forms: the structured JSON
//! body, written straight into one pre-sized buffer, and the `ce-*` headers of binary mode.
//! Attributes are collected as a short list (derived ones, then `ce_*` headers, then the
//! data attributes; a later one of the same name wins) and written in name order, the bytes
//! a `serde_json` object tree gave. `data` is the record's value as produced, byte for byte,
//! when it is JSON ([`is_json`]: what `serde_json` accepts as a `Value`, checked without
//! building one), a schema-decoded value, or `data_base64`.

use std::borrow::Cow;
use std::fmt;
use std::io::Write as _;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Serialize;
use serde_json::Value;
use strom_broker::StoredRecord;

use crate::payload::ValueDecoder;

/// One attribute's value, borrowed from the record where it can be.
pub(crate) enum Attr<'a> {
    Str(&'a str),
    Text(String),
    /// A header value or key, as (lossy) UTF-8 text.
    Lossy(&'a [u8]),
    Int(i64),
    /// `/strom/topics/<topic>`.
    Source(&'a str),
    /// Milliseconds since the epoch, as RFC 3339 with milliseconds.
    Time(i64),
    /// A value that [`is_json`], embedded as it is.
    Json(&'a [u8]),
    Decoded(Value),
    Base64(&'a [u8]),
    Null,
}

impl Attr<'_> {
    /// The value as header text (binary mode): strings as themselves, numbers as digits.
    fn text(&self) -> Cow<'_, str> {
        match self {
            Attr::Str(s) => Cow::Borrowed(s),
            Attr::Text(s) => Cow::Borrowed(s),
            Attr::Lossy(b) => String::from_utf8_lossy(b),
            Attr::Int(n) => Cow::Owned(n.to_string()),
            Attr::Source(topic) => Cow::Owned(format!("/strom/topics/{topic}")),
            Attr::Time(ms) => Cow::Owned(rfc3339(*ms).to_string()),
            Attr::Json(b) => String::from_utf8_lossy(b),
            Attr::Decoded(Value::String(s)) => Cow::Borrowed(s),
            Attr::Decoded(v) => Cow::Owned(v.to_string()),
            Attr::Base64(b) => Cow::Owned(STANDARD.encode(b)),
            Attr::Null => Cow::Borrowed("null"),
        }
    }

    /// Appends the value as JSON.
    fn write_json(&self, out: &mut Vec<u8>) {
        // Writing into a `Vec` cannot fail, and these values always serialize.
        match self {
            Attr::Str(s) => put(out, s),
            Attr::Text(s) => put(out, s.as_str()),
            Attr::Lossy(b) => put(out, &*String::from_utf8_lossy(b)),
            Attr::Int(n) => out.extend_from_slice(itoa::Buffer::new().format(*n).as_bytes()),
            Attr::Source(topic) => put(out, &format_args!("/strom/topics/{topic}")),
            Attr::Time(ms) => {
                let _ = write!(out, "\"{}\"", rfc3339(*ms));
            }
            Attr::Json(b) => out.extend_from_slice(b),
            Attr::Decoded(v) => put(out, v),
            Attr::Base64(b) => {
                out.push(b'"');
                let start = out.len();
                let len = base64::encoded_len(b.len(), true).unwrap_or(0);
                out.resize(start + len, 0);
                let written = STANDARD.encode_slice(b, &mut out[start..]).unwrap_or(0);
                out.truncate(start + written);
                out.push(b'"');
            }
            Attr::Null => out.extend_from_slice(b"null"),
        }
    }
}

fn put<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    let _ = serde_json::to_writer(out, value);
}

fn rfc3339(ms: i64) -> humantime::Rfc3339Timestamp {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t)
}

/// A record's attributes, in the order they were set.
pub(crate) struct Attrs<'a> {
    list: Vec<(&'a str, Attr<'a>)>,
}

impl<'a> Attrs<'a> {
    /// The core attributes: `ce_*` headers override the derived ones; `decoder` (structured
    /// mode) decodes a schema-encoded key into `subject`.
    pub fn new(
        record: &'a StoredRecord,
        topic: &'a str,
        partition: i32,
        id: &'a str,
        decoder: Option<&ValueDecoder>,
    ) -> Attrs<'a> {
        let mut list = Vec::with_capacity(12 + record.headers.len());
        list.push(("specversion", Attr::Str("1.0")));
        list.push(("id", Attr::Str(id)));
        list.push(("source", Attr::Source(topic)));
        list.push(("type", Attr::Str("strom.record")));
        list.push(("time", Attr::Time(record.timestamp)));
        if let Some(key) = record.key.as_deref() {
            list.push(("subject", subject(key, decoder)));
        }
        list.push(("stromtopic", Attr::Str(topic)));
        list.push(("strompartition", Attr::Int(partition.into())));
        list.push(("stromoffset", Attr::Int(record.offset)));
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
                    list.push((name, Attr::Lossy(v)));
                }
            }
        }
        Attrs { list }
    }

    pub fn push(&mut self, name: &'a str, value: Attr<'a>) {
        self.list.push((name, value));
    }

    /// Puts the attributes in name order, keeping the last one set of each name.
    fn sort(&mut self) {
        self.list.sort_by(|a, b| a.0.cmp(b.0));
        self.list.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                std::mem::swap(later, kept);
            }
            same
        });
    }

    /// The structured-mode body: one JSON object.
    pub fn into_json(mut self, size_hint: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(size_hint);
        out.push(b'{');
        self.sort();
        for (i, (name, value)) in self.list.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            // Names are derived ones or `ce_*` names of lowercase letters and digits.
            out.push(b'"');
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\":");
            value.write_json(&mut out);
        }
        out.push(b'}');
        out
    }

    /// The binary-mode headers: `ce-<name>` and the value as text (`datacontenttype` is
    /// the `Content-Type`, not a header of its own), not yet percent-encoded.
    pub fn into_headers(mut self) -> Vec<(String, String)> {
        self.sort();
        self.list
            .iter()
            .filter(|(name, _)| *name != "datacontenttype")
            .map(|(name, value)| (format!("ce-{name}"), value.text().into_owned()))
            .collect()
    }
}

/// The `subject` of a record with `key`: decoded with its schema when `decoder` knows the
/// key's wire-format prefix (a string as itself, any other JSON value as its compact text),
/// else the key as (lossy) text.
fn subject<'a>(key: &'a [u8], decoder: Option<&ValueDecoder>) -> Attr<'a> {
    match decoder.and_then(|d| d(key)) {
        Some((Value::String(text), _)) => Attr::Text(text),
        Some((other, _)) => Attr::Text(other.to_string()),
        None => Attr::Lossy(key),
    }
}

/// Whether `bytes` is one JSON value exactly as `serde_json` would parse it into a `Value`
/// (valid UTF-8 in strings, no lone surrogates, numbers in range, nesting within its
/// limit), checked without building the tree.
pub fn is_json(bytes: &[u8]) -> bool {
    serde_json::from_slice::<Valid>(bytes).is_ok()
}

/// Any JSON value, parsed and dropped as it goes.
struct Valid;

impl<'de> Deserialize<'de> for Valid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Valid, D::Error> {
        d.deserialize_any(ValidVisitor)
    }
}

struct ValidVisitor;

impl<'de> Visitor<'de> for ValidVisitor {
    type Value = Valid;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Valid, E> {
        Ok(Valid)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Valid, E> {
        Ok(Valid)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Valid, E> {
        Ok(Valid)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Valid, E> {
        Ok(Valid)
    }
    fn visit_str<E>(self, _: &str) -> Result<Valid, E> {
        Ok(Valid)
    }
    fn visit_unit<E>(self) -> Result<Valid, E> {
        Ok(Valid)
    }
    fn visit_none<E>(self) -> Result<Valid, E> {
        Ok(Valid)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Valid, D::Error> {
        Valid::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Valid, A::Error> {
        while seq.next_element::<Valid>()?.is_some() {}
        Ok(Valid)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Valid, A::Error> {
        while map.next_key::<Valid>()?.is_some() {
            map.next_value::<Valid>()?;
        }
        Ok(Valid)
    }
}

#[cfg(test)]
mod tests;
