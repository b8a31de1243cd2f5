//! [`guard`]: the route middleware that authenticates a request, checks CSRF for cookie
//! writes, applies the route's rule from [`crate::authz`], and marks responses to
//! authenticated callers `Cache-Control: private`. Runs after routing (a route layer), so it
//! knows the route template and its path parameters.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{MatchedPath, RawPathParams, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use strom_auth::Session;
use tracing::Instrument;

use super::credentials::{self, Failure, Via};
use super::AuthMode;
use crate::authz::{self, Access, Rule};
use crate::caller::{ConnInfo, HTTP_LISTENER};
use crate::error::ApiError;
use crate::state::Shared;

/// How the request's session was established, for handlers (stream-token scope, whoami).
#[derive(Debug, Clone)]
pub struct Authenticated(pub Option<Via>);

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

type Matched = Result<MatchedPath, axum::extract::rejection::MatchedPathRejection>;
type Params = Result<RawPathParams, axum::extract::rejection::RawPathParamsRejection>;

/// Runs [`guarded`] in a span naming the route, so audit lines written for this request
/// (a denial here or in the handler) say which route it was.
pub async fn guard(
    State(state): State<Shared>,
    matched: Matched,
    params: Params,
    request: Request,
    next: Next,
) -> Response {
    let template = matched.as_ref().map_or("", |m| m.as_str());
    let span =
        tracing::info_span!("http", route = %format_args!("{} {template}", request.method()));
    guarded(state, matched, params, request, next)
        .instrument(span)
        .await
}

async fn guarded(
    state: Shared,
    matched: Matched,
    params: Params,
    mut request: Request,
    next: Next,
) -> Response {
    let template = matched.as_ref().map_or("", |m| m.as_str());
    let rule = authz::find(request.method(), template);
    let params: Vec<(String, String)> = params
        .as_ref()
        .into_iter()
        .flat_map(|p| p.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .collect();
    let rest = template.starts_with("/topics") || template.starts_with("/consumers");
    let shape = |e: ApiError| if rest { e.rest() } else { e };
    let access_token = take_access_token(&mut request, rule.stream_token);
    let quiet = quiet_challenge(request.headers());
    let conn = request.extensions().get::<ConnInfo>().cloned();
    let peer = conn
        .as_ref()
        .map_or_else(|| (Ipv4Addr::LOCALHOST, 0).into(), |c| c.peer);
    let mut session = Session::anonymous(peer, HTTP_LISTENER.into());
    let config = &state.config.auth;
    let open = rule.access == Access::Open
        || (rule.access == Access::Metrics && !config.metrics_require_auth);
    let mut via = None;
    if config.mode != AuthMode::None && !open {
        let found = authenticate(&state, request.headers(), access_token, conn.as_ref()).await;
        match refusal(&state, found, peer.ip()) {
            Ok(Some((principal, how))) => {
                session.principal = principal;
                via = Some(how);
            }
            Ok(None) => {}
            Err(r) => {
                return challenge(&state, shape(r.err), r.bearer_rejected, r.retry_secs, quiet)
            }
        }
    }
    if via.is_none() && rule.access == Access::Metrics && config.metrics_require_auth {
        let err = shape(ApiError::unauthorized("authentication required"));
        return challenge(&state, err, None, None, quiet);
    }
    if let Some(Via::Cookie(login)) = &via {
        if let Err(e) = csrf(&state, request.method(), request.headers(), login) {
            return shape(e).into_response();
        }
        if let Err(e) = read_only(&state, request.method()) {
            return shape(e).into_response();
        }
    }
    if let Err(e) = authorize(&state, &rule, &params, &session, via.as_ref()) {
        return shape(e).into_response();
    }
    let authenticated = via.is_some();
    let data_path = crate::quotas_meter::data_path(request.method(), template);
    request.extensions_mut().insert(session.clone());
    request.extensions_mut().insert(Authenticated(via));
    let metered = crate::quotas_meter::run(&state, &session, open, rest, data_path, request, next);
    let mut response = metered.await;
    if authenticated {
        make_private(response.headers_mut());
    }
    response
}

enum AuthRefusal {
    Limited,
    Failed(Failure),
}

/// A refused request: 401 or 429, whether a bearer token was refused, the wait.
struct Refusal {
    err: ApiError,
    bearer_rejected: Option<bool>,
    retry_secs: Option<u64>,
}

/// The refusal to answer: 401 (no credentials when required, or bad ones) or 429.
fn refusal(
    state: &Shared,
    found: Result<Option<(strom_auth::Principal, Via)>, AuthRefusal>,
    ip: IpAddr,
) -> Result<Option<(strom_auth::Principal, Via)>, Refusal> {
    let refuse = |err, bearer_rejected, retry_secs| {
        Err(Refusal {
            err,
            bearer_rejected,
            retry_secs,
        })
    };
    match found {
        Ok(None) if state.config.auth.mode == AuthMode::Required => refuse(
            ApiError::unauthorized("authentication required"),
            None,
            None,
        ),
        Ok(found) => Ok(found),
        Err(AuthRefusal::Limited) => {
            let wait = state.auth.failures.blocked_for(ip).unwrap_or_default();
            refuse(
                ApiError::too_many_auth_failures(),
                None,
                Some(wait.as_secs() + 1),
            )
        }
        Err(AuthRefusal::Failed(f)) => {
            let bearer = f.method == "bearer" || f.method == "api_key";
            refuse(ApiError::unauthorized(f.reason), Some(bearer), None)
        }
    }
}

async fn authenticate(
    state: &Shared,
    headers: &HeaderMap,
    access_token: Option<String>,
    conn: Option<&ConnInfo>,
) -> Result<Option<(strom_auth::Principal, Via)>, AuthRefusal> {
    let methods = &state.config.auth.methods;
    let ip = conn.map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |c| c.peer.ip());
    let presented = match credentials::presented(headers, access_token, methods) {
        Ok(Some(p)) => p,
        Ok(None) => {
            return Ok(credentials::mtls_principal(conn, methods).map(|p| (p, Via::Mtls)));
        }
        Err(f) => return Err(refuse(state, ip, f)),
    };
    if state.auth.failures.blocked_for(ip).is_some() {
        return Err(AuthRefusal::Limited);
    }
    let security = &state.config.security;
    match credentials::verify(security, &state.auth, presented, now_ms()).await {
        Ok(ok) => Ok(Some(ok)),
        Err(f) => Err(refuse(state, ip, f)),
    }
}

