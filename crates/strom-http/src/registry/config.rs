//! Compatibility tests (`/compatibility/subjects/{s}/versions[/{v}]`, `verbose=true` for
//! the reasons), the compatibility level (`/config[/{s}]`: `compatibilityLevel` on GET,
//! `compatibility` on PUT, as Confluent) and the mode (`/mode[/{s}]`).

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};
use strom_schema::{Against, Level, Mode, SchemaError, VersionRef};
use utoipa::IntoParams;

use super::{blocking, flag, registry, reply, RegistryError, SchemaRequest};
use crate::body::RawBody;
use crate::error::{schema_error, ApiResult};
use crate::state::Shared;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct CheckQuery {
    /// Answer the reasons of an incompatibility (`true`).
    pub verbose: Option<String>,
    pub normalize: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct ConfigQuery {
    /// Answer the global setting when the subject has none (`true`).
    pub default_to_global: Option<String>,
}

async fn test(
    state: &Shared,
    subject: String,
    against: Against,
    verbose: bool,
    body: &[u8],
) -> ApiResult<Response> {
    let new = SchemaRequest::parse(body)?;
    let messages = blocking(registry(state)?, move |r| {
        r.test_compatibility(&subject, &new, against)
    })
    .await?;
    let mut answer = json!({ "is_compatible": messages.is_empty() });
    if verbose {
        answer["messages"] = json!(messages);
    }
    Ok(reply(&answer))
}

/// Test a schema against one version of a subject (`latest` for the newest).
#[utoipa::path(post, path = "/compatibility/subjects/{subject}/versions/{version}", tag = "schema-registry",
    params(CheckQuery), request_body = SchemaRequest,
    responses((status = 200, body = Object), (status = 404, body = RegistryError), (status = 422, body = RegistryError)))]
pub async fn check_version(
    State(state): State<Shared>,
    Path((subject, v)): Path<(String, String)>,
    Query(q): Query<CheckQuery>,
    body: RawBody,
) -> ApiResult<Response> {
    let version = VersionRef::parse(&v).map_err(schema_error)?;
    test(
        &state,
        subject,
        Against::Version(version),
        flag(&q.verbose),
        &body.0,
    )
    .await
}

/// Test a schema against the versions the subject's level says.
#[utoipa::path(post, path = "/compatibility/subjects/{subject}/versions", tag = "schema-registry",
    params(CheckQuery), request_body = SchemaRequest,
    responses((status = 200, body = Object), (status = 422, body = RegistryError)))]
pub async fn check_subject(
    State(state): State<Shared>,
    Path(subject): Path<String>,
    Query(q): Query<CheckQuery>,
    body: RawBody,
) -> ApiResult<Response> {
    test(&state, subject, Against::Level, flag(&q.verbose), &body.0).await
}

fn body_field(body: &[u8], field: &str, invalid: SchemaError) -> ApiResult<String> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|_| schema_error(SchemaError::InvalidSchema("malformed request body".into())))?;
    value
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| schema_error(invalid))
}

/// The global compatibility level.
#[utoipa::path(get, path = "/config", tag = "schema-registry", responses((status = 200, body = Object)))]
pub async fn get_global(State(state): State<Shared>) -> ApiResult<Response> {
    let level = registry(&state)?.level(None);
    Ok(reply(&json!({ "compatibilityLevel": level.as_str() })))
}

/// Set the global compatibility level (`{"compatibility": "FULL"}`).
#[utoipa::path(put, path = "/config", tag = "schema-registry", request_body = Object,
    responses((status = 200, body = Object), (status = 422, body = RegistryError)))]
pub async fn put_global(State(state): State<Shared>, body: RawBody) -> ApiResult<Response> {
    set_level(&state, None, &body.0).await
}

async fn set_level(state: &Shared, subject: Option<String>, body: &[u8]) -> ApiResult<Response> {
    let name = body_field(
        body,
        "compatibility",
        SchemaError::InvalidCompatibilityLevel,
    )?;
    let level = Level::parse(&name).map_err(schema_error)?;
    blocking(registry(state)?, move |r| {
        r.set_level(subject.as_deref(), Some(level))
    })
    .await?;
    Ok(reply(&json!({ "compatibility": level.as_str() })))
}

/// A subject's compatibility level.
#[utoipa::path(get, path = "/config/{subject}", tag = "schema-registry", params(ConfigQuery),
    responses((status = 200, body = Object), (status = 404, body = RegistryError)))]
