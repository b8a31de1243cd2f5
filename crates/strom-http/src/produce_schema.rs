//! Strom's own produce API (`POST /v1/topics/{t}/records`) with schemas: the request names
//! a registered schema for its values and/or keys, by id (`value_schema_id`, as the REST
//! Proxy) or by subject and version (`value_subject`, `value_subject_version`, default
//! `latest`); each record's JSON `value` (and `key`) is then converted with that schema
//! (Avro binary, validated JSON, Protobuf) and framed in the serializers' wire format, so
//! Confluent's deserializers read it. Avro unions may be given bare, as Strom's readers
//! show them, or tagged (`{"string": "x"}`), as the REST Proxy reads them.
//!
//! Errors (problem+json): 404 40403 an unknown (or invisible) schema id, 40401 / 40402 an
//! unknown subject / version; 422 42203 a record that does not convert, naming the record,
//! `key` or `value` and the field path; the whole request fails and nothing is written.
//! Authorization: the route's Write on the topic, and the schema must be visible to the
//! caller as the registry API shows it (Describe on its subject: for `<topic>-value`, on the
//! topic; see [`crate::authz::subject_resource`]), as the REST Proxy's `value_schema_id`.

use std::sync::Arc;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use strom_auth::Session;
use strom_schema::payload::{PayloadDecoder, Unions};
use strom_schema::{Registry, SchemaError, StoredSchema, VersionRef};
use utoipa::ToSchema;

use crate::authz::may_describe_subject;
use crate::error::{schema_error, ApiError, ApiResult, Flavor};
use crate::state::Shared;

/// A subject's version: a number, or `"latest"` (also `-1`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum VersionIn {
    Number(i32),
    Text(String),
}

/// How one side (key or value) of a request names its schema.
#[derive(Debug, Default)]
pub struct SchemaChoice {
    pub id: Option<i32>,
    pub subject: Option<String>,
    pub version: Option<VersionIn>,
}

/// The schemas a request's keys and values are encoded with.
#[derive(Default)]
pub struct RecordSchemas {
    pub key: Option<Arc<PayloadDecoder>>,
    pub value: Option<Arc<PayloadDecoder>>,
}

impl RecordSchemas {
    pub fn key_id(&self) -> Option<i32> {
        self.key.as_ref().map(|d| d.schema_id())
    }
    pub fn value_id(&self) -> Option<i32> {
        self.value.as_ref().map(|d| d.schema_id())
    }
}

/// A registry error in problem+json (the native API's shape), with Confluent's code.
fn problem(err: SchemaError) -> ApiError {
    let mut e = schema_error(err);
    e.flavor = Flavor::Problem;
    e
}

/// Schema `id` if the caller may see it: Describe on a subject using it, as
/// `GET /schemas/ids/{id}` shows it. Errors: `SchemaNotFound` when unknown or invisible.
pub fn visible_schema(
    state: &Shared,
    session: &Session,
    registry: &Registry,
    id: i32,
) -> Result<Arc<StoredSchema>, SchemaError> {
    let not_found = || SchemaError::SchemaNotFound(id.to_string());
    let schema = registry.schema(id).map_err(|_| not_found())?;
    let uses = registry.id_versions(id, true).map_err(|_| not_found())?;
    match uses
        .iter()
        .any(|(s, _)| may_describe_subject(state, session, s))
    {
        true => Ok(schema),
        false => Err(not_found()),
    }
}

/// Resolves the key and value schemas of a request. Errors: 422 when the request names
/// a schema without a registry here or names it twice, 404 unknown or invisible ones.
pub fn resolve(
    state: &Shared,
    session: &Session,
    key: SchemaChoice,
    value: SchemaChoice,
) -> ApiResult<RecordSchemas> {
    let named = |c: &SchemaChoice| c.id.is_some() || c.subject.is_some() || c.version.is_some();
    if !named(&key) && !named(&value) {
        return Ok(RecordSchemas::default());
    }
    let registry = state.config.schemas.clone().ok_or_else(|| {
        ApiError::unprocessable("this server has no schema registry to encode records with")
            .code(42204)
    })?;
    Ok(RecordSchemas {
        key: one(state, session, &registry, "key", key)?,
        value: one(state, session, &registry, "value", value)?,
    })
}

