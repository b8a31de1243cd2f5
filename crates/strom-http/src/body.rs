//! Request-body extraction with our error shapes: the size cap answers 413 and malformed JSON
//! answers 400 with line and column, both as problem+json instead of axum's plain text.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ApiResult};

/// The raw body, read under the configured size limit.
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Bytes::from_request(req, state).await {
            Ok(bytes) => Ok(RawBody(bytes)),
            Err(rejection) => {
                let status = rejection.status();
                let kind = if status == StatusCode::PAYLOAD_TOO_LARGE {
                    "body-too-large"
                } else {
                    "bad-body"
                };
                Err(ApiError::new(status, kind, rejection.body_text()).code(
                    if status == StatusCode::PAYLOAD_TOO_LARGE {
                        41301
                    } else {
                        u32::from(status.as_u16())
                    },
                ))
            }
        }
    }
}

/// Parses a JSON body; an empty body is reported as such rather than as "EOF at column 0".
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(ApiError::bad_request(
            "request body is empty; expected a JSON document",
        ));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::malformed_json(&e))
}

/// [`parse_json`] for bodies that may be left out: an empty body is `T::default()`.
pub fn parse_optional_json<T: DeserializeOwned + Default>(body: &[u8]) -> ApiResult<T> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(T::default());
    }
    parse_json(body)
}

/// Parses a REST Proxy request body, answering a malformed or mis-shaped one as Confluent's
/// REST Proxy does (its JSON parse and mapping exception mappers): 400 with `error_code` 400 and
/// the parser's message, without the position suffix.
pub fn parse_rest_json<T: DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(|e| rest_json_error(&e))
}

/// The REST Proxy's answer to a body that is not the JSON it expects.
pub fn rest_json_error(err: &serde_json::Error) -> ApiError {
    let text = err.to_string();
    let message = match text.rfind(" at line ") {
        Some(at) => text[..at].to_string(),
        None => text,
    };
    ApiError::bad_request(message).code(400).rest()
}

/// The media type essence of `Content-Type` (lower-case, parameters dropped), if any.
pub fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(essence)
}

/// `type/subtype` of a media type, lower-cased, without parameters.
pub fn essence(media: &str) -> String {
    media
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Requires `Content-Type` to be JSON (`application/json` or any `+json`); 415 otherwise.
pub fn require_json(headers: &HeaderMap) -> ApiResult<()> {
    match content_type(headers) {
        Some(ct) if ct == "application/json" || ct.ends_with("+json") => Ok(()),
        Some(ct) => Err(ApiError::unsupported_media_type(format!(
            "unsupported Content-Type '{ct}'; expected application/json"
        ))),
        None => Err(ApiError::unsupported_media_type(
            "missing Content-Type; expected application/json",
        )),
    }
}

/// The media types listed in `Accept` in preference order (q-weights honoured, ties keep
/// their order), essence only; empty when the header is absent.
pub fn accepted(headers: &HeaderMap) -> Vec<String> {
    let mut items: Vec<(f32, usize, String)> = Vec::new();
    for value in headers.get_all(header::ACCEPT) {
        let Ok(text) = value.to_str() else { continue };
        for part in text.split(',') {
            let mut pieces = part.split(';');
            let media = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            if media.is_empty() {
                continue;
            }
            let q = pieces
                .filter_map(|p| p.trim().strip_prefix("q="))
                .filter_map(|q| q.trim().parse::<f32>().ok())
                .next()
                .unwrap_or(1.0);
            if q > 0.0 {
                let n = items.len();
                items.push((q, n, media));
            }
        }
    }
    items.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    items.into_iter().map(|(_, _, m)| m).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn rest_proxy_json_errors_are_400_without_position() {
        let err = parse_rest_json::<serde_json::Value>(b"{\"records\": [").unwrap_err();
        assert_eq!(err.status, StatusCode::BAD_REQUEST);
        assert_eq!(err.rest_code, 400);
        assert!(!err.detail.contains("line"), "{}", err.detail);
        assert!(!err.detail.is_empty());
    }

    #[test]
    fn accept_honours_q_weights() {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json;q=0.5, application/atom+xml"),
        );
        assert_eq!(
            accepted(&h),
            vec!["application/atom+xml", "application/json"]
        );
    }

    #[test]
    fn empty_body_is_named() {
        let e = parse_json::<serde_json::Value>(b"  ").unwrap_err();
        assert!(e.detail.contains("empty"));
    }
}
