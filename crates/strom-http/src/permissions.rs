//! `GET /v1/authorized-operations`: which operations the caller itself may do on one
//! resource, asked of the one `Authorizer` (Kafka's `include_authorized_operations` answer
//! in Metadata and DescribeCluster, over HTTP). The console uses it to hide the controls a
//! principal may not use; hiding is a courtesy, the route rules and handlers still check
//! every action. The answer is about the caller only and names no ACL. Silent checks
//! (no audit line: nothing was attempted). With `console_read_only`, a cookie session is
//! told it may do no mutation (the middleware refuses them, `docs/console.md`).

use axum::extract::{Extension, Query, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use strom_auth::{Operation, ResourceType, CLUSTER_NAME};
use utoipa::{IntoParams, ToSchema};

use crate::auth::credentials::Via;
use crate::auth::middleware::Authenticated;
use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::schemas::Problem;
use crate::state::Shared;

/// The resource asked about.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ResourceQuery {
    /// TOPIC, GROUP, CLUSTER or TRANSACTIONAL_ID.
    pub resource_type: String,
    /// The resource's name (`kafka-cluster`, or absent, for CLUSTER).
    pub resource_name: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorizedOperations {
    pub resource_type: String,
    pub resource_name: String,
    /// Kafka's operation names (`READ`, `ALTER_CONFIGS`, ...) the caller may do there.
    pub operations: Vec<String>,
    /// The session may not change anything (`console_read_only` and a cookie session).
    pub read_only: bool,
}

/// The operations Kafka reports as authorized for each resource type.
fn applicable(resource_type: ResourceType) -> Option<&'static [Operation]> {
    use Operation::*;
    match resource_type {
        ResourceType::Topic => Some(&[
            Read,
            Write,
            Create,
            Delete,
            Alter,
            Describe,
            DescribeConfigs,
            AlterConfigs,
        ]),
        // Kafka's three, and Alter, which Strom's webhook subscriptions use.
        ResourceType::Group => Some(&[Read, Describe, Delete, Alter]),
        ResourceType::Cluster => Some(&[
            Create,
            ClusterAction,
            Describe,
            Alter,
            DescribeConfigs,
            AlterConfigs,
            IdempotentWrite,
        ]),
        ResourceType::TransactionalId => Some(&[Describe, Write]),
        _ => None,
    }
}

/// Whether this session is held to `console_read_only`.
pub fn read_only(state: &Shared, via: Option<&Via>) -> bool {
    state.config.auth.console_read_only && matches!(via, Some(Via::Cookie(_)))
}

/// What the caller may do on one resource.
#[utoipa::path(get, path = "/v1/authorized-operations", tag = "auth", params(ResourceQuery),
    responses((status = 200, body = AuthorizedOperations),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn authorized_operations(
    State(state): State<Shared>,
    Caller(session): Caller,
    via: Option<Extension<Authenticated>>,
    Query(query): Query<ResourceQuery>,
) -> ApiResult<Json<AuthorizedOperations>> {
    let resource_type =
        ResourceType::parse(&query.resource_type).and_then(|t| applicable(t).map(|ops| (t, ops)));
    let Some((resource_type, ops)) = resource_type else {
        return Err(ApiError::unprocessable(
            "resource_type: expected TOPIC, GROUP, CLUSTER or TRANSACTIONAL_ID",
        ));
    };
    let name = match (resource_type, query.resource_name) {
        (ResourceType::Cluster, _) => CLUSTER_NAME.to_string(),
        (_, Some(name)) if !name.is_empty() => name,
        _ => return Err(ApiError::unprocessable("resource_name is required")),
    };
    let via = via.and_then(|Extension(Authenticated(v))| v);
    let read_only = read_only(&state, via.as_ref());
    let authorizer = &state.config.security.authorizer;
    let operations = ops
        .iter()
        .filter(|op| !read_only || matches!(op, Operation::Describe | Operation::Read))
        .filter(|op| authorizer.allowed(&session, **op, resource_type, &name))
        .map(|op| op.as_str().to_string())
        .collect();
    Ok(Json(AuthorizedOperations {
        resource_type: resource_type.as_str().to_string(),
        resource_name: name,
        operations,
        read_only,
    }))
}
