//! Helpers shared by the HTTP API tests: produce JSON records, check a problem answer.

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
