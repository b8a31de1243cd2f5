//! The route table against the served OpenAPI document, and its Kafka mapping.

use axum::http::Method;
use strom_auth::{Operation, ResourceType};

use super::*;

fn documented_routes() -> Vec<(String, String)> {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = crate::feed_cache::tests::broker(dir.path());
    let (_tx, rx) = tokio::sync::watch::channel(false);
    let state = crate::state::AppState::new(broker, crate::HttpConfig::default(), rx, None);
    let (_, doc) = crate::routes::build(state);
    let mut routes = Vec::new();
    for (path, item) in doc.paths.paths {
        let methods = [
            ("GET", item.get.is_some()),
            ("POST", item.post.is_some()),
            ("PUT", item.put.is_some()),
            ("PATCH", item.patch.is_some()),
            ("DELETE", item.delete.is_some()),
        ];
        for (m, present) in methods {
            if present {
                routes.push((m.to_string(), path.clone()));
            }
        }
    }
    routes
}

#[test]
fn every_documented_route_has_exactly_one_rule_and_every_rule_a_route() {
    let routes = documented_routes();
    assert!(routes.len() > 40, "{routes:?}");
    for (method, path) in &routes {
        let n = RULES
            .iter()
            .filter(|r| r.method == method && r.path == path)
            .count();
        assert_eq!(n, 1, "{method} {path} has {n} rules in authz::RULES");
    }
    for r in RULES {
        assert!(
            routes.iter().any(|(m, p)| m == r.method && p == r.path),
            "rule for {} {} matches no route",
            r.method,
            r.path
        );
    }
}

/// Method, route, path parameters, expected check.
type Case<'a> = (
    &'a str,
    &'a str,
    &'a [(String, String)],
    Option<(Operation, ResourceType, &'a str)>,
);

#[test]
fn routes_map_to_kafkas_operations() {
    let topic = vec![("topic".to_string(), "t".to_string())];
    let group = vec![("group".to_string(), "g".to_string())];
    let cases: &[Case] = &[
        (
            "POST",
            "/v1/topics/{topic}/records",
            &topic,
            Some((Operation::Write, ResourceType::Topic, "t")),
        ),
        (
            "GET",
            "/v1/topics/{topic}/partitions/{partition}/records",
            &topic,
            Some((Operation::Read, ResourceType::Topic, "t")),
        ),
        (
            "GET",
            "/v1/topics/{topic}/search",
            &topic,
            Some((Operation::Read, ResourceType::Topic, "t")),
        ),
        (
            "GET",
            "/feeds/{topic}",
            &topic,
            Some((Operation::Read, ResourceType::Topic, "t")),
        ),
        (
            "GET",
            "/feeds/{topic}/archive/{partition}/{page}",
            &topic,
            Some((Operation::Read, ResourceType::Topic, "t")),
        ),
        (
            "DELETE",
            "/v1/topics/{topic}",
            &topic,
            Some((Operation::Delete, ResourceType::Topic, "t")),
        ),
        (
            "PATCH",
            "/v1/topics/{topic}/configs",
            &topic,
            Some((Operation::AlterConfigs, ResourceType::Topic, "t")),
        ),
        (
            "POST",
            "/topics/{topic}",
            &topic,
            Some((Operation::Write, ResourceType::Topic, "t")),
        ),
        (
            "POST",
            "/consumers/{group}",
            &group,
            Some((Operation::Read, ResourceType::Group, "g")),
        ),
        (
            "GET",
            "/consumers/{group}/instances/{instance}/offsets",
            &group,
            Some((Operation::Describe, ResourceType::Group, "g")),
        ),
        (
            "GET",
            "/v1/groups/{group}",
            &group,
            Some((Operation::Describe, ResourceType::Group, "g")),
        ),
        (
            "DELETE",
            "/v1/groups/{group}",
            &group,
            Some((Operation::Delete, ResourceType::Group, "g")),
        ),
        (
            "DELETE",
            "/v1/groups/{group}/offsets",
            &group,
            Some((Operation::Delete, ResourceType::Group, "g")),
        ),
        (
            "POST",
            "/v1/groups/{group}/offsets/reset",
            &group,
            Some((Operation::Read, ResourceType::Group, "g")),
        ),
        ("GET", "/v1/groups", &[], None),
        (
            "GET",
            "/v1/status",
            &[],
            Some((Operation::Describe, ResourceType::Cluster, CLUSTER_NAME)),
        ),
        ("GET", "/healthz", &[], None),
        ("GET", "/readyz", &[], None),
        (
            "GET",
            "/nowhere",
            &[],
            Some((Operation::Alter, ResourceType::Cluster, CLUSTER_NAME)),
        ),
    ];
    for (method, path, params, want) in cases {
        let method: Method = method.parse().expect("method");
        let got = resolve(&find(&method, path), params, false);
        let want = want.map(|(o, r, n)| (o, r, n.to_string()));
        assert_eq!(got, want, "{method} {path}");
    }
    let metrics = find(&Method::GET, "/metrics");
    assert_eq!(resolve(&metrics, &[], false), None);
    assert_eq!(
        resolve(&metrics, &[], true),
        Some((
            Operation::Describe,
            ResourceType::Cluster,
            CLUSTER_NAME.to_string()
        ))
    );
    let live: Vec<&str> = RULES
        .iter()
        .filter(|r| r.stream_token)
        .map(|r| r.path)
        .collect();
    assert_eq!(
        live,
        [
            "/feeds/{topic}",
            "/feeds/{topic}/archive/{partition}/{page}",
            "/v1/ws"
        ]
    );
}

/// Method, route, path parameters, expected check.
type SubjectCase<'a> = (
    &'a str,
    &'a str,
    Vec<(String, String)>,
    (Operation, ResourceType, &'a str),
);

#[test]
fn schema_registry_subjects_map_onto_their_topic_or_the_cluster() {
    let subject = |s: &str| vec![("subject".to_string(), s.to_string())];
    let cases: Vec<SubjectCase> = vec![
        (
            "POST",
            "/subjects/{subject}/versions",
            subject("orders-value"),
            (Operation::Write, ResourceType::Topic, "orders"),
        ),
        (
            "GET",
            "/subjects/{subject}/versions/{version}",
            subject("orders-key"),
            (Operation::Describe, ResourceType::Topic, "orders"),
        ),
        (
            "DELETE",
            "/subjects/{subject}",
            subject("orders-value"),
            (Operation::AlterConfigs, ResourceType::Topic, "orders"),
        ),
        (
            "POST",
            "/subjects/{subject}/versions",
            subject("com.acme.User"),
            (Operation::Alter, ResourceType::Cluster, CLUSTER_NAME),
        ),
        (
            "GET",
            "/subjects/{subject}/versions",
            subject("-value"),
            (Operation::Describe, ResourceType::Cluster, CLUSTER_NAME),
        ),
        (
            "PUT",
            "/config",
            vec![],
            (Operation::Alter, ResourceType::Cluster, CLUSTER_NAME),
        ),
        (
            "GET",
            "/mode",
            vec![],
            (Operation::Describe, ResourceType::Cluster, CLUSTER_NAME),
        ),
    ];
    for (method, path, params, (o, r, n)) in cases {
        let method: Method = method.parse().expect("method");
        let got = resolve(&find(&method, path), &params, false);
        assert_eq!(
            got,
            Some((o, r, n.to_string())),
            "{method} {path} {params:?}"
        );
    }
}
