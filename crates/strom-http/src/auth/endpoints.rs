//! Authentication endpoints: `POST /v1/login` and `/v1/logout` (session cookie),
//! `GET /v1/whoami`, `/v1/api-keys` (create: the key is shown once; list: never secrets;
//! delete), and `POST /v1/stream-tokens` (short-lived tokens for EventSource/WebSocket).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::{json, Value};
use strom_auth::{ApiKeyInfo, Operation, Principal, ResourceType, Session, CLUSTER_NAME};
use utoipa::{IntoParams, ToSchema};

use super::credentials::Via;
use super::middleware::{now_ms, Authenticated};
use super::sessions::{clear_cookie, cookie_value};
use super::stream_token::StreamGrant;
use super::AuthMode;
use crate::authz;
use crate::body::{parse_json, RawBody};
use crate::caller::Caller;
use crate::error::{ApiError, ApiResult};
use crate::schemas::Problem;
use crate::state::Shared;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub username: String,
    pub password: String,
}

/// Log in with a user name and password: sets the `strom_session` cookie (HttpOnly,
/// SameSite=Strict) and returns the CSRF token writes must send in `X-CSRF-Token`.
#[utoipa::path(post, path = "/v1/login", tag = "auth", request_body = Login,
    responses((status = 200, body = Object),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "Cookie login needs TLS or a loopback listener", body = Problem, content_type = "application/problem+json")))]
pub async fn login(
    State(state): State<Shared>,
    Caller(session): Caller,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    let config = &state.config.auth;
    if config.mode == AuthMode::None || !config.methods.cookie {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "login-disabled",
            "cookie login is not enabled on this server",
        ));
    }
    if !config.tls && !config.loopback {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "login-needs-tls",
            "cookie login needs a TLS listener (or a loopback one)",
        ));
    }
    let request: Login = parse_json(&body)?;
    let ip = session.peer.ip();
    if state.auth.failures.blocked_for(ip).is_some() {
        return Err(ApiError::too_many_auth_failures());
    }
    let security = Arc::clone(&state.config.security);
    let user = request.username.clone();
    let ok = tokio::task::spawn_blocking(move || {
        security
            .users
            .verify_password(&request.username, &request.password)
    })
    .await
    .unwrap_or(false);
    if !ok {
        tracing::info!(target: "strom::audit", client = %ip, listener = "http", method = "login",
            user = %user, "authentication failed");
        if state.auth.failures.failed(ip).is_some() {
            return Err(ApiError::too_many_auth_failures());
        }
        return Err(ApiError::unauthorized("invalid user name or password"));
    }
    let (id, login) = state.auth.sessions.create(Principal::user(user));
    let cookie = state.auth.sessions.set_cookie(&id, config.tls);
    let body = json!({
        "principal": login.principal.to_string(),
        "csrf_token": login.csrf,
        "expires_in_ms": state.auth.sessions.ttl().as_millis() as u64,
    });
    let mut response = Json(body).into_response();
    set_cookie(response.headers_mut(), &cookie);
    Ok(response)
}

