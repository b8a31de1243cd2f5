//! The Confluent REST Proxy v2 API: produce, metadata and consumer groups.

use std::time::Duration;

use serde_json::{json, Value};

use crate::common;
use crate::helpers::{get, get_json, produce};

#[tokio::test]
async fn rest_proxy_v2() {
    let s = common::start().await;
    s.create_topic("rp", 2);
    let r = s
        .client
        .post(s.url("/topics/rp"))
        .header("content-type", "application/vnd.kafka.binary.v2+json")
        .body(r#"{"records":[{"key":"a2V5","value":"dmFsdWU="},{"value":"eA==","partition":1}]}"#)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["offsets"][1]["partition"], 1);
    assert_eq!(body["offsets"][1]["error_code"], Value::Null);
    assert_eq!(
        body["offsets"][0]["partition"],
        strom_broker::default_partition(b"key", 2)
    );
    assert_eq!(body["key_schema_id"], Value::Null);
    let r = s
        .client
        .post(s.url("/topics/rp/partitions/0"))
        .header("content-type", "application/vnd.kafka.json.v2+json")
        .body(r#"{"records":[{"value":{"a":[1,2]}}]}"#)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    let r = s
        .client
        .post(s.url("/topics/missing"))
        .header("content-type", "application/vnd.kafka.json.v2+json")
        .body(r#"{"records":[{"value":1}]}"#)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 404);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["error_code"], 40401);
    assert!(body["message"].is_string());
    let r = s
        .client
        .post(s.url("/topics/rp"))
        .header("content-type", "application/vnd.kafka.binary.v2+json")
        .body(r#"{"records":[{"value":"not base64!"}]}"#)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 422);
    assert_eq!(r.json::<Value>().await.expect("json")["error_code"], 42206);
    let offsets: Value = get_json(&s, "/topics/rp/partitions/0/offsets").await;
    assert_eq!(offsets["beginning_offset"], 0);
    assert!(offsets["end_offset"].as_i64().expect("end") >= 1);
    let topics: Value = get_json(&s, "/topics").await;
    assert_eq!(topics, json!(["rp"]));
    s.stop().await;
}

async fn v2(
    s: &common::Server,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> reqwest::Response {
    s.client
        .request(method, s.url(path))
        .header("content-type", "application/vnd.kafka.v2+json")
        .body(body.to_string())
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn rest_proxy_consumer_group() {
    let s = common::start().await;
    s.create_topic("cg", 2);
    produce(
        &s,
        "cg",
        json!({"records": [
        {"value": 1, "partition": 0}, {"value": 2, "partition": 1}, {"value": 3, "partition": 0}]}),
    )
    .await;
    let r = v2(
        &s,
        reqwest::Method::POST,
        "/consumers/g1",
        json!({"name": "c1", "format": "json", "auto.offset.reset": "earliest"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let created: Value = r.json().await.expect("json");
    assert_eq!(created["instance_id"], "c1");
    assert!(created["base_uri"]
        .as_str()
        .expect("uri")
        .ends_with("/consumers/g1/instances/c1"));
    let r = v2(
        &s,
        reqwest::Method::POST,
        "/consumers/g1",
        json!({"name": "c1"}),
    )
    .await;
    assert_eq!(r.status(), 409);
    assert_eq!(r.json::<Value>().await.expect("json")["error_code"], 40902);
    let base = "/consumers/g1/instances/c1";
    let r = v2(
        &s,
        reqwest::Method::POST,
        &format!("{base}/subscription"),
        json!({"topics": ["cg"]}),
    )
    .await;
    assert_eq!(r.status(), 204);
    let mut values = Vec::new();
    for _ in 0..20 {
        let r = s
            .client
            .get(s.url(&format!("{base}/records?timeout=1000")))
            .header("accept", "application/vnd.kafka.json.v2+json")
            .send()
            .await
            .expect("records");
        assert_eq!(r.status(), 200);
        let batch: Vec<Value> = r.json().await.expect("json");
        values.extend(batch.iter().map(|r| r["value"].as_i64().expect("value")));
        if values.len() >= 3 {
            break;
        }
    }
    values.sort();
    assert_eq!(values, vec![1, 2, 3]);
    let r = v2(
        &s,
        reqwest::Method::POST,
        &format!("{base}/offsets"),
        json!({}),
    )
    .await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    let r = get(&s, &format!("{base}/offsets?partitions=cg:0,cg:1")).await;
    let body: Value = r.json().await.expect("json");
    let committed: Vec<i64> = body["offsets"]
        .as_array()
        .expect("offsets")
        .iter()
        .map(|o| o["offset"].as_i64().expect("o"))
        .collect();
    assert_eq!(committed, vec![2, 1]);
    let r = s
        .client
        .get(s.url(&format!("{base}/records")))
        .header("accept", "application/vnd.kafka.binary.v2+json")
        .send()
        .await
        .expect("records");
    assert_eq!(r.status(), 406);
    assert_eq!(r.json::<Value>().await.expect("json")["error_code"], 40601);
    let r = s.client.delete(s.url(base)).send().await.expect("delete");
    assert_eq!(r.status(), 204);
    let r = get(&s, &format!("{base}/subscription")).await;
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.expect("json")["error_code"], 40403);
    s.stop().await;
}

#[tokio::test]
async fn idle_consumer_instances_are_removed() {
    let s = common::start().await;
    let r = v2(
        &s,
        reqwest::Method::POST,
        "/consumers/g2",
        json!({"name": "idle", "consumer.instance.timeout.ms": 200}),
    )
    .await;
    assert_eq!(r.status(), 200);
    // Any request to the instance keeps it alive, but creating one with the same name does
    // not touch it: that answers 409 (name taken) until the reaper has removed the idle one.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let again = v2(
            &s,
            reqwest::Method::POST,
            "/consumers/g2",
            json!({"name": "idle", "consumer.instance.timeout.ms": 60_000}),
        )
        .await;
        if again.status() == 200 {
            break;
        }
        assert_eq!(again.status(), 409, "while the idle instance exists");
        assert!(
            std::time::Instant::now() < deadline,
            "idle instance was not removed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The new instance under that name is a fresh one: it answers.
    let r = get(&s, "/consumers/g2/instances/idle/assignments").await;
    assert_eq!(r.status(), 200, "the re-created instance answers");
    s.stop().await;
}
