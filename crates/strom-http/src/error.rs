//! [`ApiError`]: every way an HTTP request can fail, and the one place where broker and log
//! errors become HTTP statuses. Rendered as RFC 9457 `application/problem+json`, or in the
//! Confluent REST Proxy shape (`{"error_code","message"}`) on the REST Proxy endpoints, so
//! existing REST Proxy clients keep working.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use strom_broker::{BrokerError, ConnectionRefused};
use strom_log::LogError;

/// Which wire shape the error body takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    Problem,
    RestProxy,
    /// Confluent Schema Registry: `{"error_code","message"}` as
    /// `application/vnd.schemaregistry.v1+json`.
    SchemaRegistry,
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
    /// Seconds for a `Retry-After` header (429 over quota).
    pub retry_after: Option<u64>,
}

/// `Retry-After` (seconds) of a read refused because the remote tier is unreachable.
const REMOTE_STORAGE_RETRY_AFTER_SECS: u64 = 1;

/// What a client is told about a storage failure; the details are in the server log only.
pub const STORAGE_FAILURE: &str =
    "the request failed with a storage error on the server; the details are in the server log";

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
            retry_after: None,
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
    /// 403: the caller is authenticated but not allowed to do this.
    pub fn forbidden_because(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail).code(40301)
    }
    pub fn not_acceptable(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_ACCEPTABLE, "not-acceptable", detail)
    }
    /// 507: the data directory cannot take the write now (full or read-only); retriable.
    pub fn insufficient_storage(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "insufficient-storage",
            detail,
        )
        .code(50701)
    }
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", detail).code(50002)
    }
    /// A storage failure: the detail (which names server paths) goes to the log, the client
    /// gets a fixed message.
    pub fn storage(err: &dyn std::error::Error) -> Self {
        tracing::error!(error = %err, "request failed with a storage error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "storage-error",
            STORAGE_FAILURE,
        )
        .code(50002)
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
    /// 403: the authorizer refused `operation` on `resource` (the ACL API's checks).
    pub fn acl_denied(operation: &str, resource: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "acl-denied",
            format!("not authorized to {operation} on {resource}"),
        )
        .code(40303)
    }
    /// A failed ACL change: an invalid ACL is 422, a storage failure is logged and 500.
    pub fn from_auth(err: &strom_auth::AuthError) -> Self {
        match err {
            strom_auth::AuthError::Invalid(reason) => ApiError::unprocessable(reason.clone()),
            other => ApiError::storage(other),
        }
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

/// 429: the caller's quota group is over its `what` quota; `Retry-After` says when the
/// next request is within it again (whole seconds, at least 1).
pub fn over_quota(what: &str, delay: std::time::Duration) -> ApiError {
    let seconds = delay.as_millis().div_ceil(1000).max(1) as u64;
    let mut e = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "quota-exceeded",
        format!("over the {what} quota of this user or client id; retry in {seconds} s"),
    )
    .code(42902);
    e.retry_after = Some(seconds);
    e
}

/// 403 for the quota administration routes (they need DescribeConfigs / AlterConfigs on the
/// cluster, as Kafka's quota APIs do).
pub fn quota_forbidden(operation: &str) -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "not-authorized",
        format!("not authorized: client quotas need {operation} on the cluster"),
    )
    .code(40303)
}

/// A refused quota change or filter: `Invalid` is 422; a storage failure is a fixed 500.
pub fn quota_error(err: strom_auth::AuthError) -> ApiError {
    use strom_auth::AuthError;
    match err {
        AuthError::Invalid(_) | AuthError::Authentication(_) => {
            ApiError::unprocessable(err.to_string()).code(42208)
        }
        AuthError::NotFound(_) => ApiError::not_found("not-found", err.to_string()),
        AuthError::Storage(_) => ApiError::storage(&err),
    }
}

impl ApiError {
    /// 401: no or bad credentials (the middleware adds `WWW-Authenticate`).
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", detail).code(40101)
    }
    /// 403: the principal may not do `operation` on the resource (named as Kafka does).
    pub fn forbidden(
        operation: strom_auth::Operation,
        resource_type: strom_auth::ResourceType,
        name: &str,
    ) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "authorization-failed",
            format!("not authorized to {operation} {resource_type} '{name}'"),
        )
        .code(40301)
    }
    /// 403 for a write authenticated by a session cookie without a valid CSRF token or a
    /// same-origin `Origin`.
    pub fn csrf(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "csrf-check-failed", detail).code(40302)
    }
    /// 429: too many failed authentications from one address.
    pub fn too_many_auth_failures() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-authentication-failures",
            "too many failed authentications from this address; retry later",
        )
        .code(42901)
    }
}

