//! The record format of `__consumer_offsets`, byte for byte Kafka's: keys are
//! `OffsetCommitKey` (version 1) and `GroupMetadataKey` (version 2), values are
//! `OffsetCommitValue` (written as version 3) and `GroupMetadataValue` (written as version 1,
//! or 3 when a member is static), big-endian with `int16` string lengths, as in Kafka's
//! `group-coordinator` message schemas. Tools that read the topic directly (Burrow 1.2.1
//! decodes offset values 0, 1, 3 and group values 0, 1) understand it.
//!
//! The key's version says what the record is, so compaction keeps exactly the newest record
//! per group and partition, and a tombstone (key, null value) deletes it, as Kafka writes it.
//! Values of versions 0 to 3 decode; a version-0 value in Strom's earlier layout decodes too
//! (see `codec_legacy.rs`) and is reported as [`Format::Legacy`] so start-up rewrites it.
//! KIP-848's record types 3 to 8 are in `codec_consumer.rs`. Decoding never panics: a corrupt
//! record is an error.

use bytes::{BufMut, Bytes, BytesMut};

use super::codec_consumer::ConsumerKey;
use super::GroupError;
use crate::NewRecord;

const OFFSET_KEY_VERSION: u16 = 1;
const GROUP_KEY_VERSION: u16 = 2;
/// `OffsetCommitValue` version written: offset, leader epoch, metadata, commit timestamp.
const OFFSET_VALUE_VERSION: u16 = 3;
/// `GroupMetadataValue` version written for dynamic members (no state timestamp: it travels
/// as the record's timestamp), the newest one Burrow 1.2.1 decodes.
const GROUP_VALUE_VERSION: u16 = 1;
/// `GroupMetadataValue` version written when a member has a `group.instance.id`.
const GROUP_VALUE_STATIC_VERSION: u16 = 3;
/// Longest string Kafka's `int16` length can carry.
const MAX_STRING: usize = i16::MAX as usize;

/// Which layout a stored value was in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// Kafka's schemas.
    Kafka,
    /// Strom's layout before Kafka's was adopted; rewritten on start-up.
    Legacy,
}

/// What a record in `__consumer_offsets` is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RecordKey {
    Offset {
        group: String,
        topic: String,
        partition: i32,
    },
    Group {
        group: String,
    },
    /// A KIP-848 record (types 3 to 8, `codec_consumer.rs`).
    Consumer {
        group: String,
        key: ConsumerKey,
    },
}

impl RecordKey {
    pub(crate) fn group(&self) -> &str {
        match self {
            RecordKey::Offset { group, .. }
            | RecordKey::Group { group }
            | RecordKey::Consumer { group, .. } => group,
        }
    }
}

/// A committed offset as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OffsetValue {
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: String,
    pub commit_timestamp_ms: i64,
}

/// A member as stored in group metadata: enough to let it keep heartbeating after a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub session_timeout_ms: i32,
    pub rebalance_timeout_ms: i32,
    /// Metadata for the group's selected protocol.
    pub subscription: Bytes,
    pub assignment: Bytes,
}

/// Group metadata as stored after each completed rebalance and when the group empties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupValue {
    pub protocol_type: String,
    pub generation: i32,
    pub protocol: Option<String>,
    pub leader: Option<String>,
    /// Wall-clock time of the last state change (offset expiry counts from it when empty).
    pub state_timestamp_ms: i64,
    pub members: Vec<StoredMember>,
}

pub(crate) fn encode_key(key: &RecordKey) -> Bytes {
    let mut buf = BytesMut::new();
    match key {
        RecordKey::Offset {
            group,
            topic,
            partition,
        } => {
            buf.put_u16(OFFSET_KEY_VERSION);
            put_str(&mut buf, group);
            put_str(&mut buf, topic);
            buf.put_i32(*partition);
        }
        RecordKey::Group { group } => {
            buf.put_u16(GROUP_KEY_VERSION);
            put_str(&mut buf, group);
        }
        RecordKey::Consumer { group, key } => {
            buf.put_u16(key.record_type());
            put_str(&mut buf, group);
            if let Some(member) = key.member() {
                put_str(&mut buf, member);
            }
        }
    }
    buf.freeze()
}

/// Errors: `Storage` for a truncated key or an unknown key version.
pub(crate) fn decode_key(bytes: &[u8]) -> Result<RecordKey, GroupError> {
    let mut r = Reader(bytes);
    let key = match r.u16()? {
        OFFSET_KEY_VERSION => RecordKey::Offset {
            group: r.string()?,
            topic: r.string()?,
            partition: r.i32()?,
        },
        GROUP_KEY_VERSION => RecordKey::Group { group: r.string()? },
        other => {
            let group = r.string()?;
            match ConsumerKey::read(other, &mut r)? {
                Some(key) => RecordKey::Consumer { group, key },
                None => return Err(corrupt(format!("unknown key version {other}"))),
            }
        }
    };
    r.finish()?;
    Ok(key)
}

