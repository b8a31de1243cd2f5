//! Middleware that logs one line per rejected request and gives every error response the
//! problem+json shape, including those produced outside our handlers (axum's 404, 405,
//! query-string and path rejections, the body-size limit).

use axum::extract::Request;
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, RejectionDetail};

/// Bodies of foreign error responses are short; read at most this much of one.
const MAX_FOREIGN_BODY: usize = 8 * 1024;

pub async fn problems(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let uri = request.uri().clone();
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    if let Some(RejectionDetail(detail)) = response.extensions().get::<RejectionDetail>() {
        log(&method, &uri, status, detail);
        return response;
    }
    // Not ours: rewrite it as a problem, keeping the status and the original text.
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    let (parts, body) = response.into_parts();
    if is_json {
        let response = Response::from_parts(parts, body);
        log(&method, &uri, status, "(json error body)");
        return response;
    }
    let text = axum::body::to_bytes(body, MAX_FOREIGN_BODY)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let detail = match (status.as_u16(), text.is_empty()) {
        (404, true) => format!("no route for {} {}", method, uri.path()),
        (405, _) => format!("method {} is not allowed on {}", method, uri.path()),
        (_, true) => status.canonical_reason().unwrap_or("error").to_string(),
        (_, false) => text,
    };
    if status.as_u16() == 405 && is_rest_proxy_path(uri.path()) {
        // Jersey's answer, as Confluent's REST Proxy gives it.
        let error = ApiError::new(status, "method-not-allowed", "HTTP 405 Method Not Allowed")
            .code(405)
            .rest();
        return keep_headers(error.into_response(), &parts.headers, &method, &uri, status);
    }
    let kind = match status.as_u16() {
        404 => "no-route",
        405 => "method-not-allowed",
        413 => "body-too-large",
        _ => "bad-request",
    };
    let rewritten = ApiError::new(status, kind, detail).into_response();
    keep_headers(rewritten, &parts.headers, &method, &uri, status)
}

/// Paths of the Confluent REST Proxy v2 API, whose errors take its shape.
fn is_rest_proxy_path(path: &str) -> bool {
    ["/topics", "/consumers", "/brokers"]
        .iter()
        .any(|p| path == *p || path.starts_with(&format!("{p}/")))
}

/// Keeps the original headers (such as `Allow` on a 405) on a rewritten error, and logs it.
fn keep_headers(
    mut rewritten: Response,
    original: &axum::http::HeaderMap,
    method: &axum::http::Method,
    uri: &axum::http::Uri,
    status: axum::http::StatusCode,
) -> Response {
    for (name, value) in original.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewritten.headers_mut().insert(name.clone(), value.clone());
        }
    }
    if let Some(RejectionDetail(detail)) = rewritten.extensions().get::<RejectionDetail>() {
        log(method, uri, status, detail);
    }
    rewritten
}

fn log(
    method: &axum::http::Method,
    uri: &axum::http::Uri,
    status: axum::http::StatusCode,
    detail: &str,
) {
    if status.is_server_error() {
        tracing::warn!(%method, path = %uri.path(), status = status.as_u16(), detail, "request failed");
    } else {
        tracing::info!(%method, path = %uri.path(), status = status.as_u16(), detail, "request rejected");
    }
}
