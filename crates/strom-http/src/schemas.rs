//! Shared OpenAPI schemas of error bodies and small value types.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// RFC 9457 problem details, as every Strom endpoint answers errors.
#[derive(Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The Confluent REST Proxy style code (`status * 100 + n`, or the status).
    pub error_code: u32,
}

/// The Confluent REST Proxy v2 error body.
#[derive(Serialize, ToSchema)]
pub struct RestError {
    pub error_code: u32,
    pub message: String,
}

/// A timestamp: milliseconds since the epoch, or an RFC 3339 date-time.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum TimestampIn {
    Millis(i64),
    Text(String),
}

impl TimestampIn {
    pub fn to_millis(&self) -> crate::error::ApiResult<i64> {
        match self {
            TimestampIn::Millis(ms) => crate::timefmt::parse_timestamp(&ms.to_string()),
            TimestampIn::Text(text) => crate::timefmt::parse_timestamp(text),
        }
    }
}
