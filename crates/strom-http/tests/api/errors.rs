//! Errors as RFC 9457 problems, and the connection limit answering 503.

use serde_json::json;

use crate::common;
use crate::helpers::problem;

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
