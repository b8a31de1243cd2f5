//! The answer to a connection the accept loop turns away (see [`crate::server`]): a complete
//! HTTP/1.1 response written straight to the socket, since the connection never reaches
//! hyper. The status and problem+json body come from [`ApiError`] (the one place errors
//! become HTTP); this module only frames them, with a `content-length` computed from the
//! body so the two always agree. A client that opened with the HTTP/2 preface (h2c prior
//! knowledge) would read those bytes as a broken connection, so it gets the same response
//! over HTTP/2 instead ([`refuse_http2`]): hyper answers its first stream, then says GOAWAY.

use axum::response::IntoResponse;
use strom_broker::ConnectionRefused;

use crate::error::ApiError;

/// Largest body a refusal can have; problem bodies are a few hundred bytes.
const MAX_BODY: usize = 4096;

/// The raw bytes of the response that refuses a connection.
pub async fn refusal_bytes(refused: ConnectionRefused) -> Vec<u8> {
    let response = ApiError::from(refused).into_response();
    let (parts, body) = response.into_parts();
    // The body is an in-memory string, so this cannot fail; an empty body stays consistent.
    let body = axum::body::to_bytes(body, MAX_BODY)
        .await
        .unwrap_or_default();
    let content_type = parts
        .headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/problem+json");
    let mut raw = format!(
        "HTTP/1.1 {} {}\r\ncontent-type: {content_type}\r\nretry-after: 1\r\n\
         connection: close\r\ncontent-length: {}\r\n\r\n",
        parts.status.as_u16(),
        parts.status.canonical_reason().unwrap_or("Error"),
        body.len(),
    )
    .into_bytes();
    raw.extend_from_slice(&body);
    raw
}

/// How long a refused HTTP/2 client has to send its first request.
const HTTP2_REFUSAL_TIME: std::time::Duration = std::time::Duration::from_secs(2);

/// How long the refused HTTP/2 connection is driven after its answer before GOAWAY.
const ANSWER_FLUSH: std::time::Duration = std::time::Duration::from_millis(100);

/// Answers the first request of a refused HTTP/2 connection with the refusal, then ends it.
pub async fn refuse_http2(stream: tokio::net::TcpStream, refused: ConnectionRefused) {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

    let answered = std::sync::Arc::new(tokio::sync::Notify::new());
    let notify = std::sync::Arc::clone(&answered);
    let service = hyper::service::service_fn(move |_request| {
        notify.notify_one();
        let mut response = ApiError::from(refused).into_response();
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("1"),
        );
        std::future::ready(Ok::<_, std::convert::Infallible>(response))
    });
    let connection = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .max_concurrent_streams(1)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let served = async {
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = answered.notified() => {}
        }
        // Let the answer go out before GOAWAY: some clients (Python's h2) drop frames that
        // arrive after a GOAWAY, although RFC 9113 has the stream complete.
        if tokio::time::timeout(ANSWER_FLUSH, connection.as_mut())
            .await
            .is_ok()
        {
            return;
        }
        connection.as_mut().graceful_shutdown();
        let _ = connection.as_mut().await;
    };
    let _ = tokio::time::timeout(HTTP2_REFUSAL_TIME, served).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Splits a raw response into its head and body at the blank line.
    fn split(raw: &[u8]) -> (String, &[u8]) {
        let at = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("head ends with a blank line");
        (
            String::from_utf8_lossy(&raw[..at]).into_owned(),
            &raw[at + 4..],
        )
    }

    #[tokio::test]
    async fn the_503_is_exactly_head_and_body_of_consistent_length() {
        let raw = refusal_bytes(ConnectionRefused::Total { limit: 2 }).await;
        let (head, body) = split(&raw);
        let body_text = std::str::from_utf8(body).expect("utf-8 body");
        assert_eq!(
            head,
            format!(
                "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\n\
                 retry-after: 1\r\nconnection: close\r\ncontent-length: {}",
                body.len()
            )
        );
        let problem: serde_json::Value = serde_json::from_str(body_text).expect("json body");
        assert_eq!(
            problem,
            serde_json::json!({
                "type": "https://strom.dev/problems/too-many-connections",
                "title": "Service Unavailable",
                "status": 503,
                "detail": "too many connections",
                "error_code": 50301,
            })
        );
    }

    #[tokio::test]
    async fn the_per_address_refusal_is_a_429_naming_no_address() {
        let raw = refusal_bytes(ConnectionRefused::PerAddress {
            address: "10.1.2.3".parse().expect("ip"),
            limit: 7,
        })
        .await;
        let (head, body) = split(&raw);
        assert!(
            head.starts_with("HTTP/1.1 429 Too Many Requests\r\n"),
            "{head}"
        );
        assert!(
            head.ends_with(&format!("content-length: {}", body.len())),
            "{head}"
        );
        let text = std::str::from_utf8(body).expect("utf-8");
        assert!(!text.contains("10.1.2.3") && !text.contains('7'), "{text}");
    }
}
