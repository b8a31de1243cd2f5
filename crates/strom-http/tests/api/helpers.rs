//! Helpers shared by the HTTP API tests: GET a path, produce JSON records, check a problem
//! answer.

use serde_json::Value;

use crate::common;

pub async fn produce(s: &common::Server, topic: &str, body: Value) -> Value {
    let r = s
        .client
        .post(s.url(&format!("/v1/topics/{topic}/records")))
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    r.json().await.expect("json")
}

pub async fn problem(r: reqwest::Response, status: u16) -> Value {
    assert_eq!(r.status(), status);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let body: Value = r.json().await.expect("problem json");
    assert_eq!(body["status"], status);
    assert!(body["type"].is_string() && body["title"].is_string());
    body
}

/// GET `path` (answered, whatever the status).
pub async fn get(s: &common::Server, path: &str) -> reqwest::Response {
    s.client.get(s.url(path)).send().await.expect("get")
}

/// GET `path` and its JSON body.
pub async fn get_json(s: &common::Server, path: &str) -> Value {
    get(s, path).await.json().await.expect("json")
}
