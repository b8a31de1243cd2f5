//! The HTTP authorization matrix over the real router: for every route in `authz::RULES`
//! that names an ACL check, a principal without ACLs is refused 403 and a principal holding
//! exactly the ACL the rule names gets past authorization; every route that is not open
//! answers 401 without credentials when authentication is required. Routes whose handler
//! does the checking (ACL, user, quota, webhook administration, lists) are covered by their
//! own tests (`tests/e2e/test_http_auth.py`, `test_acls.py`, `test_users_cli.py`, ...); they
//! are listed in [`UNCHECKED`], so a route whose row loses its check (turned `Handler`)
//! fails here instead of dropping out of the matrix.

use crate::common;

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use strom_auth::{
    AclBinding, AuthorizerConfig, PatternType, Permission, Principal, Security, SecurityConfig,
};
use strom_http::auth::{AuthMode, HttpAuthConfig};
use strom_http::authz::{self, Access, RULES};

/// Every route the middleware lets through without an ACL check of its own (`/metrics` is
/// checked here, with `metrics_require_auth`): open routes and routes whose handler checks
/// (lists that filter, bodies that name the resource, self-service).
const UNCHECKED: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/openapi.json"),
    ("GET", "/examples/chat.html"),
    ("GET", "/console"),
    ("GET", "/console/"),
    ("GET", "/console/{file}"),
    ("POST", "/v1/login"),
    ("POST", "/v1/logout"),
    ("GET", "/v1/whoami"),
    ("GET", "/v1/authorized-operations"),
    ("GET", "/v1/api-keys"),
    ("POST", "/v1/api-keys"),
    ("DELETE", "/v1/api-keys/{id}"),
    ("POST", "/v1/stream-tokens"),
    ("GET", "/v1/acls"),
    ("POST", "/v1/acls"),
    ("DELETE", "/v1/acls"),
    ("GET", "/v1/quotas"),
    ("POST", "/v1/quotas"),
    ("DELETE", "/v1/quotas"),
    ("GET", "/v1/users"),
    ("PUT", "/v1/users/{user}"),
    ("DELETE", "/v1/users/{user}"),
    ("GET", "/v1/webhooks"),
    ("POST", "/v1/webhooks"),
    ("GET", "/v1/webhooks/{name}"),
    ("PATCH", "/v1/webhooks/{name}"),
    ("DELETE", "/v1/webhooks/{name}"),
    ("POST", "/v1/webhooks/{name}/pause"),
    ("POST", "/v1/webhooks/{name}/resume"),
    ("POST", "/v1/webhooks/{name}/test"),
    ("GET", "/v1/webhooks/{name}/secret"),
    ("POST", "/v1/webhooks/{name}/secret/rotate"),
    ("GET", "/v1/webhooks/{name}/attempts"),
    ("GET", "/v1/webhooks/{name}/dead-letters"),
    ("POST", "/v1/webhooks/{name}/dead-letters/redrive"),
    ("POST", "/v1/webhooks/{name}/skip"),
    ("GET", "/v1/webhooks/{name}/dlq"),
    ("POST", "/v1/webhooks/{name}/dlq/redrive"),
    ("POST", "/v1/webhooks/{name}/resend"),
    ("GET", "/v1/topics/{topic}/dead-letters"),
    ("POST", "/v1/topics/{topic}/dead-letters"),
    ("GET", "/v1/topics"),
    ("POST", "/v1/topics"),
    ("GET", "/v1/groups"),
    ("GET", "/v1/ws"),
    ("GET", "/topics"),
    ("GET", "/brokers"),
    ("GET", "/subjects"),
    ("GET", "/schemas"),
    ("GET", "/schemas/ids/{id}"),
    ("GET", "/schemas/ids/{id}/schema"),
    ("GET", "/schemas/ids/{id}/subjects"),
    ("GET", "/schemas/ids/{id}/versions"),
    ("GET", "/schemas/types"),
    ("GET", "/contexts"),
    ("GET", "/v1/metadata/id"),
];

