//! The authentication middleware and the route checks through the real router (tower
//! `oneshot`), with authorization on: `User:admin` is a super user, `alice` may read and
//! write topic `a` only.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use base64::Engine;
use serde_json::Value;
use strom_auth::{AclBinding, AuthorizerConfig, PatternType, Permission, Principal, Security};
use tower::ServiceExt;

use super::{AuthMode, HttpAuthConfig};

struct Fixture {
    router: Router,
    _dir: tempfile::TempDir,
    _shutdown: tokio::sync::watch::Sender<bool>,
}

fn fixture(auth: HttpAuthConfig) -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = crate::feed_cache::tests::broker(dir.path());
    for t in ["a", "b"] {
        broker
            .create_topic(t, 1, &Default::default())
            .expect("topic");
    }
    let security = Security::open(
        Arc::clone(&broker),
        strom_auth::SecurityConfig {
            authorizer: AuthorizerConfig {
                enabled: true,
                super_users: vec![Principal::user("admin")],
                allow_everyone_if_no_acl_found: false,
            },
            ..strom_auth::SecurityConfig::default()
        },
    )
    .expect("security");
    for (user, pw) in [("admin", "adminpw"), ("alice", "alicepw")] {
        security
            .users
            .set_password(user, strom_auth::ScramMechanism::Sha256, pw, 4096)
            .expect("user");
    }
    let acls: Vec<AclBinding> = [strom_auth::Operation::Read, strom_auth::Operation::Write]
        .into_iter()
        .map(|operation| AclBinding {
            resource_type: strom_auth::ResourceType::Topic,
            resource_name: "a".into(),
            pattern_type: PatternType::Literal,
            principal: "User:alice".into(),
            host: "*".into(),
            operation,
            permission: Permission::Allow,
        })
        .collect();
    assert!(security
        .authorizer
        .create_acls(&acls)
        .iter()
        .all(Result::is_ok));
    let config = crate::HttpConfig {
        security,
        auth,
        ..Default::default()
    };
    let (tx, rx) = tokio::sync::watch::channel(false);
    let state = crate::state::AppState::new(broker, config, rx, None);
    let (router, _) = crate::routes::build(state);
    Fixture {
        router,
        _dir: dir,
        _shutdown: tx,
    }
}

fn required() -> HttpAuthConfig {
    HttpAuthConfig {
        mode: AuthMode::Required,
        loopback: true,
        failures_per_minute: 5,
        ..Default::default()
    }
}

