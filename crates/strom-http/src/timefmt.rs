//! Timestamps at the edge: Kafka milliseconds since the epoch to RFC 3339 and back.

use std::time::{Duration, UNIX_EPOCH};

use crate::error::{ApiError, ApiResult};

pub use strom_log::now_ms;

/// RFC 3339 UTC with milliseconds; negative (unknown) timestamps render as the epoch.
pub fn rfc3339(ms: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

/// A timestamp given by a client: integer milliseconds, or an RFC 3339 / ISO 8601 date-time.
pub fn parse_timestamp(text: &str) -> ApiResult<i64> {
    let text = text.trim();
    if let Ok(ms) = text.parse::<i64>() {
        if ms < 0 {
            return Err(ApiError::bad_request(format!(
                "timestamp {ms} is negative; expected milliseconds since the epoch"
            )));
        }
        return Ok(ms);
    }
    let t = humantime::parse_rfc3339_weak(text).map_err(|e| {
        ApiError::bad_request(format!(
            "invalid timestamp '{text}': {e}; expected milliseconds or RFC 3339"
        ))
    })?;
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .map_err(|_| ApiError::bad_request(format!("timestamp '{text}' is before 1970")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(
            parse_timestamp("2023-11-14T22:13:20.123Z").unwrap(),
            1_700_000_000_123
        );
        assert_eq!(parse_timestamp("42").unwrap(), 42);
        assert!(parse_timestamp("yesterday").is_err());
    }
}
