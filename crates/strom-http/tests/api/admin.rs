//! The admin API: topic lifecycle and configs.

use serde_json::{json, Value};

use crate::common;
use crate::helpers::{get, get_json, problem};

#[tokio::test]
async fn admin_lifecycle() {
    let s = common::start().await;
    let r = s
        .client
        .post(s.url("/v1/topics"))
        .json(&json!({"name": "adm", "partitions": 2, "configs": {"retention.ms": "60000"}}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 201);
    let r = s
        .client
        .post(s.url("/v1/topics"))
        .json(&json!({"name": "adm"}))
        .send()
        .await
        .expect("post");
    problem(r, 409).await;
    let r = s
        .client
        .post(s.url("/v1/topics"))
        .json(&json!({"name": "bad/name"}))
        .send()
        .await
        .expect("post");
    problem(r, 422).await;
    let r = s
        .client
        .post(s.url("/v1/topics/adm/partitions"))
        .json(&json!({"count": 4}))
        .send()
        .await
        .expect("grow");
    assert_eq!(r.status(), 200);
    let r = s
        .client
        .patch(s.url("/v1/topics/adm/configs"))
        .json(&json!({"configs": {"cleanup.policy": "compact"}}))
        .send()
        .await
        .expect("alter");
    assert_eq!(r.status(), 200);
    let info: Value = get_json(&s, "/v1/topics/adm").await;
    assert_eq!(info["partition_count"], 4);
    let policy = info["configs"]
        .as_array()
        .expect("configs")
        .iter()
        .find(|c| c["name"] == "cleanup.policy")
        .expect("cleanup.policy")
        .clone();
    assert_eq!(policy["value"], "compact");
    let list: Value = s
        .client
        .get(s.url("/v1/topics"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(list[0]["name"], "adm");
    let r = s
        .client
        .delete(s.url("/v1/topics/adm"))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 204);
    let r = get(&s, "/v1/topics/adm").await;
    problem(r, 404).await;
    s.stop().await;
}
