//! Conversions shared by the group handlers: optional strings, and group errors to codes.

use kafka_protocol::protocol::StrBytes;
use strom_broker::GroupError;

use super::common::str_bytes;

pub fn opt_string(s: &Option<StrBytes>) -> Option<String> {
    s.as_ref().map(|s| s.to_string())
}

pub fn opt_str_bytes(s: &Option<String>) -> Option<StrBytes> {
    s.as_deref().map(str_bytes)
}

/// The wire code of an optional group error (0 for success).
pub fn code(error: &Option<GroupError>) -> i16 {
    error.as_ref().map_or(0, crate::errors::group_error_code)
}
