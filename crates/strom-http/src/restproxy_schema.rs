//! REST Proxy v2 embedded formats with schemas (`avro`, `jsonschema`, `protobuf`), as
//! Confluent's REST Proxy does them: a request's `key_schema`/`value_schema` text is
//! registered under `<topic>-key`/`<topic>-value` (TopicNameStrategy; the registry answers
//! the existing id when the schema is already there), or `key_schema_id`/`value_schema_id`
//! names a registered schema; each record's JSON key and value are converted with that
//! schema (Avro binary, validated JSON, Protobuf) and framed with the wire-format prefix.
//!
//! Errors as the REST Proxy's: 42201/42202 a key/value without its schema, 42205 an invalid
//! schema, 42203 a record whose JSON does not convert (the whole request fails, nothing is
//! written), 40403 an unknown schema id. Authorization: registering needs Write on the
//! subject, which for `<topic>-value` is Write on the topic (see
//! [`crate::authz::subject_resource`]); a schema id must be visible to the caller as
//! `GET /schemas/ids/{id}` shows it (Describe on a subject using it).

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;
use strom_auth::Session;
use strom_schema::{NewSchema, Registry, SchemaError, SchemaType};

use crate::authz::subject_resource;
use crate::error::{schema_error, ApiError, ApiResult};
use crate::restproxy::RestProduceRequest;
use crate::state::Shared;

/// An embedded format that needs the schema registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaFormat {
    Avro,
    JsonSchema,
    Protobuf,
}

impl SchemaFormat {
    /// The format named by a REST Proxy content type, if it is one with schemas.
    pub fn of_content_type(ct: &str) -> Option<SchemaFormat> {
        match ct {
            "application/vnd.kafka.avro.v2+json" => Some(SchemaFormat::Avro),
            "application/vnd.kafka.jsonschema.v2+json" => Some(SchemaFormat::JsonSchema),
            "application/vnd.kafka.protobuf.v2+json" => Some(SchemaFormat::Protobuf),
            _ => None,
        }
    }

    pub fn schema_type(self) -> SchemaType {
        match self {
            SchemaFormat::Avro => SchemaType::Avro,
            SchemaFormat::JsonSchema => SchemaType::Json,
            SchemaFormat::Protobuf => SchemaType::Protobuf,
        }
    }
}

/// The key and value schema ids of one produce request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ids {
    pub key: Option<i32>,
    pub value: Option<i32>,
}

fn rest_422(code: u32, message: impl Into<String>) -> ApiError {
    ApiError::unprocessable(message).code(code).rest()
}

/// The registry for a schema format. Errors: 415/41501 when this server has none.
pub fn registry_for(state: &Shared, ct: &str) -> ApiResult<Arc<Registry>> {
    state.config.schemas.clone().ok_or_else(|| {
        ApiError::unsupported_media_type(format!(
            "embedded format of '{ct}' needs the schema registry, which is not enabled on this server"
        ))
        .code(41501)
        .rest()
    })
}

/// Registers or looks up the request's key and value schemas. Errors: 42201/42202 when
/// records have keys/values but no schema for them, 42205, 40403, 403.
pub async fn resolve(
    state: &Shared,
    session: &Session,
    registry: &Arc<Registry>,
    topic: &str,
    format: SchemaFormat,
    request: &mut RestProduceRequest,
) -> ApiResult<Ids> {
    let present = |v: &Option<Value>| v.as_ref().is_some_and(|v| !v.is_null());
    let has_keys = request.records.iter().any(|r| present(&r.key));
    let has_values = request.records.iter().any(|r| present(&r.value));
    let key_subject = format!("{topic}-key");
    let value_subject = format!("{topic}-value");
    let key = one(
        state,
        session,
        registry,
        &key_subject,
        format,
        request.key_schema.take(),
        request.key_schema_id,
    )
    .await?;
    let value = one(
        state,
        session,
        registry,
        &value_subject,
        format,
        request.value_schema.take(),
        request.value_schema_id,
    )
    .await?;
    if has_keys && key.is_none() {
        return Err(rest_422(
            42201,
            "Request includes keys but does not include key schema",
        ));
    }
    if has_values && value.is_none() {
        return Err(rest_422(
            42202,
            "Request includes values but does not include value schema",
        ));
    }
    Ok(Ids { key, value })
}

/// One schema: registered (text given) or looked up (id given).
async fn one(
    state: &Shared,
    session: &Session,
    registry: &Arc<Registry>,
    subject: &str,
    format: SchemaFormat,
    text: Option<Value>,
    id: Option<i32>,
) -> ApiResult<Option<i32>> {
    let text = match text {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s),
        // Lenient: a schema given as JSON rather than as its text.
        Some(other) => Some(other.to_string()),
    };
    match (text, id) {
        (Some(text), _) => register(state, session, registry, subject, format, text)
            .await
            .map(Some),
        (None, Some(id)) => by_id(state, session, registry, format, id).map(Some),
        (None, None) => Ok(None),
    }
}

async fn register(
    state: &Shared,
    session: &Session,
    registry: &Arc<Registry>,
    subject: &str,
    format: SchemaFormat,
    schema: String,
) -> ApiResult<i32> {
    let (operation, resource_type, name) = subject_resource(strom_auth::Operation::Write, subject);
    crate::authz::check(state, session, operation, resource_type, &name).map_err(ApiError::rest)?;
    let new = NewSchema {
        schema,
        schema_type: format.schema_type(),
        references: Vec::new(),
        id: None,
        version: None,
        extra: Default::default(),
    };
    let subject = subject.to_string();
    let registry = Arc::clone(registry);
    let result = tokio::task::spawn_blocking(move || registry.register(&subject, new, false))
        .await
        .map_err(|_| ApiError::internal("the schema registry call failed").rest())?;
    result.map_err(|e| match e {
        SchemaError::InvalidSchema(why) => rest_422(42205, format!("Invalid schema: {why}")),
        other => schema_error(other).rest(),
    })
}

fn by_id(
    state: &Shared,
    session: &Session,
    registry: &Registry,
    format: SchemaFormat,
    id: i32,
) -> ApiResult<i32> {
    let schema = crate::produce_schema::visible_schema(state, session, registry, id)
        .map_err(|e| schema_error(e).rest())?;
    if schema.schema_type != format.schema_type() {
        return Err(rest_422(
            42205,
            format!(
                "Invalid schema: schema {id} is {}, not {}",
                schema.schema_type.as_str(),
                format.schema_type().as_str()
            ),
        ));
    }
    Ok(id)
}

/// A record's JSON key or value converted with schema `id` and framed. Errors: 42203.
pub fn convert(
    registry: &Registry,
    format: SchemaFormat,
    id: Option<i32>,
    index: usize,
    value: Option<Value>,
) -> ApiResult<Option<Bytes>> {
    let (Some(id), Some(value)) = (id, value.filter(|v| !v.is_null())) else {
        return Ok(None);
    };
    let target = match format {
        SchemaFormat::Avro => "Avro",
        SchemaFormat::JsonSchema | SchemaFormat::Protobuf => "Object",
    };
    let failed = |why: String| {
        rest_422(
            42203,
            format!("Conversion of JSON to {target} failed: record {index}: {why}"),
        )
    };
    let decoder = registry
        .payload_decoder(id)
        .map_err(|e| failed(e.to_string()))?;
    decoder
        .encode(&value)
        .map(|b| Some(Bytes::from(b)))
        .map_err(failed)
}