pub async fn get_subject(
    State(state): State<Shared>,
    Path(subject): Path<String>,
    Query(q): Query<ConfigQuery>,
) -> ApiResult<Response> {
    let registry = registry(&state)?;
    let level = match registry.subject_level(&subject) {
        Ok(level) => level,
        Err(_) if flag(&q.default_to_global) => registry.level(None),
        Err(e) => return Err(schema_error(e)),
    };
    Ok(reply(&json!({ "compatibilityLevel": level.as_str() })))
}

/// Set a subject's compatibility level.
#[utoipa::path(put, path = "/config/{subject}", tag = "schema-registry", request_body = Object,
    responses((status = 200, body = Object), (status = 422, body = RegistryError)))]
pub async fn put_subject(
    State(state): State<Shared>,
    Path(subject): Path<String>,
    body: RawBody,
) -> ApiResult<Response> {
    set_level(&state, Some(subject), &body.0).await
}

/// Remove a subject's compatibility level (the global one applies again).
#[utoipa::path(delete, path = "/config/{subject}", tag = "schema-registry",
    responses((status = 200, body = Object), (status = 404, body = RegistryError)))]
pub async fn delete_subject(
    State(state): State<Shared>,
    Path(subject): Path<String>,
) -> ApiResult<Response> {
    let registry = registry(&state)?;
    let level = registry.subject_level(&subject).map_err(schema_error)?;
    blocking(registry, move |r| r.set_level(Some(&subject), None)).await?;
    Ok(reply(&json!({ "compatibilityLevel": level.as_str() })))
}

/// The global mode.
#[utoipa::path(get, path = "/mode", tag = "schema-registry", responses((status = 200, body = Object)))]
pub async fn get_mode(State(state): State<Shared>) -> ApiResult<Response> {
    let mode = registry(&state)?.mode(None);
    Ok(reply(&json!({ "mode": mode_name(mode) })))
}

/// Set the global mode (`{"mode": "READONLY"}`).
#[utoipa::path(put, path = "/mode", tag = "schema-registry", request_body = Object,
    responses((status = 200, body = Object), (status = 422, body = RegistryError)))]
pub async fn put_mode(State(state): State<Shared>, body: RawBody) -> ApiResult<Response> {
    set_mode(&state, None, &body.0).await
}

async fn set_mode(state: &Shared, subject: Option<String>, body: &[u8]) -> ApiResult<Response> {
    let name = body_field(body, "mode", SchemaError::InvalidMode)?;
    let mode = Mode::parse(&name).map_err(schema_error)?;
    blocking(registry(state)?, move |r| {
        r.set_mode(subject.as_deref(), Some(mode))
    })
    .await?;
    Ok(reply(&json!({ "mode": mode_name(mode) })))
}

fn mode_name(mode: Mode) -> Value {
    serde_json::to_value(mode).unwrap_or(Value::Null)
}

/// A subject's mode.
#[utoipa::path(get, path = "/mode/{subject}", tag = "schema-registry", params(ConfigQuery),
    responses((status = 200, body = Object), (status = 404, body = RegistryError)))]
pub async fn get_subject_mode(
    State(state): State<Shared>,
    Path(subject): Path<String>,
    Query(q): Query<ConfigQuery>,
) -> ApiResult<Response> {
    let registry = registry(&state)?;
    let mode = match registry.subject_mode(&subject) {
        Ok(mode) => mode,
        Err(_) if flag(&q.default_to_global) => registry.mode(None),
        Err(e) => return Err(schema_error(e)),
    };
    Ok(reply(&json!({ "mode": mode_name(mode) })))
}

/// Set a subject's mode.
#[utoipa::path(put, path = "/mode/{subject}", tag = "schema-registry", request_body = Object,
    responses((status = 200, body = Object), (status = 422, body = RegistryError)))]
pub async fn put_subject_mode(
    State(state): State<Shared>,
    Path(subject): Path<String>,
    body: RawBody,
) -> ApiResult<Response> {
    set_mode(&state, Some(subject), &body.0).await
}

/// Remove a subject's mode.
#[utoipa::path(delete, path = "/mode/{subject}", tag = "schema-registry",
    responses((status = 200, body = Object), (status = 404, body = RegistryError)))]
pub async fn delete_subject_mode(
    State(state): State<Shared>,
    Path(subject): Path<String>,
) -> ApiResult<Response> {
    let registry = registry(&state)?;
    let mode = registry.subject_mode(&subject).map_err(schema_error)?;
    blocking(registry, move |r| r.set_mode(Some(&subject), None)).await?;
    Ok(reply(&json!({ "mode": mode_name(mode) })))
}