impl From<strom_auth::AuthError> for ApiError {
    fn from(err: strom_auth::AuthError) -> Self {
        use strom_auth::AuthError;
        let detail = err.to_string();
        match err {
            AuthError::Storage(_) => ApiError::storage(&err),
            AuthError::Invalid(_) => ApiError::unprocessable(detail),
            AuthError::Authentication(_) => ApiError::unauthorized(detail),
            AuthError::NotFound(_) => ApiError::not_found("not-found", detail),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.kind, self.detail)
    }
}

/// A user-store error (`/v1/users`): storage failures are logged and answered with a fixed
/// message; the others say what was wrong (never a secret).
pub fn user_store_error(err: strom_auth::AuthError) -> ApiError {
    use strom_auth::AuthError;
    match err {
        AuthError::Storage(_) => ApiError::storage(&err),
        AuthError::Invalid(detail) => ApiError::unprocessable(detail),
        AuthError::NotFound(detail) => ApiError::not_found("unknown-user", detail),
        AuthError::Authentication(detail) => {
            ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", detail)
        }
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
            BrokerError::InvalidRecord(_) | BrokerError::RecordErrors { .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid-record", detail)
                    .code(42206)
            }
            BrokerError::InternalTopic { .. } => {
                ApiError::new(StatusCode::FORBIDDEN, "internal-topic", detail).code(40301)
            }
            BrokerError::ShuttingDown => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting-down", detail).code(50003)
            }
            BrokerError::RemoteStorage => {
                let mut e = ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "remote-storage-unavailable",
                    detail,
                )
                .code(50304);
                // Retriable: the store is retried on the next request.
                e.retry_after = Some(REMOTE_STORAGE_RETRY_AFTER_SECS);
                e
            }
            BrokerError::InsufficientSpace { .. } | BrokerError::ReadOnlyStorage => {
                ApiError::insufficient_storage(detail)
            }
            BrokerError::Log(log) => log.into(),
            BrokerError::DuplicateSequence { .. }
            | BrokerError::OutOfOrderSequence { .. }
            | BrokerError::InvalidProducerEpoch { .. }
            | BrokerError::UnknownProducerId(_) => ApiError::internal(detail),
            BrokerError::Io { .. } => ApiError::storage(&err),
        }
    }
}

/// Webhook failures: bad input 422, a refused target 422 (`target-refused`), a resend of
/// no record 422 (`offset-out-of-range`), unknown
/// subscription or topic 404, an existing name or a dead-letter topic owned by something
/// else 409.
impl From<strom_webhooks::WebhookError> for ApiError {
    fn from(err: strom_webhooks::WebhookError) -> Self {
        use strom_webhooks::WebhookError as W;
        let detail = err.to_string();
        match err {
            W::Invalid(_) => ApiError::unprocessable(detail),
            W::TargetRefused(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "target-refused", detail)
            }
            W::NotFound(_) => ApiError::not_found("unknown-webhook", detail),
            W::UnknownTopic(_) => ApiError::not_found("unknown-topic", detail).code(40401),
            W::Exists(_) => ApiError::new(StatusCode::CONFLICT, "webhook-exists", detail),
            W::Conflict(_) => {
                ApiError::new(StatusCode::CONFLICT, "dead-letter-topic-taken", detail)
            }
            W::OutOfRange(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "offset-out-of-range",
                detail,
            )
            .code(42202),
            W::Broker(b) => b.into(),
            W::Group(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "coordinator-unavailable",
                "the group coordinator could not store the subscription's position",
            ),
        }
    }
}

/// A connection turned away at accept: the whole listener is full (503, everyone waits), or
/// this client's address holds its share (429, only this client must slow down). The detail
/// is fixed: it names no address or limit.
impl From<ConnectionRefused> for ApiError {
    fn from(err: ConnectionRefused) -> Self {
        match err {
            ConnectionRefused::Total { .. } => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "too-many-connections",
                "too many connections",
            )
            .code(50301),
            ConnectionRefused::PerAddress { .. } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-connections-from-address",
                "too many connections from this address",
            )
            .code(42901),
        }
    }
}

/// What a client is told when a write failed on the disk (the detail is logged).
const DISK_REFUSED: &str = "the write failed on the broker's disk (full or read-only); the \
partition is reopened automatically once the disk accepts writes again: retry later";

