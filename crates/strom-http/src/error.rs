//! [`ApiError`]: every way an HTTP request can fail, and the one place where broker and log
//! errors become HTTP statuses. Rendered as RFC 9457 `application/problem+json`, or in the
//! Confluent REST Proxy shape (`{"error_code","message"}`) on the REST Proxy endpoints, so
//! existing REST Proxy clients keep working.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use strom_broker::BrokerError;
use strom_log::LogError;

/// Which wire shape the error body takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Problem,
    RestProxy,
}

/// A failed request: status, a stable problem `type` slug, a human detail, and the REST
/// Proxy 5-digit error code used when rendered in that flavor.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub detail: String,
    pub rest_code: u32,
    pub flavor: Flavor,
}

/// The detail of a rejected request, left in the response extensions so the access-log
/// middleware can say why without re-parsing the body.
#[derive(Debug, Clone)]
pub struct RejectionDetail(pub String);

impl ApiError {
    pub fn new(status: StatusCode, kind: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            detail: detail.into(),
            rest_code: u32::from(status.as_u16()),
            flavor: Flavor::Problem,
        }
    }
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad-request", detail)
    }
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-request", detail)
    }
    pub fn not_found(kind: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, kind, detail)
    }
    pub fn unsupported_media_type(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            detail,
        )
    }
    pub fn not_acceptable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_ACCEPTABLE, "not-acceptable", detail)
    }
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", detail).code(50002)
    }
    /// A JSON body that does not parse or does not match the expected shape; serde's
    /// message already names the line and column.
    pub fn malformed_json(err: &serde_json::Error) -> Self {
        let kind = if err.is_data() {
            "invalid-json-shape"
        } else {
            "malformed-json"
        };
        Self::new(
            StatusCode::BAD_REQUEST,
            kind,
            format!(
                "malformed JSON body at line {} column {}: {err}",
                err.line(),
                err.column()
            ),
        )
    }
    /// Sets the REST Proxy error code.
    pub fn code(mut self, rest_code: u32) -> Self {
        self.rest_code = rest_code;
        self
    }
    /// Renders in the REST Proxy shape.
    pub fn rest(mut self) -> Self {
        self.flavor = Flavor::RestProxy;
        self
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.kind, self.detail)
    }
}

impl From<BrokerError> for ApiError {
    fn from(err: BrokerError) -> Self {
        let detail = err.to_string();
        match err {
            BrokerError::UnknownTopic(_) => {
                ApiError::not_found("unknown-topic", detail).code(40401)
            }
            BrokerError::UnknownPartition { .. } => {
                ApiError::not_found("unknown-partition", detail).code(40402)
            }
            BrokerError::TopicExists(_) => {
                ApiError::new(StatusCode::CONFLICT, "topic-exists", detail).code(40902)
            }
            BrokerError::InvalidTopicName { .. }
            | BrokerError::InvalidPartitions(_)
            | BrokerError::InvalidConfig(_) => ApiError::unprocessable(detail).code(42204),
            BrokerError::InvalidRecord(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-record", detail)
                    .code(42206)
            }
            BrokerError::ShuttingDown => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting-down", detail).code(50003)
            }
            BrokerError::Log(log) => log.into(),
            BrokerError::DuplicateSequence { .. }
            | BrokerError::OutOfOrderSequence { .. }
            | BrokerError::InvalidProducerEpoch { .. }
            | BrokerError::UnknownProducerId(_) => ApiError::internal(detail),
            BrokerError::Io { .. } => ApiError::internal(detail),
        }
    }
}

impl From<LogError> for ApiError {
    fn from(err: LogError) -> Self {
        let detail = err.to_string();
        match err {
            LogError::BatchTooLarge { .. } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "record-batch-too-large",
                detail,
            )
            .code(41301),
            LogError::OffsetOutOfRange { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "offset-out-of-range",
                detail,
            )
            .code(42202),
            LogError::CorruptBatch(_) | LogError::InvalidRecord { .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-record", detail)
                    .code(42206)
            }
            LogError::DecompressedTooLarge { .. } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "decompressed-batch-too-large",
                detail,
            )
            .code(41302),
            // A stored record too large to render: the detail names its offset so the reader
            // can go on after it.
            LogError::RecordTooLarge { .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "record-too-large", detail)
                    .code(42207)
            }
            LogError::Closed => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", detail).code(50003)
            }
            _ => ApiError::internal(detail),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (content_type, body) = match self.flavor {
            Flavor::Problem => (
                "application/problem+json",
                serde_json::json!({
                    "type": format!("https://strom.dev/problems/{}", self.kind),
                    "title": self.status.canonical_reason().unwrap_or("Error"),
                    "status": self.status.as_u16(),
                    "detail": self.detail,
                    "error_code": self.rest_code,
                }),
            ),
            Flavor::RestProxy => (
                "application/vnd.kafka.v2+json",
                serde_json::json!({"error_code": self.rest_code, "message": self.detail}),
            ),
        };
        let mut response = (self.status, body.to_string()).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        response
            .extensions_mut()
            .insert(RejectionDetail(self.detail));
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_errors_map_to_statuses() {
        let e: ApiError = BrokerError::UnknownTopic("t".into()).into();
        assert_eq!((e.status, e.rest_code), (StatusCode::NOT_FOUND, 40401));
        let e: ApiError = BrokerError::Log(LogError::BatchTooLarge { size: 2, max: 1 }).into();
        assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
        let e: ApiError = BrokerError::TopicExists("t".into()).into();
        assert_eq!(e.status, StatusCode::CONFLICT);
    }

    #[test]
    fn malformed_json_names_line_and_column() {
        let err = serde_json::from_str::<serde_json::Value>("{\n  \"a\": }").unwrap_err();
        let e = ApiError::malformed_json(&err);
        assert!(e.detail.contains("line 2 column"), "{}", e.detail);
    }
}
