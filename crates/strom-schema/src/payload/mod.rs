//! Record payloads against their registered schema: after the wire-format prefix (magic
//! byte, 4-byte schema id) a value must decode as a datum of that schema. Used by
//! validation on produce ([`crate::validate`], when the topic asks for decoding) and by the
//! HTTP readers that show a schema-encoded value as JSON. Decoders are compiled once per
//! schema id and kept in the [`Registry`] (a schema id's content never changes), so a
//! record costs one map lookup and the walk of its bytes.

pub mod avro;
pub mod json;
pub mod protobuf;

use std::sync::Arc;

use serde_json::Value;

use crate::error::SchemaResult;
use crate::formats::Source;
use crate::model::{SchemaType, StoredSchema};
use crate::registry::{resolve, Registry};
use crate::wire;

pub use avro::encode::Unions;

/// A schema compiled for decoding payloads.
enum Kind {
    Avro(avro::AvroPayload),
    Json(json::JsonPayload),
    Protobuf(protobuf::ProtoPayload),
}

/// The decoder of one schema id (or why the schema cannot decode anything).
pub struct PayloadDecoder {
    schema: Arc<StoredSchema>,
    kind: Result<Kind, String>,
}

impl PayloadDecoder {
    fn compile(schema: Arc<StoredSchema>, deps: &[crate::formats::Dep]) -> PayloadDecoder {
        let source = Source {
            schema: &schema.schema,
            deps,
        };
        let kind: SchemaResult<Kind> = match schema.schema_type {
            SchemaType::Avro => avro::AvroPayload::new(source).map(Kind::Avro),
            SchemaType::Json => json::JsonPayload::new(source).map(Kind::Json),
            SchemaType::Protobuf => protobuf::ProtoPayload::new(source).map(Kind::Protobuf),
        };
        PayloadDecoder {
            kind: kind.map_err(|e| e.to_string()),
            schema,
        }
    }

    /// The schema's id.
    pub fn schema_id(&self) -> i32 {
        self.schema.id
    }

    /// The schema's type.
    pub fn schema_type(&self) -> SchemaType {
        self.schema.schema_type
    }

    fn kind(&self) -> Result<&Kind, String> {
        self.kind
            .as_ref()
            .map_err(|e| format!("schema {} cannot decode payloads: {e}", self.schema.id))
    }

    /// Checks `payload` (the bytes after the prefix). Errors: why it does not decode.
    pub fn check(&self, payload: &[u8]) -> Result<(), String> {
        match self.kind()? {
            Kind::Avro(a) => a.check(payload),
            Kind::Json(j) => j.check(payload),
            Kind::Protobuf(p) => p.check(payload),
        }
    }

    /// `value` (JSON) encoded for this schema (Avro binary, validated JSON, Protobuf with
    /// its message index), with the wire-format prefix. Errors: why it does not convert.
    pub fn encode(&self, value: &Value) -> Result<Vec<u8>, String> {
        self.encode_with(value, Unions::Tagged)
    }

    /// [`Self::encode`], reading Avro unions as `unions` says.
    pub fn encode_with(&self, value: &Value, unions: Unions) -> Result<Vec<u8>, String> {
        let body = match self.kind()? {
            Kind::Avro(a) => a.encode_with(value, unions)?,
            Kind::Json(j) => j.encode(value)?,
            Kind::Protobuf(p) => p.encode(value)?,
        };
        Ok(self.framed(body))
    }

    /// `json` (JSON text) encoded as [`Self::encode_with`] does, Avro converted while it is
    /// parsed (no JSON tree, [`avro::stream`]). Errors: why it does not convert.
    pub fn encode_text(&self, json: &str, unions: Unions) -> Result<Vec<u8>, String> {
        let body = match self.kind()? {
            Kind::Avro(a) => a.encode_text(json, unions)?,
            _ => {
                let value: Value =
                    serde_json::from_str(json).map_err(|e| format!("not JSON: {e}"))?;
                return self.encode_with(&value, unions);
            }
        };
        Ok(self.framed(body))
    }

    fn framed(&self, body: Vec<u8>) -> Vec<u8> {
        let mut out = Vec::with_capacity(wire::PREFIX_LEN + body.len());
        out.push(0);
        out.extend_from_slice(&self.schema.id.to_be_bytes());
        out.extend(body);
        out
    }

    /// `payload` as Confluent's REST Proxy shows it: Avro in its JSON encoding (unions
    /// tagged), the others as [`Self::to_json`]. Errors: why it does not decode.
    pub fn to_tagged_json(&self, payload: &[u8]) -> Result<Value, String> {
        match self.kind()? {
            Kind::Avro(a) => a.to_tagged_json(payload),
            _ => self.to_json(payload),
        }
    }

    /// `payload` (the bytes after the prefix) as JSON. Errors: why it does not decode.
    pub fn to_json(&self, payload: &[u8]) -> Result<Value, String> {
        match self.kind()? {
            Kind::Avro(a) => a.to_json(payload),
            Kind::Json(_) => json::parse(payload),
            Kind::Protobuf(p) => p.to_json(payload),
        }
    }
}

/// A schema-encoded value shown as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub schema_id: i32,
    pub schema_type: SchemaType,
    pub value: Value,
}

impl Registry {
    /// The decoder of schema `id`, compiled on first use. Errors: `SchemaNotFound`, or
    /// `InvalidSchema` when its references no longer resolve.
    pub fn payload_decoder(&self, id: i32) -> SchemaResult<Arc<PayloadDecoder>> {
        let schema = self.schema(id)?;
        if let Some(found) = self.decoders.read().get(&id) {
            // An id is never reused for other content, but IMPORT mode may bring a
            // permanently deleted id back: compare what the decoder was built from.
            if Arc::ptr_eq(&found.schema, &schema) {
                return Ok(Arc::clone(found));
            }
        }
        let deps = {
            let state = self.state.read();
            resolve(&state, &schema.references, 0)?
        };
        let decoder = Arc::new(PayloadDecoder::compile(schema, &deps));
        self.decoders.write().insert(id, Arc::clone(&decoder));
        Ok(decoder)
    }

    /// A value carrying the wire-format prefix of a known schema, decoded to JSON. `None`
    /// when the value has no prefix or names no schema here; `Some(Err)` when it names a
    /// schema but does not decode (why, with the id).
    pub fn decode_value(&self, value: &[u8]) -> Option<Result<Decoded, String>> {
        self.decode_with(value, false)
    }

    /// [`Self::decode_value`] with Avro unions tagged as the REST Proxy shows them.
    pub fn decode_value_tagged(&self, value: &[u8]) -> Option<Result<Decoded, String>> {
        self.decode_with(value, true)
    }

    fn decode_with(&self, value: &[u8], tagged: bool) -> Option<Result<Decoded, String>> {
        let id = wire::schema_id(value)?;
        let decoder = self.payload_decoder(id).ok()?;
        let payload = &value[wire::PREFIX_LEN..];
        let json = match tagged {
            true => decoder.to_tagged_json(payload),
            false => decoder.to_json(payload),
        };
        Some(
            json.map(|json| Decoded {
                schema_id: id,
                schema_type: decoder.schema_type(),
                value: json,
            })
            .map_err(|e| format!("schema {id}: {e}")),
        )
    }
}

#[cfg(test)]
mod tests;
