//! The ACL admin API, `/v1/acls`: list ACLs matching a filter, create ACLs, delete the ACLs
//! matching a filter. Same model and store as Kafka's DescribeAcls / CreateAcls / DeleteAcls
//! (one authorizer); listing needs Describe on the cluster, changes need Alter on it (403
//! otherwise). Names are Kafka's (`TOPIC`, `PREFIXED`, `READ`, `ALLOW`, any case). Works with
//! the authorizer off too, so ACLs can be prepared before authorization is switched on.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use strom_auth::{
    AclBinding, AclFilter, Operation, PatternType, Permission, ResourceType, CLUSTER_NAME,
};
use utoipa::ToSchema;

use crate::body::{parse_json, require_json, RawBody};
use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::schemas::Problem;
use crate::state::Shared;

/// One ACL: principal P is allowed/denied operation O from host H on resources matching
/// the pattern.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Acl {
    /// TOPIC, GROUP, CLUSTER, TRANSACTIONAL_ID, DELEGATION_TOKEN or USER.
    pub resource_type: String,
    /// The name, `*` for all, or a prefix with PREFIXED; `kafka-cluster` for CLUSTER.
    pub resource_name: String,
    /// LITERAL (default) or PREFIXED.
    #[serde(default = "literal")]
    pub pattern_type: String,
    /// `User:alice`, or `User:*` for every user.
    pub principal: String,
    /// An IP address, or `*` (default).
    #[serde(default = "any_host")]
    pub host: String,
    /// ALL, READ, WRITE, CREATE, DELETE, ALTER, DESCRIBE, CLUSTER_ACTION, DESCRIBE_CONFIGS,
    /// ALTER_CONFIGS, IDEMPOTENT_WRITE, …
    pub operation: String,
    /// ALLOW or DENY.
    pub permission: String,
}

fn literal() -> String {
    "LITERAL".into()
}

fn any_host() -> String {
    "*".into()
}

/// `POST /v1/acls` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAcls {
    pub acls: Vec<Acl>,
}

/// A list of ACLs (listing, or what a delete removed).
#[derive(Debug, Serialize, ToSchema)]
pub struct AclList {
    pub acls: Vec<Acl>,
}

/// A filter; every absent field matches everything. `pattern_type=MATCH` with a name finds
/// the ACLs that apply to that resource (literal, `*` and prefixes).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FilterParams {
    pub resource_type: Option<String>,
    pub resource_name: Option<String>,
    /// ANY, MATCH, LITERAL or PREFIXED.
    pub pattern_type: Option<String>,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: Option<String>,
    pub permission: Option<String>,
}

fn parse<T>(field: &str, value: &str, from: fn(&str) -> Option<T>) -> ApiResult<T> {
    from(value).ok_or_else(|| {
        ApiError::unprocessable(format!("{field}: '{value}' is not a Kafka {field} name"))
    })
}

fn parse_opt<T>(
    field: &str,
    value: &Option<String>,
    from: fn(&str) -> Option<T>,
) -> ApiResult<Option<T>> {
    value.as_deref().map(|v| parse(field, v, from)).transpose()
}

impl FilterParams {
    fn to_filter(&self) -> ApiResult<AclFilter> {
        Ok(AclFilter {
            resource_type: parse_opt("resource_type", &self.resource_type, ResourceType::parse)?,
            resource_name: self.resource_name.clone(),
            pattern_type: parse_opt("pattern_type", &self.pattern_type, PatternType::parse)?,
            principal: self.principal.clone(),
            host: self.host.clone(),
            operation: parse_opt("operation", &self.operation, Operation::parse)?,
            permission: parse_opt("permission", &self.permission, Permission::parse)?,
        })
    }
}

impl Acl {
    fn to_binding(&self) -> ApiResult<AclBinding> {
        let binding = AclBinding {
            resource_type: parse("resource_type", &self.resource_type, ResourceType::parse)?,
            resource_name: self.resource_name.clone(),
            pattern_type: parse("pattern_type", &self.pattern_type, PatternType::parse)?,
            principal: self.principal.clone(),
            host: self.host.clone(),
            operation: parse("operation", &self.operation, Operation::parse)?,
            permission: parse("permission", &self.permission, Permission::parse)?,
        };
        binding.validate().map_err(ApiError::unprocessable)?;
        Ok(binding)
    }