/// Full (`ENOSPC`, `EDQUOT`) or read-only (`EROFS`): the disk refuses writes, not a bug in
/// the request.
fn is_disk_refusal(err: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        err.kind(),
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded | ErrorKind::ReadOnlyFilesystem
    )
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
            // The partition is reopened by itself once the disk takes writes again: retriable.
            LogError::Poisoned(_) => {
                tracing::error!(error = %detail, "request failed on a poisoned partition");
                ApiError::insufficient_storage(DISK_REFUSED)
            }
            LogError::Io { ref source, .. } if is_disk_refusal(source) => {
                tracing::error!(error = %detail, "write failed: disk full or read-only");
                ApiError::insufficient_storage(DISK_REFUSED)
            }
            LogError::CorruptSegment { .. } | LogError::Io { .. } | LogError::Interrupted => {
                ApiError::storage(&err)
            }
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
            Flavor::SchemaRegistry => (
                "application/vnd.schemaregistry.v1+json",
                serde_json::json!({"error_code": self.rest_code, "message": self.detail}),
            ),
        };
        let mut response = (self.status, body.to_string()).into_response();
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
            .extensions_mut()
            .insert(RejectionDetail(self.detail));
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// A schema registry error in Confluent's shape: its code, and the code's first three
/// digits as the HTTP status; a store failure is logged and answered with a fixed message.
pub fn schema_error(err: strom_schema::SchemaError) -> ApiError {
    let status = StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let detail = match &err {
        strom_schema::SchemaError::Store(reason) => {
            tracing::error!(error = %reason, "schema registry store failed");
            STORAGE_FAILURE.to_string()
        }
        other => other.to_string(),
    };
    let mut e = ApiError::new(status, "schema-registry", detail).code(err.code());
    e.flavor = Flavor::SchemaRegistry;
    e
}

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
        let e: ApiError = BrokerError::InsufficientSpace {
            free_bytes: 1,
            min_free_bytes: 2,
        }
        .into();
        assert_eq!(
            (e.status, e.kind),
            (StatusCode::INSUFFICIENT_STORAGE, "insufficient-storage")
        );
        let e: ApiError = BrokerError::ReadOnlyStorage.into();
        assert_eq!(e.status, StatusCode::INSUFFICIENT_STORAGE);
    }

    #[test]
    fn disk_failures_are_507_without_server_paths() {
        let full = LogError::Io {
            path: "/srv/strom/topics/t/0/0.log".into(),
            source: std::io::Error::from_raw_os_error(28), // ENOSPC,
        };
        for err in [full, LogError::Poisoned("/srv/strom/topics/t/0".into())] {
            let e: ApiError = BrokerError::Log(err).into();
            assert_eq!(e.status, StatusCode::INSUFFICIENT_STORAGE);
            assert!(!e.detail.contains("/srv"), "{}", e.detail);
        }
    }

    #[test]
    fn storage_errors_reach_clients_without_paths() {
        let io = || std::io::Error::other("disk gone");
        let cases: Vec<BrokerError> = vec![
            BrokerError::Io {
                path: "/srv/strom-data/topics/t".into(),
                source: io(),
            },
            // A poisoned partition is 507 (reopened by itself): `disk_failures_are_507_...`.
            LogError::Io {
                path: "/srv/strom-data/topics/t/0/00.log".into(),
                source: io(),
            }
            .into(),
            LogError::CorruptSegment {
                file: "/srv/strom-data/topics/t/0/00.log".into(),
                position: 7,
                reason: "crc".into(),
            }
            .into(),
        ];
        for err in cases {
            let e: ApiError = err.into();
            assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
            assert_eq!(e.detail, STORAGE_FAILURE);
        }
    }

    #[test]
    fn internal_topics_answer_forbidden() {
        let e: ApiError = BrokerError::InternalTopic {
            topic: "__consumer_offsets".into(),
            operation: strom_broker::ClientOperation::Delete,
        }
        .into();
        assert_eq!((e.status, e.rest_code), (StatusCode::FORBIDDEN, 40301));
        assert!(e.detail.contains("internal"), "{}", e.detail);
    }

    #[test]
    fn over_quota_is_429_with_retry_after_rounded_up() {
        let e = over_quota("producer_byte_rate", std::time::Duration::from_millis(1200));
        assert_eq!(
            (e.status, e.kind, e.retry_after),
            (StatusCode::TOO_MANY_REQUESTS, "quota-exceeded", Some(2))
        );
        let r = e.into_response();
        assert_eq!(r.headers()[header::RETRY_AFTER], "2");
        let storage = quota_error(strom_auth::AuthError::Storage("/srv/x: gone".into()));
        assert_eq!(storage.detail, STORAGE_FAILURE);
    }

    #[test]
    fn malformed_json_names_line_and_column() {
        let err = serde_json::from_str::<serde_json::Value>("{\n  \"a\": }").unwrap_err();
        let e = ApiError::malformed_json(&err);
        assert!(e.detail.contains("line 2 column"), "{}", e.detail);
    }
}
