//! Topic names and internal topics over HTTP: every legal Kafka name (`.creating-x`, 249
//! characters) works through create, produce, read and delete; internal topics answer 403
//! problem+json to writes, deletes and config changes while reads work; and a storage error
//! reaches the client without a server path.

use crate::common;

use serde_json::{json, Value};

async fn send(r: reqwest::RequestBuilder) -> (u16, Value) {
    let r = r.send().await.expect("request");
    let status = r.status().as_u16();
    let body = r.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn legal_names_work_through_create_produce_read_and_delete() {
    let s = common::start().await;
    for name in [".creating-x".to_string(), "x".to_string(), "n".repeat(249)] {
        let created = s
            .client
            .post(s.url("/v1/topics"))
            .json(&json!({"name": name}));
        assert_eq!(send(created).await.0, 201, "create {name}");
        let records = json!({"records": [{"value": name}]});
        let produced = s.client.post(s.url(&format!("/v1/topics/{name}/records")));
        assert_eq!(send(produced.json(&records)).await.0, 200, "produce {name}");
        let read = s
            .client
            .get(s.url(&format!("/v1/topics/{name}/partitions/0/records")));
        let (status, body) = send(read).await;
        assert_eq!(status, 200, "read {name}: {body}");
        assert!(body.to_string().contains(&name), "{body}");
    }
    for name in [".creating-x".to_string(), "x".to_string(), "n".repeat(249)] {
        let deleted = s.client.delete(s.url(&format!("/v1/topics/{name}")));
        assert_eq!(send(deleted).await.0, 204, "delete {name}");
        let gone = s.client.get(s.url(&format!("/v1/topics/{name}")));
        assert_eq!(send(gone).await.0, 404, "{name} is gone");
    }
    s.stop().await;
}

fn assert_forbidden(status: u16, body: &Value, what: &str) {
    assert_eq!(status, 403, "{what}: {body}");
    assert_eq!(
        body["type"], "https://strom.dev/problems/internal-topic",
        "{what}"
    );
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("internal"),
        "{body}"
    );
}

#[tokio::test]
async fn internal_topics_refuse_writes_deletes_and_config_changes() {
    let s = common::start().await;
    let t = "__consumer_offsets";
    let broker = std::sync::Arc::clone(&s.broker);
    tokio::task::spawn_blocking(move || strom_broker::group::BrokerStorage::open(broker, 1))
        .await
        .expect("task")
        .expect("the coordinator's storage creates the offsets topic");
    let (status, body) = send(s.client.delete(s.url(&format!("/v1/topics/{t}")))).await;
    assert_forbidden(status, &body, "delete");
    let records = json!({"records": [{"value": "x"}]});
    let produce = s.client.post(s.url(&format!("/v1/topics/{t}/records")));
    let (status, body) = send(produce.json(&records)).await;
    assert_forbidden(status, &body, "produce");
    let configs = json!({"configs": {"retention.ms": "1"}});
    let alter = s.client.patch(s.url(&format!("/v1/topics/{t}/configs")));
    let (status, body) = send(alter.json(&configs)).await;
    assert_forbidden(status, &body, "configs");
    let grow = s.client.post(s.url(&format!("/v1/topics/{t}/partitions")));
    let (status, body) = send(grow.json(&json!({"count": 99}))).await;
    assert_forbidden(status, &body, "partitions");
    let create = s.client.post(s.url("/v1/topics"));
    let (status, body) = send(create.json(&json!({"name": "__strom_users"}))).await;
    assert_forbidden(status, &body, "create");
    let rest = s
        .client
        .post(s.url(&format!("/topics/{t}")))
        .header("content-type", "application/vnd.kafka.json.v2+json")
        .body(r#"{"records":[{"value":1}]}"#);
    let (status, body) = send(rest).await;
    assert!(
        status == 403 || body["offsets"][0]["error_code"] == 40301,
        "REST Proxy produce: {status} {body}"
    );
    let read = s
        .client
        .get(s.url(&format!("/v1/topics/{t}/partitions/0/records")));
    assert_eq!(send(read).await.0, 200, "reads stay allowed");
    assert!(s.broker.topic(t).is_some(), "still there");
    s.stop().await;
}

#[tokio::test]
async fn a_storage_error_reaches_the_client_without_a_path() {
    let s = common::start().await;
    // The server answers once its group coordinator has created `__consumer_offsets`.
    assert_eq!(send(s.client.get(s.url("/v1/topics"))).await.0, 200);
    // A file where `staging/` should be: creating a topic fails with an I/O error.
    let data_dir = s.broker.config().data_dir.clone();
    let staging = data_dir.join("staging");
    std::fs::remove_dir_all(&staging).expect("rmdir");
    std::fs::write(&staging, b"not a folder").expect("write");
    let r = s
        .client
        .post(s.url("/v1/topics"))
        .json(&json!({"name": "t"}));
    let r = r.send().await.expect("request");
    assert_eq!(r.status(), 500);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let body = r.text().await.expect("body");
    let dir = data_dir.to_string_lossy().into_owned();
    assert!(
        !body.contains(&dir),
        "the body names the data directory: {body}"
    );
    assert!(
        !body.contains("/tmp") && !body.contains("staging"),
        "{body}"
    );
    s.stop().await;
}

#[tokio::test]
async fn websocket_publish_to_an_internal_topic_is_refused() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let s = common::start().await;
    // The server answers once its group coordinator has created `__consumer_offsets`.
    assert_eq!(send(s.client.get(s.url("/v1/topics"))).await.0, 200);
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/v1/ws", s.addr))
        .await
        .expect("ws");
    let publish = json!({"op": "publish", "topic": "__consumer_offsets", "value": 1, "ref": 7});
    ws.send(Message::Text(publish.to_string().into()))
        .await
        .expect("send");
    let answer = loop {
        let m = tokio::time::timeout(std::time::Duration::from_secs(30), ws.next())
            .await
            .expect("an answer")
            .expect("open")
            .expect("frame");
        if let Message::Text(t) = m {
            break t.to_string();
        }
    };
    assert!(answer.contains("internal"), "{answer}");
    let p = s
        .broker
        .partition("__consumer_offsets", 0)
        .expect("partition");
    assert_eq!(p.high_watermark(), 0, "nothing written: {answer}");
    s.stop().await;
}