/// The record of one committed offset, or its tombstone (key and null value, as Kafka).
pub(crate) fn offset_record(
    group: &str,
    topic: &str,
    partition: i32,
    value: Option<&OffsetValue>,
) -> NewRecord {
    let key = RecordKey::Offset {
        group: group.to_string(),
        topic: topic.to_string(),
        partition,
    };
    NewRecord {
        key: Some(encode_key(&key)),
        value: value.map(encode_offset),
        ..NewRecord::default()
    }
}

/// The group metadata record, or its tombstone. A value's record carries the group's state
/// timestamp as its timestamp (version 1 has no field for it; decoding reads it back).
pub(crate) fn group_record(group: &str, value: Option<&GroupValue>) -> NewRecord {
    let key = RecordKey::Group {
        group: group.to_string(),
    };
    NewRecord {
        key: Some(encode_key(&key)),
        value: value.map(encode_group),
        timestamp: value.map(|v| v.state_timestamp_ms),
        ..NewRecord::default()
    }
}

pub(crate) fn encode_offset(value: &OffsetValue) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_u16(OFFSET_VALUE_VERSION);
    buf.put_i64(value.offset);
    buf.put_i32(value.leader_epoch);
    put_str(&mut buf, &value.metadata);
    buf.put_i64(value.commit_timestamp_ms);
    buf.freeze()
}

/// Decodes an `OffsetCommitValue` of version 0 to 3 (version 1's expire timestamp is
/// ignored, as Kafka 2.1+ does), or a legacy Strom value.
/// Errors: `Storage` for a truncated value or an unknown version.
pub(crate) fn decode_offset(bytes: &[u8]) -> Result<(OffsetValue, Format), GroupError> {
    let mut r = Reader(bytes);
    let version = r.u16()?;
    if version == 0 {
        if let Ok(value) = super::codec_legacy::decode_offset(r.0) {
            return Ok((value, Format::Legacy));
        }
    }
    if version > 3 {
        return Err(corrupt(format!("unknown offset value version {version}")));
    }
    let offset = r.i64()?;
    let leader_epoch = if version >= 3 { r.i32()? } else { -1 };
    let metadata = r.string()?;
    let commit_timestamp_ms = r.i64()?;
    if version == 1 {
        r.i64()?;
    }
    r.finish()?;
    let value = OffsetValue {
        offset,
        leader_epoch,
        metadata,
        commit_timestamp_ms,
    };
    Ok((value, Format::Kafka))
}

/// Version 1 unless a member is static (version 3 carries `group.instance.id`).
fn group_version(value: &GroupValue) -> u16 {
    if value.members.iter().any(|m| m.group_instance_id.is_some()) {
        GROUP_VALUE_STATIC_VERSION
    } else {
        GROUP_VALUE_VERSION
    }
}

/// Encodes group metadata; the caller stamps the record with `state_timestamp_ms`, since
/// version 1 has no field for it.
pub(crate) fn encode_group(value: &GroupValue) -> Bytes {
    let version = group_version(value);
    let mut buf = BytesMut::new();
    buf.put_u16(version);
    put_str(&mut buf, &value.protocol_type);
    buf.put_i32(value.generation);
    put_opt_str(&mut buf, value.protocol.as_deref());
    put_opt_str(&mut buf, value.leader.as_deref());
    if version >= 2 {
        buf.put_i64(value.state_timestamp_ms);
    }
    buf.put_i32(value.members.len() as i32);
    for m in &value.members {
        put_str(&mut buf, &m.member_id);
        if version >= 3 {
            put_opt_str(&mut buf, m.group_instance_id.as_deref());
        }
        put_str(&mut buf, &m.client_id);
        put_str(&mut buf, &m.client_host);
        buf.put_i32(m.rebalance_timeout_ms);
        buf.put_i32(m.session_timeout_ms);
        put_bytes(&mut buf, &m.subscription);
        put_bytes(&mut buf, &m.assignment);
    }
    buf.freeze()
}

/// Decodes a `GroupMetadataValue` of version 0 to 3, or a legacy Strom value. Versions
/// without `currentStateTimestamp` take `record_timestamp_ms` (what [`encode_group`]'s
/// caller stamps); version 0 has no rebalance timeout, which then equals the session timeout.
/// Errors: `Storage` for a truncated value or an unknown version.
pub(crate) fn decode_group(
    bytes: &[u8],
    record_timestamp_ms: i64,
) -> Result<(GroupValue, Format), GroupError> {
    let mut r = Reader(bytes);
    let version = r.u16()?;
    if version == 0 {
        if let Ok(value) = super::codec_legacy::decode_group(r.0) {
            return Ok((value, Format::Legacy));
        }
    }
    if version > 3 {
        return Err(corrupt(format!("unknown group value version {version}")));
    }
    let protocol_type = r.string()?;
    let generation = r.i32()?;
    let protocol = r.opt_string()?;
    let leader = r.opt_string()?;
    let state_timestamp_ms = if version >= 2 {
        r.i64()?
    } else {
        record_timestamp_ms
    };
    let count = r.count()?;
    let mut members = Vec::new();
    for _ in 0..count {
        members.push(decode_member(&mut r, version)?);
    }
    r.finish()?;
    let value = GroupValue {
        protocol_type,
        generation,
        protocol,
        leader,
        state_timestamp_ms,
        members,
    };
    Ok((value, Format::Kafka))
}