    fn from_binding(b: &AclBinding) -> Acl {
        Acl {
            resource_type: b.resource_type.as_str().into(),
            resource_name: b.resource_name.clone(),
            pattern_type: b.pattern_type.as_str().into(),
            principal: b.principal.clone(),
            host: b.host.clone(),
            operation: b.operation.as_str().into(),
            permission: b.permission.as_str().into(),
        }
    }
}

/// 403 unless the caller may do `operation` on the cluster.
fn authorize(state: &Shared, caller: &Caller, operation: Operation) -> ApiResult<()> {
    let allowed = state.config.security.authorizer.authorize(
        &caller.0,
        operation,
        ResourceType::Cluster,
        CLUSTER_NAME,
    );
    if allowed {
        Ok(())
    } else {
        Err(ApiError::acl_denied(operation.as_str(), "the cluster"))
    }
}

/// List the ACLs matching a filter.
#[utoipa::path(get, path = "/v1/acls", tag = "admin", params(FilterParams),
    responses((status = 200, body = AclList),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<Shared>,
    caller: Caller,
    Query(params): Query<FilterParams>,
) -> ApiResult<Json<AclList>> {
    authorize(&state, &caller, Operation::Describe)?;
    let filter = params.to_filter()?;
    let acls = state.config.security.authorizer.describe_acls(&filter);
    Ok(Json(AclList {
        acls: acls.iter().map(Acl::from_binding).collect(),
    }))
}

/// Create ACLs: all or none (an invalid one refuses the request with its index).
#[utoipa::path(post, path = "/v1/acls", tag = "admin", request_body = CreateAcls,
    responses((status = 201, body = AclList),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create(
    State(state): State<Shared>,
    caller: Caller,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<(StatusCode, Json<AclList>)> {
    authorize(&state, &caller, Operation::Alter)?;
    require_json(&headers)?;
    let request: CreateAcls = parse_json(&body)?;
    let mut bindings = Vec::new();
    for (i, acl) in request.acls.iter().enumerate() {
        let binding = acl
            .to_binding()
            .map_err(|e| ApiError::unprocessable(format!("acls[{i}]: {}", e.detail)))?;
        bindings.push(binding);
    }
    let shared = state.clone();
    let stored = bindings.clone();
    let results =
        tokio::task::spawn_blocking(move || shared.config.security.authorizer.create_acls(&stored))
            .await
            .map_err(|e| ApiError::internal(format!("ACL task failed: {e}")))?;
    if let Some(Err(err)) = results.into_iter().find(Result::is_err) {
        return Err(ApiError::from_auth(&err));
    }
    for b in &bindings {
        tracing::info!(principal = %caller.0.principal, peer = %caller.0.peer, listener = %caller.0.listener, acl = %b, "ACL created");
    }
    let acls = bindings.iter().map(Acl::from_binding).collect();
    Ok((StatusCode::CREATED, Json(AclList { acls })))
}

/// Delete every ACL matching a filter; answers the ACLs removed.
#[utoipa::path(delete, path = "/v1/acls", tag = "admin", params(FilterParams),
    responses((status = 200, body = AclList),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(state): State<Shared>,
    caller: Caller,
    Query(params): Query<FilterParams>,
) -> ApiResult<Json<AclList>> {
    authorize(&state, &caller, Operation::Alter)?;
    let filter = params.to_filter()?;
    let shared = state.clone();
    let removed = tokio::task::spawn_blocking(move || {
        shared.config.security.authorizer.delete_acls(&[filter])
    })
    .await
    .map_err(|e| ApiError::internal(format!("ACL task failed: {e}")))?
    .map_err(|e| ApiError::from_auth(&e))?;
    let removed: Vec<AclBinding> = removed.into_iter().flatten().collect();
    for b in &removed {
        tracing::info!(principal = %caller.0.principal, peer = %caller.0.peer, listener = %caller.0.listener, acl = %b, "ACL deleted");
    }
    Ok(Json(AclList {
        acls: removed.iter().map(Acl::from_binding).collect(),
    }))
}
