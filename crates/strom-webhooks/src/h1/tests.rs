//! Tests of the plain-HTTP connection pool against raw loopback receivers.

use super::*;

fn pool(url: &str) -> Option<Pool> {
    let url = Url::parse(url).expect("url");
    Pool::new(&url, 4, Arc::default(), Duration::from_secs(1))
}

#[test]
fn only_plain_http_without_credentials() {
    let p = pool("http://127.0.0.1:8080/hook?a=1#frag").expect("http");
    assert_eq!((p.host.as_str(), p.port), ("127.0.0.1", 8080));
    assert_eq!(p.authority, "127.0.0.1:8080");
    assert_eq!(p.path, "/hook?a=1");
    let v6 = pool("http://[::1]/").expect("v6");
    assert_eq!((v6.host.as_str(), v6.port), ("::1", 80));
    assert_eq!(v6.authority, "[::1]");
    assert!(pool("https://example.com/").is_none());
    assert!(pool("http://user:pw@example.com/").is_none());
}

type Seen = Arc<Mutex<(usize, Vec<String>)>>;

/// One request off `sock` (head and `content-length` body), or `None` at its end.
async fn request(sock: &mut TcpStream) -> Option<String> {
    use tokio::io::AsyncReadExt;
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let text = String::from_utf8_lossy(&data).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")?
                        .parse()
                        .ok()
                })
                .unwrap_or(0);
            if body.len() >= length {
                return Some(text);
            }
        }
        match sock.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
}

/// A raw HTTP/1.1 receiver that answers `per_conn` requests of a connection with 204 and
/// closes it, unanswered, at the next; counts connections and keeps the requests.
async fn receiver(per_conn: usize) -> (Url, Seen) {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook?x=1", listener.local_addr().expect("addr"));
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            log.lock().0 += 1;
            let log = Arc::clone(&log);
            tokio::spawn(async move {
                let mut answered = 0;
                while let Some(req) = request(&mut sock).await {
                    log.lock().1.push(req);
                    if answered == per_conn {
                        return;
                    }
                    answered += 1;
                    let _ = sock.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await;
                }
            });
        }
    });
    (Url::parse(&url).expect("url"), seen)
}

fn allow_loopback() -> Arc<TargetPolicy> {
    Arc::new(TargetPolicy {
        allow_private: true,
        allowed: Vec::new(),
        ca_pem: None,
    })
}

#[tokio::test]
async fn connections_are_kept_alive_and_a_closed_one_is_replaced() {
    let (url, seen) = receiver(usize::MAX).await;
    let pool = Pool::new(&url, 2, allow_loopback(), Duration::from_secs(5)).expect("pool");
    let mut headers = HeaderMap::new();
    headers.insert("webhook-id", HeaderValue::from_static("t/0/1"));
    for _ in 0..5 {
        let reply = pool
            .post(
                || headers.clone(),
                Bytes::from_static(b"{}"),
                Duration::from_secs(5),
            )
            .await
            .expect("reply");
        assert_eq!(reply.status, StatusCode::NO_CONTENT);
    }
    let (connections, requests) = seen.lock().clone();
    assert_eq!(
        (connections, requests.len()),
        (1, 5),
        "one kept-alive connection"
    );
    let head = requests[0].to_ascii_lowercase();
    assert!(head.starts_with("post /hook?x=1 http/1.1\r\n"), "{head}");
    for line in [
        "host: 127.0.0.1:",
        "user-agent: strom-webhooks",
        "webhook-id: t/0/1",
    ] {
        assert!(head.contains(line), "{line} in {head}");
    }
    assert!(
        head.contains("content-length: 2") && head.ends_with("{}"),
        "{head}"
    );

    // A receiver that answers one request per connection, then closes the connection
    // unanswered at the next: each later post goes out on a pooled connection, is
    // unanswered, and is sent once more on a new one.
    let (url, seen) = receiver(1).await;
    let pool = Pool::new(&url, 2, allow_loopback(), Duration::from_secs(5)).expect("pool");
    for _ in 0..3 {
        let reply = pool
            .post(
                || headers.clone(),
                Bytes::from_static(b"{}"),
                Duration::from_secs(5),
            )
            .await
            .expect("reply");
        assert_eq!(reply.status, StatusCode::NO_CONTENT);
    }
    assert_eq!(seen.lock().0, 3, "a new connection for each closed one");
    let refused = Pool::new(&url, 2, Arc::default(), Duration::from_secs(5)).expect("pool");
    let err = refused
        .post(|| headers.clone(), Bytes::new(), Duration::from_secs(5))
        .await
        .err();
    assert_eq!(err, Some(H1Error::Refused));
}

/// A raw receiver that answers the first `answer` requests of each connection with 204 and
/// then reads on without answering (the connection stays open).
async fn hanging_receiver(answer: usize) -> Url {
    use tokio::io::AsyncWriteExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut answered = 0;
                while request(&mut sock).await.is_some() {
                    if answered < answer {
                        answered += 1;
                        let _ = sock.write_all(b"HTTP/1.1 204 No Content\r\n\r\n").await;
                    }
                }
            });
        }
    });
    Url::parse(&url).expect("url")
}

/// The connection's timer is set by one request and moved by later ones: a later request
/// with a longer timeout is not cut off at the earlier deadline, one with a shorter timeout
/// is cut off at its own.
#[tokio::test]
async fn each_request_times_out_at_its_own_deadline_on_a_kept_connection() {
    let headers = HeaderMap::new();
    let post = |pool: Arc<Pool>, timeout: Duration| {
        let headers = headers.clone();
        async move {
            let started = Instant::now();
            let result = pool
                .post(|| headers.clone(), Bytes::from_static(b"{}"), timeout)
                .await;
            (result.map(|r| r.status), started.elapsed())
        }
    };
    // First answered with a short timeout, then unanswered with a longer one.
    let url = hanging_receiver(1).await;
    let pool =
        Arc::new(Pool::new(&url, 2, allow_loopback(), Duration::from_secs(5)).expect("pool"));
    let (first, _) = post(Arc::clone(&pool), Duration::from_millis(100)).await;
    assert_eq!(first, Ok(StatusCode::NO_CONTENT));
    let (second, took) = post(Arc::clone(&pool), Duration::from_millis(600)).await;
    assert_eq!(second, Err(H1Error::Timeout));
    assert!(
        took >= Duration::from_millis(600),
        "cut off early: {took:?}"
    );
    // First answered with a long timeout, then unanswered with a short one.
    let url = hanging_receiver(1).await;
    let pool =
        Arc::new(Pool::new(&url, 2, allow_loopback(), Duration::from_secs(5)).expect("pool"));
    let (first, _) = post(Arc::clone(&pool), Duration::from_secs(120)).await;
    assert_eq!(first, Ok(StatusCode::NO_CONTENT));
    let (second, took) = post(Arc::clone(&pool), Duration::from_millis(200)).await;
    assert_eq!(second, Err(H1Error::Timeout));
    assert!(
        took < Duration::from_secs(60),
        "waited for the earlier deadline: {took:?}"
    );
}