/// Audits a failure and counts it against the address.
fn refuse(state: &Shared, ip: IpAddr, f: Failure) -> AuthRefusal {
    tracing::info!(
        target: "strom::audit",
        client = %ip,
        listener = HTTP_LISTENER,
        method = f.method,
        user = f.user.as_deref().unwrap_or(""),
        reason = %f.reason,
        "authentication failed"
    );
    match state.auth.failures.failed(ip) {
        Some(_) => AuthRefusal::Limited,
        None => AuthRefusal::Failed(f),
    }
}

/// Whether a 401 should leave out `WWW-Authenticate`: script requests that say so with
/// `X-Requested-With: XMLHttpRequest` (the web console), for which a `Basic` challenge would
/// make the browser open its own login dialog (or, headless, wait for one).
fn quiet_challenge(headers: &HeaderMap) -> bool {
    headers
        .get("x-requested-with")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"XMLHttpRequest"))
}

/// A 401 with the challenges of the enabled schemes (or a 429 with `Retry-After`); none
/// when `quiet` ([`quiet_challenge`]).
fn challenge(
    state: &Shared,
    err: ApiError,
    bearer_rejected: Option<bool>,
    retry_secs: Option<u64>,
    quiet: bool,
) -> Response {
    let methods = &state.config.auth.methods;
    let unauthorized = err.status == axum::http::StatusCode::UNAUTHORIZED;
    let mut response = err.into_response();
    let headers = response.headers_mut();
    if let Some(secs) = retry_secs {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if !unauthorized || quiet {
        return response;
    }
    if methods.basic {
        headers.append(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"strom\", charset=\"UTF-8\""),
        );
    }
    if methods.bearer || methods.api_key {
        let value = if bearer_rejected == Some(true) {
            "Bearer realm=\"strom\", error=\"invalid_token\""
        } else {
            "Bearer realm=\"strom\""
        };
        headers.append(header::WWW_AUTHENTICATE, HeaderValue::from_static(value));
    }
    response
}

