//! The served OpenAPI document matches the router: every documented operation reaches a
//! handler (it is neither the "no route" 404 nor a 405), and the document lists exactly the
//! routes we expect. Together with the `routes.rs` unit test (no route bypasses the
//! documented `routes!` registration) this keeps the document true both ways.

use crate::common;

use serde_json::Value;

const EXPECTED_PATHS: &[&str] = &[
    "/consumers/{group}",
    "/consumers/{group}/instances/{instance}",
    "/consumers/{group}/instances/{instance}/assignments",
    "/consumers/{group}/instances/{instance}/offsets",
    "/consumers/{group}/instances/{instance}/positions",
    "/consumers/{group}/instances/{instance}/positions/beginning",
    "/consumers/{group}/instances/{instance}/positions/end",
    "/consumers/{group}/instances/{instance}/records",
    "/consumers/{group}/instances/{instance}/records/reject",
    "/consumers/{group}/instances/{instance}/subscription",
    "/brokers",
    "/examples/chat.html",
    "/feeds/{topic}",
    "/feeds/{topic}/archive/{partition}/{page}",
    "/healthz",
    "/readyz",
    "/metrics",
    "/v1/metrics/history",
    "/openapi.json",
    "/topics",
    "/topics/{topic}",
    "/topics/{topic}/partitions",
    "/topics/{topic}/partitions/{partition}",
    "/topics/{topic}/partitions/{partition}/offsets",
    "/v1/acls",
    "/v1/topics",
    "/v1/topics/{topic}",
    "/v1/topics/{topic}/configs",
    "/v1/topics/{topic}/dead-letters",
    "/v1/topics/{topic}/partitions",
    "/v1/topics/{topic}/partitions/{partition}",
    "/v1/topics/{topic}/partitions/{partition}/records",
    "/v1/topics/{topic}/records",
    "/v1/topics/{topic}/search",
    "/v1/ws",
    "/v1/users",
    "/v1/users/{user}",
    "/v1/login",
    "/v1/logout",
    "/v1/whoami",
    "/v1/authorized-operations",
    "/v1/api-keys",
    "/v1/api-keys/{id}",
    "/v1/stream-tokens",
    "/v1/quotas",
    "/v1/groups",
    "/v1/groups/{group}",
    "/v1/groups/{group}/offsets",
    "/v1/groups/{group}/offsets/reset",
    "/v1/status",
    "/v1/webhooks",
    "/v1/webhooks/{name}",
    "/v1/webhooks/{name}/attempts",
    "/v1/webhooks/{name}/dead-letters",
    "/v1/webhooks/{name}/dead-letters/redrive",
    "/v1/webhooks/{name}/dlq",
    "/v1/webhooks/{name}/dlq/redrive",
    "/v1/webhooks/{name}/pause",
    "/v1/webhooks/{name}/resend",
    "/v1/webhooks/{name}/resume",
    "/v1/webhooks/{name}/secret",
    "/v1/webhooks/{name}/secret/rotate",
    "/v1/webhooks/{name}/skip",
    "/v1/webhooks/{name}/test",
    "/compatibility/subjects/{subject}/versions",
    "/compatibility/subjects/{subject}/versions/{version}",
    "/config",
    "/config/{subject}",
    "/contexts",
    "/mode",
    "/mode/{subject}",
    "/schemas/ids/{id}",
    "/schemas/ids/{id}/schema",
    "/schemas/ids/{id}/subjects",
    "/schemas/ids/{id}/versions",
    "/schemas/types",
    "/subjects",
    "/subjects/{subject}",
    "/subjects/{subject}/versions",
    "/subjects/{subject}/versions/{version}",
    "/subjects/{subject}/versions/{version}/referencedby",
    "/subjects/{subject}/versions/{version}/schema",
    "/v1/metadata/id",
    "/schemas",
    "/console",
    "/console/",
    "/console/{file}",
];

#[tokio::test]
async fn document_and_router_agree() {
    let s = common::start().await;
    s.create_topic("t", 1);
    let doc: Value = s
        .client
        .get(s.url("/openapi.json"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert!(doc["openapi"].as_str().expect("version").starts_with("3."));
    let paths = doc["paths"].as_object().expect("paths");
    let mut listed: Vec<&str> = paths.keys().map(String::as_str).collect();
    listed.sort();
    let mut expected = EXPECTED_PATHS.to_vec();
    expected.sort();
    assert_eq!(listed, expected);
    for (path, item) in paths {
        let concrete = path
            .replace("{topic}", "t")
            .replace("{partition}", "0")
            .replace("{page}", "0")
            .replace("{group}", "g")
            .replace("{instance}", "i")
            .replace("{user}", "u")
            .replace("{id}", "0")
            .replace("{name}", "w")
            .replace("{subject}", "s")
            .replace("{version}", "1")
            .replace("{file}", "app.js");
        for method in item.as_object().expect("operations").keys() {
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).expect("method");
            let r = s
                .client
                .request(m, s.url(&concrete))
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .expect("request");
            let status = r.status().as_u16();
            let body = r.text().await.unwrap_or_default();
            assert_ne!(status, 405, "{method} {path} is documented but not routed");
            assert!(
                !body.contains("problems/no-route"),
                "{method} {path} is documented but not routed"
            );
            assert!(status < 500, "{method} {path} answered {status}: {body}");
        }
    }
    s.stop().await;
}
