//! Strom's `__consumer_offsets` value layout before Kafka's schemas were adopted (value
//! version 0, read only): start-up decodes it so a data directory written by an earlier
//! Strom keeps its offsets and groups, then rewrites those records in Kafka's format.
//!
//! Offset value: offset `i64`, leader epoch `i32`, metadata, commit timestamp `i64`.
//! Group value: protocol type, generation `i32`, protocol?, leader?, state timestamp `i64`,
//! member count `u32`, members (id, instance id?, client id, client host, session timeout
//! `i32`, rebalance timeout `i32`, subscription and assignment with `u32` lengths). Strings
//! have `u16` lengths, `u16::MAX` for a missing one. Both must fill the value exactly, which
//! tells them from Kafka's version-0 values.

use super::codec::{GroupValue, OffsetValue, Reader, StoredMember};
use super::GroupError;

/// `bytes` follows the version. Errors: `Storage` if it is not exactly this layout.
pub(super) fn decode_offset(bytes: &[u8]) -> Result<OffsetValue, GroupError> {
    let mut r = Reader(bytes);
    let value = OffsetValue {
        offset: r.i64()?,
        leader_epoch: r.i32()?,
        metadata: r.string()?,
        commit_timestamp_ms: r.i64()?,
    };
    r.finish()?;
    Ok(value)
}

/// `bytes` follows the version. Errors: `Storage` if it is not exactly this layout.
pub(super) fn decode_group(bytes: &[u8]) -> Result<GroupValue, GroupError> {
    let mut r = Reader(bytes);
    let protocol_type = r.string()?;
    let generation = r.i32()?;
    let protocol = r.opt_string()?;
    let leader = r.opt_string()?;
    let state_timestamp_ms = r.i64()?;
    let count = r.u32()?;
    let mut members = Vec::new();
    for _ in 0..count {
        members.push(StoredMember {
            member_id: r.string()?,
            group_instance_id: r.opt_string()?,
            client_id: r.string()?,
            client_host: r.string()?,
            session_timeout_ms: r.i32()?,
            rebalance_timeout_ms: r.i32()?,
            subscription: r.legacy_bytes()?,
            assignment: r.legacy_bytes()?,
        });
    }
    r.finish()?;
    Ok(GroupValue {
        protocol_type,
        generation,
        protocol,
        leader,
        state_timestamp_ms,
        members,
    })
}