/// Writes authenticated by the cookie need the CSRF token and a trusted origin.
fn csrf(
    state: &Shared,
    method: &Method,
    headers: &HeaderMap,
    login: &super::sessions::LoginSession,
) -> Result<(), ApiError> {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let origin = headers
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| referer_origin(headers))
        .ok_or_else(|| {
            ApiError::csrf("a write with the session cookie needs an Origin or Referer header")
        })?;
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let scheme = if state.config.auth.tls {
        "https"
    } else {
        "http"
    };
    let same_origin = origin == format!("{scheme}://{host}");
    if !same_origin && !state.config.auth.cors_allowed_origins.contains(&origin) {
        return Err(ApiError::csrf(
            "the request's origin is not allowed to write with the session cookie",
        ));
    }
    let token = headers
        .get(super::sessions::CSRF_HEADER)
        .and_then(|v| v.to_str().ok());
    match token {
        Some(t) if login.csrf_matches(t) => Ok(()),
        _ => Err(ApiError::csrf(
            "a write with the session cookie needs the session's X-CSRF-Token header",
        )),
    }
}

/// `console_read_only`: a cookie session (the console's login) may not change anything.
/// (Login and logout are open routes: no session is resolved for them, so they pass.)
fn read_only(state: &Shared, method: &Method) -> Result<(), ApiError> {
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if safe || !state.config.auth.console_read_only {
        return Ok(());
    }
    Err(ApiError::forbidden_because(
        "the console is read-only on this server (console_read_only)",
    ))
}

fn referer_origin(headers: &HeaderMap) -> Option<String> {
    let referer: Uri = headers.get(header::REFERER)?.to_str().ok()?.parse().ok()?;
    Some(format!(
        "{}://{}",
        referer.scheme_str()?,
        referer.authority()?
    ))
}

/// The route's own check, and the limits of a stream token.
fn authorize(
    state: &Shared,
    rule: &Rule,
    params: &[(String, String)],
    session: &Session,
    via: Option<&Via>,
) -> Result<(), ApiError> {
    let config = &state.config.auth;
    if let Some(Via::StreamToken(grant)) = via {
        let topic = params.iter().find(|(k, _)| k == "topic").map(|(_, v)| v);
        if let (Some(scope), Some(topic)) = (&grant.topic, topic) {
            if scope != topic {
                return Err(ApiError::forbidden(
                    strom_auth::Operation::Read,
                    strom_auth::ResourceType::Topic,
                    topic,
                ));
            }
        }
    }
    match authz::resolve(rule, params, config.metrics_require_auth) {
        Some((op, rt, name)) => authz::check(state, session, op, rt, &name),
        None => Ok(()),
    }
}

/// Removes `access_token` from the query (so no later log or parser sees it) and returns
/// it when the route accepts stream tokens.
fn take_access_token(request: &mut Request, accepted: bool) -> Option<String> {
    let query = request.uri().query()?;
    if !query.split('&').any(|p| p.starts_with("access_token=")) {
        return None;
    }
    let mut token = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| match p.strip_prefix("access_token=") {
            Some(t) => {
                token = Some(t.to_string());
                false
            }
            None => true,
        })
        .collect();
    let path = request.uri().path();
    let rebuilt = if kept.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", kept.join("&"))
    };
    if let Ok(uri) = rebuilt.parse::<Uri>() {
        *request.uri_mut() = uri;
    }
    if accepted {
        token
    } else {
        None
    }
}

/// `public` becomes `private`: a shared cache must not hand one principal's answer to another.
fn make_private(headers: &mut HeaderMap) {
    let Some(value) = headers
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
    else {
        return;
    };
    if value.contains("public") {
        let private = value.replace("public", "private");
        if let Ok(v) = HeaderValue::from_str(&private) {
            headers.insert(header::CACHE_CONTROL, v);
        }
    }
}
