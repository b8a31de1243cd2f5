//! Client quotas over HTTP (`strom_auth::Quotas`, shared with the Kafka listener).
//!
//! Data path: the produce and consume routes charge the caller's quota group, the principal
//! from [`Caller`] and the client id from the `X-Client-Id` header (empty without one, like a
//! Kafka client without `client.id`). A request arriving while the group is over its quota
//! is refused with 429 and `Retry-After` (an HTTP client cannot be muted as a Kafka
//! connection is); one within it is served and then charged.
//!
//! Administration: `/v1/quotas` lists, sets and deletes quotas with AlterClientQuotas'
//! semantics, under the same rights as Kafka's quota APIs (DescribeConfigs / AlterConfigs on
//! the cluster). An entity is `{"user": name, "client-id": name}` with either key optional
//! and `null` naming the default, as Kafka's wire does.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use strom_auth::{
    AuthError, Operation, QuotaAlteration, QuotaEntity, QuotaFilter, QuotaKey, QuotaValues,
    ResourceType, Session, CLUSTER_NAME,
};
use utoipa::ToSchema;

use crate::body::{parse_json, require_json, RawBody};
use crate::caller::Caller;
use crate::error::{over_quota, quota_error, quota_forbidden, ApiError, ApiResult};
use crate::schemas::Problem;
use crate::state::Shared;

/// The header naming the client id quotas are charged to.
pub const CLIENT_ID_HEADER: &str = "x-client-id";