fn one(
    state: &Shared,
    session: &Session,
    registry: &Registry,
    side: &str,
    choice: SchemaChoice,
) -> ApiResult<Option<Arc<PayloadDecoder>>> {
    let id = match (choice.id, choice.subject) {
        (None, None) if choice.version.is_some() => {
            return Err(ApiError::unprocessable(format!(
                "{side}_subject_version needs {side}_subject"
            ))
            .code(42204))
        }
        (None, None) => return Ok(None),
        (Some(_), Some(_)) => {
            return Err(ApiError::unprocessable(format!(
                "give either {side}_schema_id or {side}_subject, not both"
            ))
            .code(42204))
        }
        (Some(id), None) => {
            visible_schema(state, session, registry, id)
                .map_err(problem)?
                .id
        }
        (None, Some(subject)) => {
            let version = match choice.version {
                None => Ok(VersionRef::Latest),
                Some(VersionIn::Number(n)) => VersionRef::parse(&n.to_string()),
                Some(VersionIn::Text(t)) => VersionRef::parse(&t),
            }
            .map_err(problem)?;
            if !may_describe_subject(state, session, &subject) {
                return Err(problem(SchemaError::SubjectNotFound(subject)));
            }
            registry
                .version(&subject, version, false)
                .map_err(problem)?
                .schema
                .id
        }
    };
    registry.payload_decoder(id).map(Some).map_err(problem)
}

/// `json` (a record's key or value) converted with `decoder` and framed. Errors: 422
/// 42203 naming the record, the side and the field path.
pub fn encode(
    decoder: &PayloadDecoder,
    index: usize,
    side: &str,
    json: &Value,
) -> ApiResult<Bytes> {
    decoder
        .encode_with(json, Unions::Either)
        .map(Bytes::from)
        .map_err(|why| conversion_failed(decoder, index, side, why))
}

/// [`encode`] from JSON text, converted while parsed (Avro without a JSON tree).
pub fn encode_text(
    decoder: &PayloadDecoder,
    index: usize,
    side: &str,
    json: &str,
) -> ApiResult<Bytes> {
    decoder
        .encode_text(json, Unions::Either)
        .map(Bytes::from)
        .map_err(|why| conversion_failed(decoder, index, side, why))
}

fn conversion_failed(decoder: &PayloadDecoder, index: usize, side: &str, why: String) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        "schema-conversion-failed",
        format!(
            "record {index}: {side} does not convert with schema {} ({}): {why}",
            decoder.schema_id(),
            decoder.schema_type().as_str()
        ),
    )
    .code(42203)
}

/// A record's key as bytes: encoded with the key schema when there is one, else it must be
/// text. Errors: the reason (the caller adds the record).
pub fn key_bytes(schemas: &RecordSchemas, index: usize, key: Value) -> ApiResult<Option<Bytes>> {
    match (&schemas.key, key) {
        (_, Value::Null) => Ok(None),
        (Some(decoder), key) => encode(decoder, index, "key", &key).map(Some),
        (None, Value::String(text)) => Ok(Some(Bytes::from(text))),
        (None, _) => Err(ApiError::unprocessable(format!(
            "record {index}: key must be a string (or name a key schema with key_schema_id or key_subject)"
        ))
        .code(42206)),
    }
}

/// A record's JSON value (its text in the request) as bytes: encoded with the value schema
/// when there is one, else its compact JSON text.
pub fn value_bytes(schemas: &RecordSchemas, index: usize, value: &RawValue) -> ApiResult<Bytes> {
    match &schemas.value {
        Some(decoder) => encode_text(decoder, index, "value", value.get()),
        None => serde_json::from_str::<Value>(value.get())
            .map(|v| Bytes::from(v.to_string()))
            .map_err(|e| ApiError::bad_request(format!("record {index}: value: {e}"))),
    }
}
