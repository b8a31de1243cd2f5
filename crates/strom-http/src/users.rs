//! `/v1/users`: the SCRAM user store over HTTP (what `strom user` drives). Listing needs
//! Describe on the Cluster, changes need Alter on the Cluster, as KIP-554's Kafka APIs.
//! Answers carry mechanisms and iterations only, never salts, keys or passwords.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use strom_auth::{Operation, ResourceType, ScramMechanism, CLUSTER_NAME, MIN_ITERATIONS};
use utoipa::{IntoParams, ToSchema};

use crate::body::{parse_json, require_json, RawBody};
use crate::caller::Caller;
use crate::error::{user_store_error, ApiError, ApiResult};
use crate::schemas::Problem;
use crate::state::Shared;

#[derive(Debug, Serialize, ToSchema)]
pub struct Credential {
    /// `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    pub mechanism: String,
    pub iterations: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct User {
    pub name: String,
    pub credentials: Vec<Credential>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPassword {
    /// `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    pub mechanism: String,
    pub password: String,
    /// PBKDF2 iterations, 4096 to 16384 [default: 4096].
    #[serde(default)]
    pub iterations: Option<u32>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DeleteQuery {
    /// Only this mechanism's credential [default: every credential of the user].
    pub mechanism: Option<String>,
}

fn authorize(state: &Shared, caller: &Caller, operation: Operation) -> ApiResult<()> {
    let security = &state.config.security;
    if security
        .authorizer
        .authorize(&caller.0, operation, ResourceType::Cluster, CLUSTER_NAME)
    {
        Ok(())
    } else {
        Err(ApiError::forbidden_because(format!(
            "{} on the cluster is not allowed for {}",
            operation, caller.0.principal
        )))
    }
}

fn mechanism(name: &str) -> ApiResult<ScramMechanism> {
    ScramMechanism::from_name(name).ok_or_else(|| {
        ApiError::unprocessable(format!(
            "unknown mechanism '{name}': expected SCRAM-SHA-256 or SCRAM-SHA-512"
        ))
    })
}

/// List users with their credentials' mechanisms and iterations.
#[utoipa::path(get, path = "/v1/users", tag = "security",
    responses((status = 200, body = [User]),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn list(State(state): State<Shared>, caller: Caller) -> ApiResult<Json<Vec<User>>> {
    authorize(&state, &caller, Operation::Describe)?;
    let users = state
        .config
        .security
        .users
        .describe()
        .into_iter()
        .map(|(name, creds)| User {
            name,
            credentials: creds
                .into_iter()
                .map(|(m, iterations)| Credential {
                    mechanism: m.name().to_string(),
                    iterations,
                })
                .collect(),
        })
        .collect();
    Ok(Json(users))
}

/// Set (create or replace) a user's password for one SCRAM mechanism.
#[utoipa::path(put, path = "/v1/users/{user}", tag = "security", params(("user" = String, Path)),
    request_body = SetPassword,
    responses((status = 204, description = "Stored"),
              (status = 400, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 415, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn put(
    State(state): State<Shared>,
    caller: Caller,
    Path(user): Path<String>,
    headers: axum::http::HeaderMap,
    RawBody(body): RawBody,
) -> ApiResult<StatusCode> {
    authorize(&state, &caller, Operation::Alter)?;
    require_json(&headers)?;
    let request: SetPassword = parse_json(&body)?;
    let mechanism = mechanism(&request.mechanism)?;
    if request.password.is_empty() {
        return Err(ApiError::unprocessable("the password must not be empty"));
    }
    let iterations = request.iterations.unwrap_or(MIN_ITERATIONS);
    let security = std::sync::Arc::clone(&state.config.security);
    let name = user.clone();
    tokio::task::spawn_blocking(move || {
        security
            .users
            .set_password(&name, mechanism, &request.password, iterations)
    })
    .await
    .map_err(|_| ApiError::internal("setting the password failed"))?
    .map_err(user_store_error)?;
    tracing::info!(principal = %caller.0.principal, peer = %caller.0.peer, listener = %caller.0.listener, user = %user, mechanism = mechanism.name(),
        "user credential set");
    Ok(StatusCode::NO_CONTENT)
}

/// Delete a user's credentials (all, or one mechanism's).
#[utoipa::path(delete, path = "/v1/users/{user}", tag = "security",
    params(("user" = String, Path), DeleteQuery),
    responses((status = 204, description = "Deleted"),
              (status = 403, body = Problem, content_type = "application/problem+json"),
              (status = 404, body = Problem, content_type = "application/problem+json"),
              (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn delete(
    State(state): State<Shared>,
    caller: Caller,
    Path(user): Path<String>,
    Query(query): Query<DeleteQuery>,
) -> ApiResult<StatusCode> {
    authorize(&state, &caller, Operation::Alter)?;
    let users = &state.config.security.users;
    let mechanisms = match &query.mechanism {
        Some(m) => vec![mechanism(m)?],
        None => {
            let all: Vec<ScramMechanism> = users
                .describe()
                .get(&user)
                .map(|c| c.iter().map(|(m, _)| *m).collect())
                .unwrap_or_default();
            if all.is_empty() {
                return Err(ApiError::not_found(
                    "unknown-user",
                    format!("user '{user}' has no credentials"),
                ));
            }
            all
        }
    };
    let security = std::sync::Arc::clone(&state.config.security);
    let name = user.clone();
    tokio::task::spawn_blocking(move || {
        mechanisms
            .into_iter()
            .try_for_each(|m| security.users.delete(&name, m))
    })
    .await
    .map_err(|_| ApiError::internal("deleting the user failed"))?
    .map_err(user_store_error)?;
    tracing::info!(principal = %caller.0.principal, peer = %caller.0.peer, listener = %caller.0.listener, user = %user, "user credentials deleted");
    Ok(StatusCode::NO_CONTENT)
}