fn set_cookie(headers: &mut HeaderMap, cookie: &str) {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        headers.insert(header::SET_COOKIE, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// End the login session of the `strom_session` cookie.
#[utoipa::path(post, path = "/v1/logout", tag = "auth", responses((status = 204)))]
pub async fn logout(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(id) = cookie_value(&headers) {
        state.auth.sessions.remove(&id);
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    set_cookie(response.headers_mut(), &clear_cookie(state.config.auth.tls));
    response
}

/// The caller's principal and how it authenticated (with the CSRF token of a cookie session).
#[utoipa::path(get, path = "/v1/whoami", tag = "auth", responses((status = 200, body = Object)))]
pub async fn whoami(
    State(state): State<Shared>,
    Caller(session): Caller,
    via: Option<Extension<Authenticated>>,
) -> Json<Value> {
    let via = via.and_then(|Extension(Authenticated(v))| v);
    let read_only = crate::permissions::read_only(&state, via.as_ref());
    let csrf = match &via {
        Some(Via::Cookie(login)) => Some(login.csrf.clone()),
        _ => None,
    };
    Json(json!({
        "principal": session.principal.to_string(),
        "authenticated_by": via.as_ref().map(Via::name),
        "csrf_token": csrf,
        "read_only": read_only,
        "authorization": state.config.security.authorizer.enabled(),
        // Whether `[console] export` allows downloads (the console hides its export links).
        "export": state.config.console.export,
    }))
}

fn require_authenticated(session: &Session) -> ApiResult<()> {
    if session.principal.is_anonymous() {
        return Err(ApiError::unauthorized("this needs an authenticated caller"));
    }
    Ok(())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewApiKey {
    /// A label for the key.
    #[serde(default)]
    pub name: String,
    /// Whose key it is (`User:bob`); default the caller. Another principal's key needs
    /// Alter on the cluster.
    #[serde(default)]
    pub principal: Option<String>,
}

fn key_json(info: &ApiKeyInfo) -> Value {
    json!({"id": info.id, "principal": info.principal, "name": info.name, "created_ms": info.created_ms})
}

/// Create an API key. The key is in this response only; the server keeps its digest.
#[utoipa::path(post, path = "/v1/api-keys", tag = "auth", request_body = NewApiKey,
    responses((status = 201, body = Object),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn create_api_key(
    State(state): State<Shared>,
    Caller(session): Caller,
    RawBody(body): RawBody,
) -> ApiResult<(StatusCode, Json<Value>)> {
    require_authenticated(&session)?;
    let request: NewApiKey = parse_json(&body)?;
    let owner = match request.principal.as_deref() {
        None => session.principal.clone(),
        Some(p) => Principal::parse(p)
            .ok_or_else(|| ApiError::unprocessable("principal must look like User:name"))?,
    };
    if owner != session.principal {
        authz::check(
            &state,
            &session,
            Operation::Alter,
            ResourceType::Cluster,
            CLUSTER_NAME,
        )?;
    }
    let security = Arc::clone(&state.config.security);
    let (info, key) =
        tokio::task::spawn_blocking(move || security.api_keys.create(&owner, &request.name))
            .await
            .map_err(|e| ApiError::internal(format!("API key task failed: {e}")))??;
    tracing::info!(target: "strom::audit", principal = %session.principal, id = %info.id,
        owner = %info.principal, "API key created");
    let mut out = key_json(&info);
    out["key"] = Value::String(key);
    Ok((StatusCode::CREATED, Json(out)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListKeys {
    /// Every principal's keys (needs Describe on the cluster).
    pub all: Option<bool>,
}

/// List API keys (never the keys themselves): the caller's, or all with `all=true`.
#[utoipa::path(get, path = "/v1/api-keys", tag = "auth", params(ListKeys),
    responses((status = 200, body = Object)))]
pub async fn list_api_keys(
    State(state): State<Shared>,
    Caller(session): Caller,
    Query(params): Query<ListKeys>,
) -> ApiResult<Json<Value>> {
    require_authenticated(&session)?;
    let keys = if params.all.unwrap_or(false) {
        authz::check(
            &state,
            &session,
            Operation::Describe,
            ResourceType::Cluster,
            CLUSTER_NAME,
        )?;
        state.config.security.api_keys.list(None)
    } else {
        state
            .config
            .security
            .api_keys
            .list(Some(&session.principal))
    };
    Ok(Json(Value::Array(keys.iter().map(key_json).collect())))
}

/// Delete an API key: the caller's own, or any with Alter on the cluster.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "auth", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn delete_api_key(
    State(state): State<Shared>,
    Caller(session): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    require_authenticated(&session)?;
    let keys = &state.config.security.api_keys;
    let info = keys.get(&id).ok_or_else(|| {
        ApiError::not_found("unknown-api-key", format!("no API key with id '{id}'"))
    })?;
    if info.principal != session.principal.to_string() {
        authz::check(
            &state,
            &session,
            Operation::Alter,
            ResourceType::Cluster,
            CLUSTER_NAME,
        )?;
    }
    let security = Arc::clone(&state.config.security);
    tokio::task::spawn_blocking(move || security.api_keys.delete(&id))
        .await
        .map_err(|e| ApiError::internal(format!("API key task failed: {e}")))??;
    tracing::info!(target: "strom::audit", principal = %session.principal, id = %info.id, "API key deleted");
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct NewStreamToken {
    /// Limit the token to this topic (checked for Read now).
    #[serde(default)]
    pub topic: Option<String>,
    /// Lifetime, at most the server's `http_stream_token_ttl_ms`.
    #[serde(default)]
    pub ttl_ms: Option<u64>,
}

/// A short-lived token for `?access_token=` on feeds, SSE and WebSocket.
#[utoipa::path(post, path = "/v1/stream-tokens", tag = "auth", request_body = NewStreamToken,
    responses((status = 201, body = Object),
              (status = 401, body = Problem, content_type = "application/problem+json"),
              (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn stream_token(
    State(state): State<Shared>,
    Caller(session): Caller,
    RawBody(body): RawBody,
) -> ApiResult<(StatusCode, Json<Value>)> {
    require_authenticated(&session)?;
    let request: NewStreamToken = if body.is_empty() {
        NewStreamToken::default()
    } else {
        parse_json(&body)?
    };
    if let Some(topic) = &request.topic {
        authz::check(
            &state,
            &session,
            Operation::Read,
            ResourceType::Topic,
            topic,
        )?;
    }
    let max = state.config.auth.stream_token_ttl;
    let ttl = request.ttl_ms.map_or(max, Duration::from_millis).min(max);
    let grant = StreamGrant {
        principal: session.principal.clone(),
        expires_ms: now_ms().saturating_add(ttl.as_millis() as i64),
        topic: request.topic,
    };
    let token = state.auth.stream_tokens.sign(&grant);
    Ok((
        StatusCode::CREATED,
        Json(json!({"token": token, "expires_at_ms": grant.expires_ms, "topic": grant.topic})),
    ))
}
