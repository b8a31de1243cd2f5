//! End-to-end tests of the HTTP API against a real listener and a real broker.

mod common;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

async fn produce(s: &common::Server, topic: &str, body: Value) -> Value {
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
    let r: Value = s
        .client
        .get(s.url(&format!(
            "/v1/topics/orders/partitions/{p}/records?offset=0"
        )))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    let records = r["records"].as_array().expect("records");
    assert_eq!(records[0]["value"], json!({"n": 1}));
    assert_eq!(records[0]["key"], "alice");
    assert_eq!(records[0]["headers"][0], json!({"key": "h", "value": "v"}));
    assert_eq!(records[0]["timestamp"], 1700000000000i64);
    assert_eq!(records[1]["value_base64"], "AAEC");
    assert_eq!(r["next_offset"], records.len());
    // By timestamp: the second record has a later (now) timestamp.
    let r: Value = s
        .client
        .get(s.url(&format!(
            "/v1/topics/orders/partitions/{p}/records?timestamp=2023-11-14T22:13:21Z"
        )))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
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
    let r = s
        .client
        .get(s.url("/feeds/c?limit=2"))
        .send()
        .await
        .expect("get");
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
    let r = s
        .client
        .get(s.url("/feeds/c?limit=10"))
        .send()
        .await
        .expect("get");
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
    let r = s
        .client
        .get(s.url("/feeds/a/archive/0/1"))
        .send()
        .await
        .expect("get");
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
    let r = s
        .client
        .get(s.url("/feeds/a/archive/0/2"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 404);
    s.stop().await;
}

async fn problem(r: reqwest::Response, status: u16) -> Value {
    assert_eq!(r.status(), status);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let body: Value = r.json().await.expect("problem json");
    assert_eq!(body["status"], status);
    assert!(body["type"].is_string() && body["title"].is_string());
    body
}

#[tokio::test]
async fn errors_are_problems() {
    let s = common::start().await;
    s.create_topic("e", 2);
    let post = |path: &str, ct: &str, body: Vec<u8>| {
        s.client
            .post(s.url(path))
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let p = problem(
        post(
            "/v1/topics/e/records",
            "application/json",
            b"{\n \"records\": [}".to_vec(),
        )
        .await
        .expect("post"),
        400,
    )
    .await;
    assert!(
        p["detail"]
            .as_str()
            .expect("detail")
            .contains("line 2 column"),
        "{p}"
    );
    let p = problem(
        post(
            "/v1/topics/nope/records",
            "application/json",
            b"{\"records\":[]}".to_vec(),
        )
        .await
        .expect("post"),
        404,
    )
    .await;
    assert!(p["detail"].as_str().expect("detail").contains("nope"));
    problem(
        post(
            "/v1/topics/e/records",
            "application/json",
            vec![b' '; 100 * 1024],
        )
        .await
        .expect("post"),
        413,
    )
    .await;
    problem(
        post("/v1/topics/e/records", "text/plain", b"hi".to_vec())
            .await
            .expect("post"),
        415,
    )
    .await;
    // One bad record: nothing of the request is written.
    let p = problem(
        post(
            "/v1/topics/e/records",
            "application/json",
            serde_json::to_vec(&json!({"records": [{"value": 1, "partition": 0}, {"value": 2, "partition": 1, "value_base64": "!!"}]}))
                .expect("json"),
        )
        .await
        .expect("post"),
        422,
    )
    .await;
    assert!(p["detail"].as_str().expect("detail").contains("record 1"));
    assert_eq!(s.broker.partition("e", 0).expect("p").high_watermark(), 0);
    problem(
        post(
            "/v1/topics/e/records",
            "application/json",
            br#"{"records":[{"value":1,"partition":9}]}"#.to_vec(),
        )
        .await
        .expect("post"),
        404,
    )
    .await;
    let get = |path: &str| s.client.get(s.url(path)).send();
    problem(
        get("/v1/topics/e/partitions/0/records?offset=5")
            .await
            .expect("get"),
        422,
    )
    .await;
    problem(
        get("/v1/topics/e/partitions/0/records?offset=x")
            .await
            .expect("get"),
        400,
    )
    .await;
    problem(
        get("/v1/topics/e/partitions/0/records?limit=0")
            .await
            .expect("get"),
        400,
    )
    .await;
    problem(get("/feeds/e?lastEventId=1.2.3").await.expect("get"), 400).await;
    problem(
        get("/v1/topics/e/partitions/7/records").await.expect("get"),
        404,
    )
    .await;
    problem(get("/no/such/route").await.expect("get"), 404).await;
    let r = s.client.put(s.url("/v1/topics")).send().await.expect("put");
    problem(r, 405).await;
    s.stop().await;
}

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
    let info: Value = s
        .client
        .get(s.url("/v1/topics/adm"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
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
    let r = s
        .client
        .get(s.url("/v1/topics/adm"))
        .send()
        .await
        .expect("get");
    problem(r, 404).await;
    s.stop().await;
}

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
    let offsets: Value = s
        .client
        .get(s.url("/topics/rp/partitions/0/offsets"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(offsets["beginning_offset"], 0);
    assert!(offsets["end_offset"].as_i64().expect("end") >= 1);
    let topics: Value = s
        .client
        .get(s.url("/topics"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(topics, json!(["rp"]));
    s.stop().await;
}

#[tokio::test]
async fn connection_limit_answers_503() {
    let s = common::start_with(strom_http::HttpConfig {
        connections: strom_broker::ConnectionLimitsConfig {
            max_connections: 2,
            ..Default::default()
        },
        ..common::config()
    })
    .await;
    // Two kept-alive connections, each known to be accepted: it has answered a request.
    let mut _a = accepted_connection(s.addr).await;
    let mut _b = accepted_connection(s.addr).await;
    let r = reqwest::Client::new()
        .get(s.url("/healthz"))
        .send()
        .await
        .expect("third");
    assert_eq!(r.status(), 503);
    s.stop().await;
}

/// A keep-alive connection on which the server has answered one request (so it counts it).
async fn accepted_connection(addr: std::net::SocketAddr) -> tokio::net::TcpStream {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(addr).await.expect("connect");
    conn.write_all(b"GET /healthz HTTP/1.1\r\nhost: strom\r\n\r\n")
        .await
        .expect("send request");
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = conn.read(&mut buf).await.expect("read response");
        assert!(n > 0, "connection closed before a response");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(
        got.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    conn
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
    let r = s
        .client
        .get(s.url(&format!("{base}/offsets?partitions=cg:0,cg:1")))
        .send()
        .await
        .expect("get");
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
    let r = s
        .client
        .get(s.url(&format!("{base}/subscription")))
        .send()
        .await
        .expect("get");
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
    let r = s
        .client
        .get(s.url("/consumers/g2/instances/idle/assignments"))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200, "the re-created instance answers");
    s.stop().await;
}
