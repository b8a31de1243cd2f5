//! Producing and reading records: JSON and binary produce, long polls, feeds (resume,
//! cacheable full batches, Atom archives).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common;
use crate::helpers::{get, get_json, produce};

#[tokio::test]
async fn produce_and_consume_round_trip() {
    let s = common::start().await;
    s.create_topic("orders", 3);
    let out = produce(
        &s,
        "orders",
        json!({"records": [
            {"key": "alice", "value": {"n": 1}, "headers": [{"key": "h", "value": "v"}], "timestamp": 1700000000000i64},
            {"key": "alice", "value_base64": "AAEC"},
            {"key": "bob", "value": null},
        ]}),
    )
    .await;
    let offsets = out["offsets"].as_array().expect("offsets");
    assert_eq!(offsets.len(), 3);
    let p = strom_broker::default_partition(b"alice", 3);
    assert_eq!(offsets[0]["partition"], p);
    assert_eq!(offsets[1]["partition"], p);
    assert_eq!(offsets[0]["timestamp"], 1700000000000i64);
    let r: Value = get_json(
        &s,
        &format!("/v1/topics/orders/partitions/{p}/records?offset=0"),
    )
    .await;
    let records = r["records"].as_array().expect("records");
    assert_eq!(records[0]["value"], json!({"n": 1}));
    assert_eq!(records[0]["key"], "alice");
    assert_eq!(records[0]["headers"][0], json!({"key": "h", "value": "v"}));
    assert_eq!(records[0]["timestamp"], 1700000000000i64);
    assert_eq!(records[1]["value_base64"], "AAEC");
    assert_eq!(r["next_offset"], records.len());
    // By timestamp: the second record has a later (now) timestamp.
    let r: Value = get_json(
        &s,
        &format!("/v1/topics/orders/partitions/{p}/records?timestamp=2023-11-14T22:13:21Z"),
    )
    .await;
    assert_eq!(r["records"][0]["offset"], 1);
    s.stop().await;
}

#[tokio::test]
async fn raw_octet_stream_produce() {
    let s = common::start().await;
    s.create_topic("raw", 1);
    let r = s
        .client
        .post(s.url("/v1/topics/raw/records?key=k1"))
        .header("content-type", "application/octet-stream")
        .body(vec![0u8, 159, 146, 150])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 200);
    let fetch = s
        .broker
        .partition("raw", 0)
        .expect("p")
        .read(0, 1 << 20)
        .expect("read");
    let records = strom_broker::decode_records(&fetch.records).expect("decode");
    assert_eq!(records[0].value.as_deref(), Some(&[0u8, 159, 146, 150][..]));
    assert_eq!(records[0].key.as_deref(), Some(&b"k1"[..]));
    s.stop().await;
}