fn basic(user: &str, pw: &str) -> String {
    let raw = format!("{user}:{pw}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

async fn call(f: &Fixture, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
    let response = f.router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn get(uri: &str, auth: Option<&str>) -> Request<Body> {
    let mut b = Request::get(uri);
    if let Some(a) = auth {
        b = b.header(header::AUTHORIZATION, a);
    }
    b.body(Body::empty()).expect("request")
}

fn post_json(uri: &str, auth: Option<&str>, body: &str) -> Request<Body> {
    let mut b = Request::post(uri).header(header::CONTENT_TYPE, "application/json");
    if let Some(a) = auth {
        b = b.header(header::AUTHORIZATION, a);
    }
    b.body(Body::from(body.to_string())).expect("request")
}

#[tokio::test]
async fn required_mode_challenges_refuses_bad_passwords_and_limits_guessers() {
    let f = fixture(required());
    let (status, headers, body) = call(&f, get("/v1/topics", None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert_eq!(
        body["type"]
            .as_str()
            .map(|t| t.ends_with("unauthenticated")),
        Some(true),
        "{body}"
    );
    let challenges: Vec<_> = headers.get_all(header::WWW_AUTHENTICATE).iter().collect();
    assert!(
        challenges
            .iter()
            .any(|c| c.as_bytes().starts_with(b"Basic realm=")),
        "{challenges:?}"
    );
    assert_eq!(call(&f, get("/healthz", None)).await.0, StatusCode::OK);
    let ok = basic("alice", "alicepw");
    assert_eq!(
        call(&f, get("/v1/topics", Some(&ok))).await.0,
        StatusCode::OK
    );
    for _ in 0..5 {
        let (status, _, _) = call(&f, get("/v1/topics", Some(&basic("alice", "wrong")))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, headers, _) = call(&f, get("/v1/topics", Some(&basic("alice", "wrong")))).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(headers.contains_key(header::RETRY_AFTER));
    // While limited, even the right password is not checked.
    assert_eq!(
        call(&f, get("/v1/topics", Some(&ok))).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn routes_check_acls_and_lists_omit_what_cannot_be_described() {
    let f = fixture(required());
    let alice = basic("alice", "alicepw");
    let (status, _, body) = call(&f, get("/v1/topics/b/partitions/0/records", Some(&alice))).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["detail"], "not authorized to READ TOPIC 'b'");
    let (status, _, _) = call(&f, get("/v1/topics/a/partitions/0/records", Some(&alice))).await;
    assert_eq!(status, StatusCode::OK);
    // A topic that does not exist is refused the same way: no existence leak.
    let (status, _, _) = call(&f, get("/feeds/nope", Some(&alice))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, _, list) = call(&f, get("/v1/topics", Some(&alice))).await;
    let names: Vec<&str> = list
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["a"]);
    let (_, _, list) = call(&f, get("/topics", Some(&alice))).await;
    assert_eq!(list, serde_json::json!(["a"]));
    let (status, _, body) = call(&f, get("/topics/b", Some(&alice))).await;
    assert_eq!(
        (status, body["error_code"].as_u64()),
        (StatusCode::FORBIDDEN, Some(40301))
    );
    let create = post_json("/v1/topics", Some(&alice), r#"{"name":"c"}"#);
    assert_eq!(call(&f, create).await.0, StatusCode::FORBIDDEN);
    let create = post_json(
        "/v1/topics",
        Some(&basic("admin", "adminpw")),
        r#"{"name":"c"}"#,
    );
    assert_eq!(call(&f, create).await.0, StatusCode::CREATED);
    let (status, _, _) = call(&f, get("/metrics", None)).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "metrics are open unless metrics_require_auth"
    );
}

#[tokio::test]
async fn metrics_can_require_describe_on_the_cluster() {
    let f = fixture(HttpAuthConfig {
        metrics_require_auth: true,
        ..required()
    });
    assert_eq!(
        call(&f, get("/metrics", None)).await.0,
        StatusCode::UNAUTHORIZED
    );
    let alice = basic("alice", "alicepw");
    assert_eq!(
        call(&f, get("/metrics", Some(&alice))).await.0,
        StatusCode::FORBIDDEN
    );
    let admin = basic("admin", "adminpw");
    assert_eq!(
        call(&f, get("/metrics", Some(&admin))).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn api_keys_authenticate_are_listed_without_secrets_and_die_when_deleted() {
    let f = fixture(required());
    let alice = basic("alice", "alicepw");
    let (status, _, created) = call(
        &f,
        post_json("/v1/api-keys", Some(&alice), r#"{"name":"ci"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let key = created["key"].as_str().unwrap_or_default().to_string();
    let bearer = format!("Bearer {key}");
    let (status, _, me) = call(&f, get("/v1/whoami", Some(&bearer))).await;
    assert_eq!(
        (status, me["principal"].as_str()),
        (StatusCode::OK, Some("User:alice"))
    );
    let by_header = Request::get("/v1/whoami")
        .header("x-api-key", &key)
        .body(Body::empty())
        .expect("request");
    assert_eq!(call(&f, by_header).await.2["authenticated_by"], "api_key");
    let (_, _, list) = call(&f, get("/v1/api-keys", Some(&bearer))).await;
    assert_eq!(list[0]["id"], created["id"]);
    assert!(!list.to_string().contains(&key[6..]), "{list}");
    // Another principal's key needs Alter on the cluster.
    let other = post_json(
        "/v1/api-keys",
        Some(&alice),
        r#"{"principal":"User:admin"}"#,
    );
    assert_eq!(call(&f, other).await.0, StatusCode::FORBIDDEN);
    let id = created["id"].as_str().unwrap_or_default();
    let delete = Request::delete(format!("/v1/api-keys/{id}"))
        .header(header::AUTHORIZATION, &alice)
        .body(Body::empty())
        .expect("request");
    assert_eq!(call(&f, delete).await.0, StatusCode::NO_CONTENT);
    let (status, headers, _) = call(&f, get("/v1/whoami", Some(&bearer))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let challenges = format!("{:?}", headers.get_all(header::WWW_AUTHENTICATE));
    assert!(
        challenges.contains("error=\\\"invalid_token\\\""),
        "{challenges}"
    );
}

#[tokio::test]
async fn cookie_writes_need_the_csrf_token_and_a_trusted_origin() {
    let f = fixture(required());
    let login = post_json(
        "/v1/login",
        None,
        r#"{"username":"alice","password":"alicepw"}"#,
    );
    let (status, headers, body) = call(&f, login).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let set_cookie = headers
        .get(header::SET_COOKIE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        set_cookie.contains("HttpOnly; SameSite=Strict; Path=/"),
        "{set_cookie}"
    );
    let cookie = set_cookie.split(';').next().unwrap_or_default().to_string();
    let csrf = body["csrf_token"].as_str().unwrap_or_default().to_string();
    let produce = |origin: Option<&str>, token: Option<&str>| {
        let mut b = Request::post("/v1/topics/a/records")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::HOST, "localhost:8080")
            .header(header::COOKIE, &cookie);
        if let Some(o) = origin {
            b = b.header(header::ORIGIN, o);
        }
        if let Some(t) = token {
            b = b.header("x-csrf-token", t);
        }
        b.body(Body::from(r#"{"records":[{"value":1}]}"#))
            .expect("request")
    };
    let (status, _, body) = call(&f, produce(Some("http://localhost:8080"), None)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let forged = produce(Some("http://evil.example"), Some(&csrf));
    assert_eq!(call(&f, forged).await.0, StatusCode::FORBIDDEN);
    let (status, _, body) = call(&f, produce(Some("http://localhost:8080"), Some(&csrf))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let read = Request::get("/v1/topics/a/partitions/0/records")
        .header(header::COOKIE, &cookie)
        .body(Body::empty())
        .expect("request");
    assert_eq!(
        call(&f, read).await.0,
        StatusCode::OK,
        "reads need no CSRF token"
    );
    let logout = Request::post("/v1/logout")
        .header(header::COOKIE, &cookie)
        .body(Body::empty())
        .expect("r");
    assert_eq!(call(&f, logout).await.0, StatusCode::NO_CONTENT);
    let read = Request::get("/v1/whoami")
        .header(header::COOKIE, &cookie)
        .body(Body::empty())
        .expect("r");
    assert_eq!(call(&f, read).await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn stream_tokens_work_on_live_routes_only_and_within_their_topic() {
    let f = fixture(required());
    let alice = basic("alice", "alicepw");
    let (status, _, minted) = call(
        &f,
        post_json("/v1/stream-tokens", Some(&alice), r#"{"topic":"a"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{minted}");
    let token = minted["token"].as_str().unwrap_or_default();
    let produce = post_json(
        "/v1/topics/a/records",
        Some(&alice),
        r#"{"records":[{"value":1}]}"#,
    );
    assert_eq!(call(&f, produce).await.0, StatusCode::OK);
    // A full page is immutable; to an authenticated caller it is private, not public.
    let page = format!("/feeds/a?access_token={token}&limit=1");
    let (status, headers, _) = call(&f, get(&page, None)).await;
    assert_eq!(status, StatusCode::OK);
    let cache = headers
        .get(header::CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        cache.starts_with("private") && cache.contains("immutable"),
        "{cache}"
    );
    // The scope holds even for a principal who may read every topic.
    let admin = basic("admin", "adminpw");
    let scoped = post_json("/v1/stream-tokens", Some(&admin), r#"{"topic":"a"}"#);
    let (_, _, minted) = call(&f, scoped).await;
    let admin_token = minted["token"].as_str().unwrap_or_default();
    let other = format!("/feeds/b?access_token={admin_token}");
    assert_eq!(call(&f, get(&other, None)).await.0, StatusCode::FORBIDDEN);
    let unscoped = call(&f, post_json("/v1/stream-tokens", Some(&admin), ""))
        .await
        .2;
    let any = format!(
        "/feeds/b?access_token={}",
        unscoped["token"].as_str().unwrap_or_default()
    );
    assert_eq!(call(&f, get(&any, None)).await.0, StatusCode::OK);
    let records = format!("/v1/topics/a/partitions/0/records?access_token={token}");
    assert_eq!(
        call(&f, get(&records, None)).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _, _) = call(
        &f,
        post_json("/v1/stream-tokens", Some(&alice), r#"{"topic":"b"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn cors_preflight_allows_only_configured_origins() {
    let f = fixture(HttpAuthConfig {
        cors_allowed_origins: vec!["http://127.0.0.1:9999".into()],
        ..required()
    });
    let preflight = |origin: &str| {
        Request::options("/feeds/a")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "authorization")
            .body(Body::empty())
            .expect("request")
    };
    let (_, headers, _) = call(&f, preflight("http://127.0.0.1:9999")).await;
    assert_eq!(
        headers
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .map(|v| v.as_bytes()),
        Some(&b"http://127.0.0.1:9999"[..])
    );
    let (_, headers, _) = call(&f, preflight("http://evil.example")).await;
    assert!(headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());
}
