//! Confluent's Schema Registry API over strom-schema's [`Registry`]: subjects and versions
//! (`subjects.rs`), schemas by id, types and server metadata (`ids.rs`), compatibility
//! tests, config and mode (`config.rs`). Bodies are `application/vnd.schemaregistry.v1+json`
//! (plain JSON accepted), errors are `{"error_code","message"}` with Confluent's codes.
//! Authorization maps a subject `<topic>-key` / `<topic>-value` onto its topic (see
//! [`crate::authz::subject_resource`]); fields the registry does not interpret
//! (`metadata`, `ruleSet`, ...) are kept with the schema and returned.

pub mod config;
pub mod ids;
pub mod subjects;

use std::sync::Arc;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use strom_schema::{Reference, Registry, SchemaError, SchemaType, StoredSchema, SubjectVersion};
use utoipa::ToSchema;

use crate::error::{schema_error, ApiError, ApiResult};
use crate::state::Shared;

/// The registry's media type.
pub const MEDIA_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// A JSON answer in the registry's media type.
pub fn reply<T: Serialize>(value: &T) -> Response {
    let body = serde_json::to_string(value).unwrap_or_else(|_| "{}".to_string());
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    response
}

/// The registry, or 404 when this server runs without one.
pub fn registry(state: &Shared) -> ApiResult<Arc<Registry>> {
    state.config.schemas.clone().ok_or_else(|| {
        ApiError::not_found("no-schema-registry", "the schema registry is not enabled")
    })
}

/// Runs a registry call that may write (and so fsync) or compile schemas off the async
/// threads.
pub async fn blocking<T: Send + 'static>(
    registry: Arc<Registry>,
    call: impl FnOnce(&Registry) -> Result<T, SchemaError> + Send + 'static,
) -> ApiResult<T> {
    tokio::task::spawn_blocking(move || call(&registry))
        .await
        .map_err(|_| ApiError::internal("the schema registry call failed"))?
        .map_err(schema_error)
}

/// A registration or test body: Confluent's `RegisterSchemaRequest`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SchemaRequest {
    pub schema: String,
    /// `AVRO` (default), `JSON` or `PROTOBUF`.
    #[serde(rename = "schemaType", default)]
    pub schema_type: Option<String>,
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub references: Vec<Reference>,
    /// An explicit id (IMPORT mode only).
    #[serde(default)]
    pub id: Option<i32>,
    #[serde(default)]
    pub version: Option<i32>,
    /// `metadata`, `ruleSet` and any other field: kept with the schema.
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub extra: Map<String, Value>,
}

impl SchemaRequest {
    /// Parses a body. Errors: 422/42201 for a body that is not a schema request.
    pub fn parse(body: &[u8]) -> ApiResult<strom_schema::NewSchema> {
        let request: SchemaRequest = serde_json::from_slice(body).map_err(|e| {
            schema_error(SchemaError::InvalidSchema(format!(
                "malformed request: {e}"
            )))
        })?;
        let schema_type = match request.schema_type.as_deref() {
            None | Some("") => SchemaType::Avro,
            Some(name) => SchemaType::parse(name).map_err(schema_error)?,
        };
        Ok(strom_schema::NewSchema {
            schema: request.schema,
            schema_type,
            references: request.references,
            id: request.id,
            version: request.version,
            extra: request.extra,
        })
    }
}

/// A schema as `GET /schemas/ids/{id}` shows it.
pub fn schema_json(schema: &StoredSchema) -> Value {
    let mut map = schema.extra.clone();
    map.insert("schema".into(), Value::String(schema.schema.clone()));
    if schema.schema_type != SchemaType::Avro {
        map.insert("schemaType".into(), schema.schema_type.as_str().into());
    }
    if !schema.references.is_empty() {
        map.insert(
            "references".into(),
            serde_json::to_value(&schema.references).unwrap_or(Value::Null),
        );
    }
    Value::Object(map)
}

/// A subject version as `GET /subjects/{s}/versions/{v}` shows it.
pub fn version_json(v: &SubjectVersion) -> Value {
    let mut value = schema_json(&v.schema);
    if let Value::Object(map) = &mut value {
        map.insert("subject".into(), v.subject.clone().into());
        map.insert("version".into(), v.version.into());
        map.insert("id".into(), v.schema.id.into());
        if v.deleted {
            map.insert("deleted".into(), true.into());
        }
    }
    value
}

/// `true` for `?x=true` (any case).
pub fn flag(value: &Option<String>) -> bool {
    value
        .as_deref()
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The error body, for the OpenAPI document.
#[derive(Serialize, ToSchema)]
pub struct RegistryError {
    pub error_code: u32,
    pub message: String,
}

/// A raw schema text answer (`/schema` endpoints).
pub fn raw(text: &str) -> Response {
    let mut response = (StatusCode::OK, text.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE));
    response
}

/// Refuses (422) the request when the topic validates schemas on produce
/// (`confluent.value.schema.validation`, docs/schemas.md) and a record's value or key does
/// not carry the id of a schema registered under the topic's subject.
pub fn check_produce(
    state: &Shared,
    topic: &strom_broker::Topic,
    records: &[(i32, strom_broker::NewRecord)],
) -> ApiResult<()> {
    let Some(registry) = &state.config.schemas else {
        return Ok(());
    };
    let Some(checks) = strom_schema::validate::TopicValidation::of(topic.name(), &topic.config())
    else {
        return Ok(());
    };
    for (i, (_, r)) in records.iter().enumerate() {
        let key = checks.check_one(registry, true, r.key.as_deref());
        if let Err(reason) =
            key.and_then(|()| checks.check_one(registry, false, r.value.as_deref()))
        {
            return Err(ApiError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "schema-validation",
                format!("record {i} refused by schema validation: {reason}"),
            ));
        }
    }
    Ok(())
}
