//! `/subjects...`: list subjects and versions, register, look up, read one version or its
//! raw schema, the ids that reference it, and soft or permanent deletion.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use strom_schema::VersionRef;
use utoipa::IntoParams;

use super::{blocking, flag, registry, reply, version_json, RegistryError, SchemaRequest};
use crate::authz::may_describe_subject;
use crate::body::RawBody;
use crate::caller::Caller;
use crate::error::{schema_error, ApiResult};
use crate::state::Shared;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    /// Include soft-deleted subjects or versions (`true`).
    pub deleted: Option<String>,
    /// Only subjects starting with this.
    pub subject_prefix: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct RegisterQuery {
    /// Store the schema in its normalized form (`true`).
    pub normalize: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DeleteQuery {
    /// Delete a soft-deleted subject or version for good (`true`).
    pub permanent: Option<String>,
}

fn version(text: &str) -> ApiResult<VersionRef> {
    VersionRef::parse(text).map_err(schema_error)
}

/// List subjects (those the caller may describe).
#[utoipa::path(get, path = "/subjects", tag = "schema-registry", params(ListQuery),
    responses((status = 200, body = [String])))]
pub async fn list(
    State(state): State<Shared>,
    caller: Caller,
    Query(q): Query<ListQuery>,
) -> ApiResult<Response> {
    let registry = registry(&state)?;
    let prefix = q.subject_prefix.clone().unwrap_or_default();
    let subjects: Vec<String> = registry
        .subjects(&prefix, flag(&q.deleted))
        .into_iter()
        .filter(|s| may_describe_subject(&state, &caller.0, s))
        .collect();
    Ok(reply(&subjects))
}

/// The versions of a subject.
#[utoipa::path(get, path = "/subjects/{subject}/versions", tag = "schema-registry", params(ListQuery),
    responses((status = 200, body = [i32]), (status = 404, body = RegistryError)))]
pub async fn versions(
    State(state): State<Shared>,
    Path(subject): Path<String>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Response> {
    let versions = registry(&state)?
        .versions(&subject, flag(&q.deleted))
        .map_err(schema_error)?;
    Ok(reply(&versions))
}

/// Register a schema under a subject; answers its global id.
#[utoipa::path(post, path = "/subjects/{subject}/versions", tag = "schema-registry", params(RegisterQuery),
    request_body = SchemaRequest,
    responses((status = 200, body = Object), (status = 409, body = RegistryError), (status = 422, body = RegistryError)))]
pub async fn register(
    State(state): State<Shared>,
    Path(subject): Path<String>,
    Query(q): Query<RegisterQuery>,
    body: RawBody,
) -> ApiResult<Response> {
    let new = SchemaRequest::parse(&body.0)?;
    let normalize = flag(&q.normalize);
    let id = blocking(registry(&state)?, move |r| {
        r.register(&subject, new, normalize)
    })
    .await?;
    Ok(reply(&json!({ "id": id })))
}

/// Whether this schema is registered under the subject; answers the version.
#[utoipa::path(post, path = "/subjects/{subject}", tag = "schema-registry", params(ListQuery),
    request_body = SchemaRequest,
    responses((status = 200, body = Object), (status = 404, body = RegistryError)))]
pub async fn lookup(
    State(state): State<Shared>,
    Path(subject): Path<String>,
    Query(q): Query<ListQuery>,
    body: RawBody,
) -> ApiResult<Response> {
    let new = SchemaRequest::parse(&body.0)?;
    let deleted = flag(&q.deleted);
    let found = blocking(registry(&state)?, move |r| {
        r.lookup(&subject, &new, deleted)
    })
    .await?;
    Ok(reply(&version_json(&found)))
}

/// One version of a subject (`latest` or `-1` for the newest).
#[utoipa::path(get, path = "/subjects/{subject}/versions/{version}", tag = "schema-registry", params(ListQuery),
    responses((status = 200, body = Object), (status = 404, body = RegistryError), (status = 422, body = RegistryError)))]
pub async fn get_version(
    State(state): State<Shared>,
    Path((subject, v)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Response> {
    let found = registry(&state)?
        .version(&subject, version(&v)?, flag(&q.deleted))
        .map_err(schema_error)?;
    Ok(reply(&version_json(&found)))
}

/// The raw schema text of one version.
#[utoipa::path(get, path = "/subjects/{subject}/versions/{version}/schema", tag = "schema-registry", params(ListQuery),
    responses((status = 200, body = String), (status = 404, body = RegistryError)))]
pub async fn get_version_schema(
    State(state): State<Shared>,
    Path((subject, v)): Path<(String, String)>,
    Query(q): Query<ListQuery>,
) -> ApiResult<Response> {
    let found = registry(&state)?
        .version(&subject, version(&v)?, flag(&q.deleted))
        .map_err(schema_error)?;
    Ok(super::raw(&found.schema.schema))
}

/// The ids of the schemas that reference this version.
#[utoipa::path(get, path = "/subjects/{subject}/versions/{version}/referencedby", tag = "schema-registry",
    responses((status = 200, body = [i32]), (status = 404, body = RegistryError)))]
pub async fn referenced_by(
    State(state): State<Shared>,
    Path((subject, v)): Path<(String, String)>,
) -> ApiResult<Response> {
    let ids = registry(&state)?
        .referenced_by(&subject, version(&v)?)
        .map_err(schema_error)?;
    Ok(reply(&ids))
}

/// Delete a subject: soft first, then with `permanent=true` for good. Answers the versions.
#[utoipa::path(delete, path = "/subjects/{subject}", tag = "schema-registry", params(DeleteQuery),
    responses((status = 200, body = [i32]), (status = 404, body = RegistryError), (status = 422, body = RegistryError)))]
pub async fn delete_subject(
    State(state): State<Shared>,
    Path(subject): Path<String>,
    Query(q): Query<DeleteQuery>,
) -> ApiResult<Response> {
    let permanent = flag(&q.permanent);
    let versions = blocking(registry(&state)?, move |r| {
        r.delete_subject(&subject, permanent)
    })
    .await?;
    Ok(reply(&versions))
}

/// Delete one version: soft first, then with `permanent=true` for good. Answers the version.
#[utoipa::path(delete, path = "/subjects/{subject}/versions/{version}", tag = "schema-registry", params(DeleteQuery),
    responses((status = 200, body = i32), (status = 404, body = RegistryError), (status = 422, body = RegistryError)))]
pub async fn delete_version(
    State(state): State<Shared>,
    Path((subject, v)): Path<(String, String)>,
    Query(q): Query<DeleteQuery>,
) -> ApiResult<Response> {
    let permanent = flag(&q.permanent);
    let selected = version(&v)?;
    let deleted = blocking(registry(&state)?, move |r| {
        r.delete_version(&subject, selected, permanent)
    })
    .await?;
    Ok(reply(&deleted))
}