/// The request's client id (`X-Client-Id`), empty without one.
pub fn client_id(headers: &HeaderMap) -> String {
    headers
        .get(CLIENT_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// 429 while the caller's group is over its `key` quota.
pub fn check(state: &Shared, caller: &Session, client_id: &str, key: QuotaKey) -> ApiResult<()> {
    let quotas = &state.config.security.quotas;
    let delay = quotas.delay(key, &caller.principal, client_id);
    if delay.is_zero() {
        Ok(())
    } else {
        Err(over_quota(key.as_str(), delay))
    }
}

/// Charges `bytes` produced.
pub fn charge_produce(state: &Shared, caller: &Session, client_id: &str, bytes: usize) {
    let quotas = &state.config.security.quotas;
    quotas.record_produce(&caller.principal, client_id, bytes as u64);
}

/// Charges `bytes` read.
pub fn charge_consume(state: &Shared, caller: &Session, client_id: &str, bytes: usize) {
    let quotas = &state.config.security.quotas;
    quotas.record_consumed(&caller.principal, client_id, bytes as u64);
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaEntry {
    /// `{"user": …, "client-id": …}`; `null` is the default entity of that type.
    #[schema(value_type = Object)]
    pub entity: serde_json::Value,
    /// Quota key to value, e.g. `{"producer_byte_rate": 1048576}`.
    pub values: BTreeMap<String, f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuotaList {
    pub quotas: Vec<QuotaEntry>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaChange {
    #[schema(value_type = Object)]
    pub entity: serde_json::Map<String, serde_json::Value>,
    /// Keys to set: `producer_byte_rate`, `consumer_byte_rate`, `request_percentage`.
    #[serde(default)]
    pub set: BTreeMap<String, f64>,
    /// Keys to remove.
    #[serde(default)]
    pub remove: Vec<String>,
    /// Check only; change nothing.
    #[serde(default)]
    pub validate_only: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotaDelete {
    #[schema(value_type = Object)]
    pub entity: serde_json::Map<String, serde_json::Value>,
}

/// List every client quota.
#[utoipa::path(get, path = "/v1/quotas", tag = "admin",
    responses((status = 200, body = QuotaList),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<Shared>,
    Caller(caller): Caller,
) -> ApiResult<Json<QuotaList>> {
    authorize(&state, &caller, Operation::DescribeConfigs)?;
    let all = state
        .config
        .security
        .quotas
        .describe(&QuotaFilter::default())
        .map_err(quota_error)?;
    let quotas = all.iter().map(|(e, v)| entry(e, v)).collect();
    Ok(Json(QuotaList { quotas }))
}

/// Set or remove quota keys of one entity (AlterClientQuotas' semantics).
#[utoipa::path(post, path = "/v1/quotas", tag = "admin", request_body = QuotaChange,
    responses((status = 200, description = "The entity's quotas after the change", body = QuotaEntry),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 415, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn set(
    State(state): State<Shared>,
    Caller(caller): Caller,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<Json<QuotaEntry>> {
    require_json(&headers)?;
    let change: QuotaChange = parse_json(&body)?;
    authorize(&state, &caller, Operation::AlterConfigs)?;
    let entity = parse_entity(&change.entity)?;
    let mut ops: Vec<(String, Option<f64>)> =
        change.set.into_iter().map(|(k, v)| (k, Some(v))).collect();
    ops.extend(change.remove.into_iter().map(|k| (k, None)));
    let described = ops
        .iter()
        .map(|(k, v)| match v {
            Some(v) => format!("{k}={v}"),
            None => format!("{k}=(removed)"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let alteration = QuotaAlteration {
        entity: entity.clone(),
        ops,
    };
    alter(&state, alteration, change.validate_only).await?;
    if !change.validate_only {
        tracing::info!(principal = %caller.principal, peer = %caller.peer, listener = %caller.listener, entity = %entity, quotas = %described, "client quota altered");
    }
    let values = current(&state, &entity)?;
    Ok(Json(entry(&entity, &values)))
}

/// Remove every quota of one entity.
#[utoipa::path(delete, path = "/v1/quotas", tag = "admin", request_body = QuotaDelete,
    responses((status = 204, description = "Removed (or there was none)"),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(state): State<Shared>,
    Caller(caller): Caller,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<StatusCode> {
    require_json(&headers)?;
    let request: QuotaDelete = parse_json(&body)?;
    authorize(&state, &caller, Operation::AlterConfigs)?;
    let entity = parse_entity(&request.entity)?;
    let ops = QuotaKey::ALL
        .iter()
        .map(|k| (k.as_str().to_string(), None))
        .collect();
    let shown = entity.to_string();
    alter(&state, QuotaAlteration { entity, ops }, false).await?;
    tracing::info!(principal = %caller.principal, peer = %caller.peer, listener = %caller.listener, entity = %shown, "client quotas removed");
    Ok(StatusCode::NO_CONTENT)
}

fn authorize(state: &Shared, caller: &Session, op: Operation) -> ApiResult<()> {
    let authorizer = &state.config.security.authorizer;
    if authorizer.authorize(caller, op, ResourceType::Cluster, CLUSTER_NAME) {
        Ok(())
    } else {
        Err(quota_forbidden(&op.to_string()))
    }
}

async fn alter(state: &Shared, alteration: QuotaAlteration, validate_only: bool) -> ApiResult<()> {
    let security = std::sync::Arc::clone(&state.config.security);
    let result = tokio::task::spawn_blocking(move || {
        security
            .quotas
            .alter(&[alteration], validate_only)
            .pop()
            .unwrap_or(Ok(()))
    })
    .await
    .map_err(|e| ApiError::internal(format!("quota task failed: {e}")))?;
    result.map_err(quota_error)
}

/// The values now set on exactly `entity`.
fn current(state: &Shared, entity: &QuotaEntity) -> ApiResult<QuotaValues> {
    let quotas = &state.config.security.quotas;
    let all = quotas
        .describe(&QuotaFilter::default())
        .map_err(quota_error)?;
    Ok(all
        .into_iter()
        .find(|(e, _)| e == entity)
        .map(|(_, v)| v)
        .unwrap_or_default())
}

/// `{"user": "alice", "client-id": null}` → entity. Errors: 422 for a value that is not a
/// string or null, or what `QuotaEntity::from_parts` refuses.
fn parse_entity(map: &serde_json::Map<String, serde_json::Value>) -> ApiResult<QuotaEntity> {
    let mut parts = Vec::with_capacity(map.len());
    for (kind, name) in map {
        let name = match name {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) => Some(s.as_str()),
            other => {
                return Err(quota_error(AuthError::Invalid(format!(
                    "entity '{kind}' must be a name or null (the default), not {other}"
                ))))
            }
        };
        parts.push((kind.as_str(), name));
    }
    QuotaEntity::from_parts(parts).map_err(quota_error)
}

fn entry(entity: &QuotaEntity, values: &QuotaValues) -> QuotaEntry {
    let entity = entity
        .parts()
        .into_iter()
        .map(|(k, n)| {
            (
                k.to_string(),
                n.map_or(serde_json::Value::Null, |n| n.into()),
            )
        })
        .collect::<serde_json::Map<_, _>>();
    QuotaEntry {
        entity: serde_json::Value::Object(entity),
        values: values
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), *v))
            .collect(),
    }
}
