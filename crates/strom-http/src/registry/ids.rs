//! `/schemas/ids/{id}...`: a schema by its global id (its text, the subjects and versions
//! that use it), `/schemas` (every version, paged), `/schemas/types`, `/contexts` and
//! `/v1/metadata/id`. A schema is shown to a caller who may describe one of the subjects
//! using it; to anyone else it does not exist.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;
use strom_schema::{SchemaError, SchemaType, StoredSchema};
use utoipa::IntoParams;

use super::{flag, registry, reply, schema_json, version_json, RegistryError};
use crate::authz::may_describe_subject;
use crate::caller::Caller;
use crate::error::{schema_error, ApiResult};
use crate::state::Shared;

#[derive(Debug, Deserialize, IntoParams)]
pub struct IdQuery {
    /// Include soft-deleted versions (`true`).
    pub deleted: Option<String>,
}

/// A schema and every (subject, version) using it, soft-deleted ones included.
type Visible = (Arc<StoredSchema>, Vec<(String, i32)>);

/// The schema, if the caller may see it. Errors: 404/40403.
fn visible(state: &Shared, caller: &Caller, id: i32) -> ApiResult<Visible> {
    let registry = registry(state)?;
    let not_found = || schema_error(SchemaError::SchemaNotFound(id.to_string()));
    let schema = registry.schema(id).map_err(|_| not_found())?;
    let uses = registry.id_versions(id, true).map_err(|_| not_found())?;
    if !uses
        .iter()
        .any(|(s, _)| may_describe_subject(state, &caller.0, s))
    {
        return Err(not_found());
    }
    Ok((schema, uses))
}

/// A schema by its global id.
#[utoipa::path(get, path = "/schemas/ids/{id}", tag = "schema-registry",
    responses((status = 200, body = Object), (status = 404, body = RegistryError)))]
pub async fn by_id(
    State(state): State<Shared>,
    caller: Caller,
    Path(id): Path<i32>,
) -> ApiResult<Response> {
    let (schema, _) = visible(&state, &caller, id)?;
    Ok(reply(&schema_json(&schema)))
}

/// The raw text of a schema by its global id.
#[utoipa::path(get, path = "/schemas/ids/{id}/schema", tag = "schema-registry",
    responses((status = 200, body = String), (status = 404, body = RegistryError)))]
pub async fn by_id_schema(
    State(state): State<Shared>,
    caller: Caller,
    Path(id): Path<i32>,
) -> ApiResult<Response> {
    let (schema, _) = visible(&state, &caller, id)?;
    Ok(super::raw(&schema.schema))
}

/// The subjects using a schema.
#[utoipa::path(get, path = "/schemas/ids/{id}/subjects", tag = "schema-registry", params(IdQuery),
    responses((status = 200, body = [String]), (status = 404, body = RegistryError)))]
pub async fn by_id_subjects(
    State(state): State<Shared>,
    caller: Caller,
    Path(id): Path<i32>,
    Query(q): Query<IdQuery>,
) -> ApiResult<Response> {
    let (_, uses) = visible(&state, &caller, id)?;
    let live = registry(&state)?
        .id_versions(id, flag(&q.deleted))
        .unwrap_or_default();
    let mut subjects: Vec<String> = uses
        .into_iter()
        .filter(|u| live.contains(u) && may_describe_subject(&state, &caller.0, &u.0))
        .map(|(s, _)| s)
        .collect();
    subjects.dedup();
    Ok(reply(&subjects))
}

/// The (subject, version) pairs using a schema.
#[utoipa::path(get, path = "/schemas/ids/{id}/versions", tag = "schema-registry", params(IdQuery),
    responses((status = 200, body = [Object]), (status = 404, body = RegistryError)))]
pub async fn by_id_versions(
    State(state): State<Shared>,
    caller: Caller,
    Path(id): Path<i32>,
    Query(q): Query<IdQuery>,
) -> ApiResult<Response> {
    let (_, uses) = visible(&state, &caller, id)?;
    let live = registry(&state)?
        .id_versions(id, flag(&q.deleted))
        .unwrap_or_default();
    let versions: Vec<_> = uses
        .into_iter()
        .filter(|u| live.contains(u) && may_describe_subject(&state, &caller.0, &u.0))
        .map(|(subject, version)| json!({ "subject": subject, "version": version }))
        .collect();
    Ok(reply(&versions))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct SchemasQuery {
    /// Only subjects starting with this.
    pub subject_prefix: Option<String>,
    /// Include soft-deleted versions (`true`).
    pub deleted: Option<String>,
    /// Only each subject's newest version (`true`).
    pub latest_only: Option<String>,
    /// Versions to skip (default 0).
    pub offset: Option<i64>,
    /// Versions to return at most (default and any value below 1: all).
    pub limit: Option<i64>,
}

/// Every schema version the caller may describe, subjects in name order, paged.
#[utoipa::path(get, path = "/schemas", tag = "schema-registry", params(SchemasQuery),
    responses((status = 200, body = [Object])))]
pub async fn list(
    State(state): State<Shared>,
    caller: Caller,
    Query(q): Query<SchemasQuery>,
) -> ApiResult<Response> {
    let registry = registry(&state)?;
    let prefix = q.subject_prefix.clone().unwrap_or_default();
    let offset = usize::try_from(q.offset.unwrap_or(0)).unwrap_or(0);
    let limit = match q.limit {
        Some(n) if n > 0 => usize::try_from(n).unwrap_or(usize::MAX),
        _ => usize::MAX,
    };
    let shown: Vec<_> = registry
        .all_versions(&prefix, flag(&q.deleted), flag(&q.latest_only))
        .into_iter()
        .filter(|v| may_describe_subject(&state, &caller.0, &v.subject))
        .skip(offset)
        .take(limit)
        .map(|v| version_json(&v))
        .collect();
    Ok(reply(&shown))
}

/// The schema types this registry supports.
#[utoipa::path(get, path = "/schemas/types", tag = "schema-registry",
    responses((status = 200, body = [String])))]
pub async fn types(State(state): State<Shared>) -> ApiResult<Response> {
    registry(&state)?;
    let names: Vec<&str> = SchemaType::ALL.iter().map(|t| t.as_str()).collect();
    Ok(reply(&names))
}

/// The schema contexts (only the default one).
#[utoipa::path(get, path = "/contexts", tag = "schema-registry", responses((status = 200, body = [String])))]
pub async fn contexts(State(state): State<Shared>) -> ApiResult<Response> {
    registry(&state)?;
    Ok(reply(&["."]))
}

/// The cluster this registry belongs to, as Confluent's `/v1/metadata/id`.
#[utoipa::path(get, path = "/v1/metadata/id", tag = "schema-registry", responses((status = 200, body = Object)))]
pub async fn metadata_id(State(state): State<Shared>) -> ApiResult<Response> {
    registry(&state)?;
    let cluster = state.broker.cluster_id().to_string();
    Ok(reply(&json!({
        "scope": {
            "path": [],
            "clusters": { "kafka-cluster": cluster, "schema-registry-cluster": "schema-registry" }
        }
    })))
}