/// Values for the path parameters: topic `t` exists and has records.
fn fill(path: &str) -> (String, Vec<(String, String)>) {
    let values = [
        ("topic", "t"),
        ("group", "g"),
        ("partition", "0"),
        ("instance", "i"),
        ("subject", "t-value"),
        ("version", "1"),
        ("page", "0"),
    ];
    let mut url = path.to_string();
    let mut params = Vec::new();
    while let Some(start) = url.find('{') {
        let end = url[start..].find('}').map_or(url.len(), |e| start + e);
        let name = url[start + 1..end].to_string();
        let value = values
            .iter()
            .find(|(k, _)| *k == name)
            .map_or("x", |(_, v)| v);
        url.replace_range(start..=end, value);
        params.push((name, value.to_string()));
    }
    (url, params)
}

async fn status(server: &common::Server, method: &str, url: &str, key: Option<&str>) -> StatusCode {
    let method = Method::from_bytes(method.as_bytes()).expect("method");
    let mut request = server
        .client
        .request(method, server.url(url))
        .header("content-type", "application/json")
        .body("{}");
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    let response = tokio::time::timeout(std::time::Duration::from_secs(30), request.send())
        .await
        .unwrap_or_else(|_| panic!("{url}: no answer in 30 s"))
        .expect("request");
    response.status()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_checked_route_refuses_a_principal_without_its_acl_and_admits_one_with_it() {
    let mut security = None;
    let server = common::start_over(|broker| {
        let config = SecurityConfig {
            authorizer: AuthorizerConfig {
                enabled: true,
                super_users: vec![Principal::user("admin")],
                allow_everyone_if_no_acl_found: false,
            },
            ..SecurityConfig::default()
        };
        let opened = Security::open(Arc::clone(broker), config).expect("security");
        security = Some(Arc::clone(&opened));
        strom_http::HttpConfig {
            security: opened,
            auth: HttpAuthConfig {
                mode: AuthMode::Required,
                metrics_require_auth: true,
                failures_per_minute: 100_000,
                ..HttpAuthConfig::default()
            },
            ..common::config()
        }
    })
    .await;
    let security = security.expect("security");
    server.create_topic("t", 1);
    let (_, nobody) = security
        .api_keys
        .create(&Principal::user("nobody"), "nobody")
        .expect("key");
    let mut checked = 0;
    let mut unchecked = Vec::new();
    for (i, rule) in RULES.iter().enumerate() {
        let (url, params) = fill(rule.path);
        if rule.access != Access::Open {
            let anonymous = status(&server, rule.method, &url, None).await;
            assert_eq!(
                anonymous,
                StatusCode::UNAUTHORIZED,
                "{} {url} without credentials",
                rule.method
            );
        }
        let Some((operation, resource_type, name)) = authz::resolve(rule, &params, true) else {
            unchecked.push((rule.method, rule.path));
            continue;
        };
        let denied = status(&server, rule.method, &url, Some(&nobody)).await;
        assert_eq!(
            denied,
            StatusCode::FORBIDDEN,
            "{} {url} without {operation} on {resource_type} '{name}'",
            rule.method
        );
        let principal = Principal::user(format!("allowed-{i}"));
        let acl = AclBinding {
            resource_type,
            resource_name: name.clone(),
            pattern_type: PatternType::Literal,
            principal: principal.to_string(),
            host: "*".into(),
            operation,
            permission: Permission::Allow,
        };
        assert!(security
            .authorizer
            .create_acls(&[acl])
            .iter()
            .all(Result::is_ok));
        let (_, key) = security.api_keys.create(&principal, "k").expect("key");
        let allowed = status(&server, rule.method, &url, Some(&key)).await;
        assert!(
            allowed != StatusCode::FORBIDDEN && allowed != StatusCode::UNAUTHORIZED,
            "{} {url} with {operation} on {resource_type} '{name}': {allowed}",
            rule.method
        );
        checked += 1;
    }
    assert!(checked > 40, "only {checked} routes with a check");
    let mut expected = UNCHECKED.to_vec();
    unchecked.sort_unstable();
    expected.sort_unstable();
    assert_eq!(
        unchecked, expected,
        "routes without a check in the middleware (a row that lost its ACL check?)"
    );
    server.stop().await;
}