fn decode_member(r: &mut Reader<'_>, version: u16) -> Result<StoredMember, GroupError> {
    let member_id = r.string()?;
    let group_instance_id = if version >= 3 { r.opt_string()? } else { None };
    let client_id = r.string()?;
    let client_host = r.string()?;
    let rebalance_timeout_ms = if version >= 1 { Some(r.i32()?) } else { None };
    let session_timeout_ms = r.i32()?;
    Ok(StoredMember {
        member_id,
        group_instance_id,
        client_id,
        client_host,
        session_timeout_ms,
        rebalance_timeout_ms: rebalance_timeout_ms.unwrap_or(session_timeout_ms),
        subscription: r.bytes()?,
        assignment: r.bytes()?,
    })
}

/// Strings are `int16`-length-prefixed; longer ones are cut at a character boundary rather
/// than written with a wrong length (group ids, topics and client ids are far shorter).
fn put_str(buf: &mut BytesMut, s: &str) {
    let mut end = s.len().min(MAX_STRING);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    buf.put_u16(end as u16);
    buf.put_slice(&s.as_bytes()[..end]);
}

/// Length -1 (`u16::MAX` read unsigned) marks a missing string.
fn put_opt_str(buf: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => put_str(buf, s),
        None => buf.put_u16(u16::MAX),
    }
}

fn put_bytes(buf: &mut BytesMut, b: &[u8]) {
    buf.put_i32(i32::try_from(b.len()).unwrap_or(i32::MAX));
    buf.put_slice(b);
}

pub(super) fn corrupt(what: String) -> GroupError {
    GroupError::Storage(format!("corrupt __consumer_offsets record: {what}"))
}

/// A bounds-checked cursor: every read past the end is an error, never a panic.
pub(super) struct Reader<'a>(pub(super) &'a [u8]);

impl Reader<'_> {
    pub(super) fn take(&mut self, n: usize) -> Result<&[u8], GroupError> {
        if self.0.len() < n {
            return Err(corrupt(format!(
                "needs {n} more bytes, {} left",
                self.0.len()
            )));
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }
    pub(super) fn array<const N: usize>(&mut self) -> Result<[u8; N], GroupError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
    pub(super) fn u16(&mut self) -> Result<u16, GroupError> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    pub(super) fn u32(&mut self) -> Result<u32, GroupError> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    pub(super) fn i32(&mut self) -> Result<i32, GroupError> {
        Ok(i32::from_be_bytes(self.array()?))
    }
    pub(super) fn i64(&mut self) -> Result<i64, GroupError> {
        Ok(i64::from_be_bytes(self.array()?))
    }
    /// An `int32` array length; negative (null) is an error, as no array here is nullable.
    pub(super) fn count(&mut self) -> Result<usize, GroupError> {
        usize::try_from(self.i32()?).map_err(|_| corrupt("negative array length".into()))
    }
    pub(super) fn opt_string(&mut self) -> Result<Option<String>, GroupError> {
        let len = self.u16()?;
        if len == u16::MAX {
            return Ok(None);
        }
        let raw = self.take(len as usize)?;
        String::from_utf8(raw.to_vec())
            .map(Some)
            .map_err(|_| corrupt("string is not UTF-8".into()))
    }
    pub(super) fn string(&mut self) -> Result<String, GroupError> {
        self.opt_string()?
            .ok_or_else(|| corrupt("missing required string".into()))
    }
    /// `u32`-length-prefixed bytes (the legacy layout).
    pub(super) fn legacy_bytes(&mut self) -> Result<Bytes, GroupError> {
        let len = self.u32()? as usize;
        Ok(Bytes::copy_from_slice(self.take(len)?))
    }
    /// `int32`-length-prefixed bytes; null (-1) reads as empty.
    pub(super) fn bytes(&mut self) -> Result<Bytes, GroupError> {
        let len = self.i32()?;
        let Ok(len) = usize::try_from(len) else {
            return Ok(Bytes::new());
        };
        Ok(Bytes::copy_from_slice(self.take(len)?))
    }
    pub(super) fn finish(&self) -> Result<(), GroupError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(corrupt(format!("{} trailing bytes", self.0.len())))
        }
    }
}

#[cfg(test)]
mod tests;