#[tokio::test]
async fn long_poll_returns_when_data_arrives() {
    let s = common::start().await;
    s.create_topic("poll", 1);
    let url = s.url("/v1/topics/poll/partitions/0/records?offset=0&timeout=20000");
    let client = s.client.clone();
    let started = Instant::now();
    let waiter = tokio::spawn(async move { client.get(url).send().await?.json::<Value>().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiter.is_finished(), "long poll returned before any data");
    produce(&s, "poll", json!({"records": [{"value": "x"}]})).await;
    let body = waiter.await.expect("join").expect("response");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "returned only at its timeout"
    );
    assert_eq!(body["records"][0]["value"], "x");

    // The feed long-polls the same way, across partitions.
    s.create_topic("feedpoll", 3);
    let url = s.url("/feeds/feedpoll?timeout=20000");
    let client = s.client.clone();
    let started = Instant::now();
    let waiter = tokio::spawn(async move { client.get(url).send().await?.json::<Value>().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiter.is_finished());
    produce(
        &s,
        "feedpoll",
        json!({"records": [{"value": 1, "partition": 2}]}),
    )
    .await;
    let body = waiter.await.expect("join").expect("response");
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(body[0]["data"], 1);
    assert_eq!(body[0]["id"], "-1.-1.0");
    s.stop().await;
}

#[tokio::test]
async fn feed_resumes_exactly_across_partitions() {
    let s = common::start().await;
    s.create_topic("f", 3);
    let records: Vec<Value> = (0..50)
        .map(|i| json!({"key": format!("k{i}"), "value": i}))
        .collect();
    produce(&s, "f", json!({"records": records})).await;
    let mut seen = Vec::new();
    let mut last: Option<String> = None;
    loop {
        let mut url = s.url("/feeds/f?limit=7");
        if let Some(id) = &last {
            url.push_str(&format!("&lastEventId={id}"));
        }
        let r = s.client.get(url).send().await.expect("get");
        assert_eq!(
            r.headers()["content-type"],
            "application/cloudevents-batch+json"
        );
        let batch: Vec<Value> = r.json().await.expect("json");
        if batch.is_empty() {
            break;
        }
        for e in &batch {
            assert_eq!(e["specversion"], "1.0");
            seen.push(e["data"].as_i64().expect("data"));
        }
        last = Some(
            batch.last().expect("nonempty")["id"]
                .as_str()
                .expect("id")
                .to_string(),
        );
    }
    seen.sort();
    assert_eq!(seen, (0..50).collect::<Vec<i64>>());
    s.stop().await;
}

#[tokio::test]
async fn full_batches_are_cacheable() {
    let s = common::start().await;
    s.create_topic("c", 1);
    produce(
        &s,
        "c",
        json!({"records": [{"key": "a", "value": 1}, {"key": "a", "value": null}, {"value": 3}]}),
    )
    .await;
    let r = get(&s, "/feeds/c?limit=2").await;
    let etag = r.headers()["etag"].to_str().expect("etag").to_string();
    assert!(r.headers()["cache-control"]
        .to_str()
        .expect("cc")
        .contains("immutable"));
    let batch: Vec<Value> = r.json().await.expect("json");
    assert_eq!(batch[1]["method"], "DELETE");
    assert_eq!(batch[1]["subject"], "a");
    assert!(batch[1].get("data").is_none());
    let r = s
        .client
        .get(s.url("/feeds/c?limit=2"))
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 304);
    // Not full: no ETag, not cacheable.
    let r = get(&s, "/feeds/c?limit=10").await;
    assert!(r.headers().get("etag").is_none());
    assert_eq!(r.headers()["cache-control"], "no-cache");
    s.stop().await;
}

#[tokio::test]
async fn atom_feed_with_archives() {
    let s = common::start().await;
    s.create_topic("a", 1);
    let records: Vec<Value> = (0..250).map(|i| json!({"value": i})).collect();
    produce(&s, "a", json!({"records": records})).await;
    let r = s
        .client
        .get(s.url("/feeds/a"))
        .header("accept", "application/atom+xml")
        .send()
        .await
        .expect("get");
    assert_eq!(r.headers()["content-type"], "application/atom+xml");
    let xml = r.text().await.expect("text");
    assert!(
        xml.contains("rel=\"prev-archive\" href=\"/feeds/a/archive/0/1\""),
        "{xml}"
    );
    assert_eq!(xml.matches("<entry>").count(), 50);
    let r = get(&s, "/feeds/a/archive/0/1").await;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["cache-control"]
        .to_str()
        .expect("cc")
        .contains("immutable"));
    let xml = r.text().await.expect("text");
    assert!(xml.contains("<fh:archive/>"));
    assert!(xml.contains("rel=\"prev-archive\" href=\"/feeds/a/archive/0/0\""));
    assert!(!xml.contains("next-archive"));
    assert_eq!(xml.matches("<entry>").count(), 100);
    let r = get(&s, "/feeds/a/archive/0/2").await;
    assert_eq!(r.status(), 404);
    s.stop().await;
}
