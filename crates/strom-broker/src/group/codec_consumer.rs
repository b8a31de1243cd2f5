//! The KIP-848 records of `__consumer_offsets`, in Kafka's layouts (`group-coordinator`'s
//! `ConsumerGroup*Key`/`Value` schemas as Kafka 4.0 writes them): keys are record types 3 to 8
//! (`int16` type, then `int16`-length strings), values are version 0 of flexible schemas
//! (unsigned-varint compact strings and arrays, 16-byte topic ids, a tagged-field section at
//! the end of every struct; Strom writes no tagged fields and skips any it reads).
//!
//! | type | key | value |
//! | --- | --- | --- |
//! | 3 | group | `ConsumerGroupMetadataValue`: the group epoch |
//! | 4 | group | `ConsumerGroupPartitionMetadataValue`: the subscribed topics' metadata |
//! | 5 | group, member | `ConsumerGroupMemberMetadataValue`: subscription, rack, client; tagged field 0 `ClassicMemberMetadata` for a classic member |
//! | 6 | group | `ConsumerGroupTargetAssignmentMetadataValue`: the assignment epoch |
//! | 7 | group, member | `ConsumerGroupTargetAssignmentMemberValue`: the member's target |
//! | 8 | group, member | `ConsumerGroupCurrentMemberAssignmentValue`: epochs, owned, revoking |

use bytes::{BufMut, Bytes, BytesMut};

use super::codec::{corrupt, Reader};
use super::GroupError;

/// Which KIP-848 record a key names (the record type is its `int16` prefix).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ConsumerKey {
    Metadata,
    PartitionMetadata,
    Member(String),
    TargetMetadata,
    TargetMember(String),
    CurrentAssignment(String),
}

impl ConsumerKey {
    pub(crate) fn record_type(&self) -> u16 {
        match self {
            ConsumerKey::Metadata => 3,
            ConsumerKey::PartitionMetadata => 4,
            ConsumerKey::Member(_) => 5,
            ConsumerKey::TargetMetadata => 6,
            ConsumerKey::TargetMember(_) => 7,
            ConsumerKey::CurrentAssignment(_) => 8,
        }
    }

    /// The key's fields after the group id. Errors: `Storage` if truncated.
    pub(super) fn read(record_type: u16, r: &mut Reader<'_>) -> Result<Option<Self>, GroupError> {
        Ok(Some(match record_type {
            3 => ConsumerKey::Metadata,
            4 => ConsumerKey::PartitionMetadata,
            5 => ConsumerKey::Member(r.string()?),
            6 => ConsumerKey::TargetMetadata,
            7 => ConsumerKey::TargetMember(r.string()?),
            8 => ConsumerKey::CurrentAssignment(r.string()?),
            _ => return Ok(None),
        }))
    }

    pub(crate) fn member(&self) -> Option<&str> {
        match self {
            ConsumerKey::Member(m) | ConsumerKey::TargetMember(m) => Some(m),
            ConsumerKey::CurrentAssignment(m) => Some(m),
            _ => None,
        }
    }
}

/// Partitions by topic id, as the records hold them.
pub(crate) type TopicParts = Vec<([u8; 16], Vec<i32>)>;

/// `ConsumerGroupMemberMetadataValue`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct MemberValue {
    pub instance_id: Option<String>,
    pub rack_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    pub topic_names: Vec<String>,
    pub regex: Option<String>,
    pub rebalance_timeout_ms: i32,
    pub server_assignor: Option<String>,
    /// Tagged field 0, set for a member using the classic protocol (JoinGroup/SyncGroup).
    pub classic: Option<ClassicMemberValue>,
}

/// `ConsumerGroupMemberMetadataValue.ClassicMemberMetadata`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ClassicMemberValue {
    pub session_timeout_ms: i32,
    /// `(name, metadata)` of each protocol the member supports, in its order of preference.
    pub protocols: Vec<(String, Bytes)>,
}

/// `ConsumerGroupCurrentMemberAssignmentValue`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct CurrentValue {
    pub epoch: i32,
    pub previous_epoch: i32,
    /// Kafka's `MemberState`: 1 stable, 2 unrevoked partitions, 3 unreleased partitions.
    pub state: i8,
    pub assigned: TopicParts,
    pub revoking: TopicParts,
}

/// A KIP-848 record value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ConsumerValue {
    /// The group epoch.
    Metadata(i32),
    /// `(topic id, name, partitions)` of each subscribed topic.
    PartitionMetadata(Vec<([u8; 16], String, i32)>),
    Member(MemberValue),
    /// The assignment epoch.
    TargetMetadata(i32),
    TargetMember(TopicParts),
    CurrentAssignment(CurrentValue),
}

pub(crate) fn encode(value: &ConsumerValue) -> Bytes {
    let mut b = BytesMut::new();
    b.put_u16(0);
    match value {
        ConsumerValue::Metadata(epoch) | ConsumerValue::TargetMetadata(epoch) => b.put_i32(*epoch),
        ConsumerValue::PartitionMetadata(topics) => {
            varint(&mut b, topics.len() + 1);
            for (id, name, partitions) in topics {
                b.put_slice(id);
                string(&mut b, Some(name));
                b.put_i32(*partitions);
                varint(&mut b, 1); // no partition racks
                b.put_u8(0);
            }
        }
        ConsumerValue::Member(m) => {
            string(&mut b, m.instance_id.as_deref());
            string(&mut b, m.rack_id.as_deref());
            string(&mut b, Some(&m.client_id));
            string(&mut b, Some(&m.client_host));
            varint(&mut b, m.topic_names.len() + 1);
            for name in &m.topic_names {
                string(&mut b, Some(name));
            }
            string(&mut b, m.regex.as_deref());
            b.put_i32(m.rebalance_timeout_ms);
            string(&mut b, m.server_assignor.as_deref());
            if let Some(classic) = &m.classic {
                classic_tag(&mut b, classic);
                return b.freeze();
            }
        }
        ConsumerValue::TargetMember(parts) => topic_parts(&mut b, parts),
        ConsumerValue::CurrentAssignment(c) => {
            b.put_i32(c.epoch);
            b.put_i32(c.previous_epoch);
            b.put_i8(c.state);
            topic_parts(&mut b, &c.assigned);
            topic_parts(&mut b, &c.revoking);
        }
    }
    b.put_u8(0); // no tagged fields
    b.freeze()
}

/// Decodes the value of a record of `record_type`. Errors: `Storage` for a truncated value,
/// an unknown version or trailing bytes.
pub(crate) fn decode(key: &ConsumerKey, bytes: &[u8]) -> Result<ConsumerValue, GroupError> {
    let mut r = Reader(bytes);
    let version = r.u16()?;
    if version != 0 {
        return Err(corrupt(format!(
            "unknown consumer group value version {version}"
        )));
    }
    let value = match key {
        ConsumerKey::Metadata => ConsumerValue::Metadata(r.i32()?),
        ConsumerKey::TargetMetadata => ConsumerValue::TargetMetadata(r.i32()?),
        ConsumerKey::PartitionMetadata => return decode_partition_metadata(r),
        ConsumerKey::Member(_) => {
            let mut member = decode_member(&mut r)?;
            member.classic = member_tags(&mut r)?;
            r.finish()?;
            return Ok(ConsumerValue::Member(member));
        }
        ConsumerKey::TargetMember(_) => ConsumerValue::TargetMember(read_topic_parts(&mut r)?),
        ConsumerKey::CurrentAssignment(_) => ConsumerValue::CurrentAssignment(CurrentValue {
            epoch: r.i32()?,
            previous_epoch: r.i32()?,
            state: r.array::<1>()?[0] as i8,
            assigned: read_topic_parts(&mut r)?,
            revoking: read_topic_parts(&mut r)?,
        }),
    };
    skip_tags(&mut r)?;
    r.finish()?;
    Ok(value)
}

/// `ConsumerGroupPartitionMetadataValue` as Kafka 3.8+ writes it, or as Strom wrote it before
/// (an `int32` group epoch ahead of the topics: the field Kafka dropped in 3.8), so data
/// directories of earlier versions still load. Errors: `Storage` if neither layout reads.
fn decode_partition_metadata(r: Reader<'_>) -> Result<ConsumerValue, GroupError> {
    let read_all = |mut r: Reader<'_>| -> Result<ConsumerValue, GroupError> {
        let topics = read_topic_metadata(&mut r)?;
        skip_tags(&mut r)?;
        r.finish()?;
        Ok(ConsumerValue::PartitionMetadata(topics))
    };
    read_all(Reader(r.0)).or_else(|err| {
        let mut legacy = Reader(r.0);
        legacy.i32().map_err(|_| err)?;
        read_all(legacy)
    })
}

fn read_topic_metadata(r: &mut Reader<'_>) -> Result<Vec<([u8; 16], String, i32)>, GroupError> {
    let mut topics = Vec::new();
    for _ in 0..compact_len(r)? {
        let id = r.array::<16>()?;
        let name = compact_string(r)?.unwrap_or_default();
        let partitions = r.i32()?;
        for _ in 0..compact_len(r)? {
            r.i32()?;
            for _ in 0..compact_len(r)? {
                compact_string(r)?;
            }
            skip_tags(r)?;
        }
        skip_tags(r)?;
        topics.push((id, name, partitions));
    }
    Ok(topics)
}

fn decode_member(r: &mut Reader<'_>) -> Result<MemberValue, GroupError> {
    let instance_id = compact_string(r)?;
    let rack_id = compact_string(r)?;
    let client_id = compact_string(r)?.unwrap_or_default();
    let client_host = compact_string(r)?.unwrap_or_default();
    let mut topic_names = Vec::new();
    for _ in 0..compact_len(r)? {
        topic_names.push(compact_string(r)?.unwrap_or_default());
    }
    Ok(MemberValue {
        instance_id,
        rack_id,
        client_id,
        client_host,
        topic_names,
        regex: compact_string(r)?,
        rebalance_timeout_ms: r.i32()?,
        server_assignor: compact_string(r)?,
        classic: None,
    })
}

/// The tag section of a member value with `ClassicMemberMetadata` as tag 0, as Kafka's
/// generator writes a nullable struct there: size + 1, a presence byte (1), the struct.
fn classic_tag(b: &mut BytesMut, classic: &ClassicMemberValue) {
    let mut s = BytesMut::new();
    s.put_i32(classic.session_timeout_ms);
    varint(&mut s, classic.protocols.len() + 1);
    for (name, metadata) in &classic.protocols {
        string(&mut s, Some(name));
        varint(&mut s, metadata.len() + 1);
        s.put_slice(metadata);
        s.put_u8(0);
    }
    s.put_u8(0);
    varint(b, 1); // one tagged field
    varint(b, 0); // tag 0
    varint(b, s.len() + 1);
    b.put_u8(1);
    b.put_slice(&s);
}

/// Reads a member value's tag section: tag 0 is `ClassicMemberMetadata`, others are skipped.
fn member_tags(r: &mut Reader<'_>) -> Result<Option<ClassicMemberValue>, GroupError> {
    let mut classic = None;
    for _ in 0..read_varint(r)? {
        let tag = read_varint(r)?;
        let size = usize::try_from(read_varint(r)?).unwrap_or(usize::MAX);
        let raw = r.take(size)?;
        if tag != 0 {
            continue;
        }
        let mut t = Reader(raw);
        if (t.array::<1>()?[0] as i8) < 0 {
            continue;
        }
        let session_timeout_ms = t.i32()?;
        let mut protocols = Vec::new();
        for _ in 0..compact_len(&mut t)? {
            let name = compact_string(&mut t)?.unwrap_or_default();
            let n = read_varint(&mut t)?.saturating_sub(1);
            let metadata =
                Bytes::copy_from_slice(t.take(usize::try_from(n).unwrap_or(usize::MAX))?);
            skip_tags(&mut t)?;
            protocols.push((name, metadata));
        }
        skip_tags(&mut t)?;
        t.finish()?;
        classic = Some(ClassicMemberValue {
            session_timeout_ms,
            protocols,
        });
    }
    Ok(classic)
}

fn topic_parts(b: &mut BytesMut, parts: &TopicParts) {
    varint(b, parts.len() + 1);
    for (id, partitions) in parts {
        b.put_slice(id);
        varint(b, partitions.len() + 1);
        for p in partitions {
            b.put_i32(*p);
        }
        b.put_u8(0);
    }
}

fn read_topic_parts(r: &mut Reader<'_>) -> Result<TopicParts, GroupError> {
    let mut out = Vec::new();
    for _ in 0..compact_len(r)? {
        let id = r.array::<16>()?;
        let mut partitions = Vec::new();
        for _ in 0..compact_len(r)? {
            partitions.push(r.i32()?);
        }
        skip_tags(r)?;
        out.push((id, partitions));
    }
    Ok(out)
}

fn varint(b: &mut BytesMut, n: usize) {
    let mut n = n as u64;
    while n >= 0x80 {
        b.put_u8((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    b.put_u8(n as u8);
}

/// A compact (nullable) string: length + 1 as an unsigned varint, 0 for null.
fn string(b: &mut BytesMut, s: Option<&str>) {
    match s {
        None => b.put_u8(0),
        Some(s) => {
            varint(b, s.len() + 1);
            b.put_slice(s.as_bytes());
        }
    }
}

fn read_varint(r: &mut Reader<'_>) -> Result<u64, GroupError> {
    let mut out = 0u64;
    for shift in (0..35).step_by(7) {
        let byte = r.array::<1>()?[0];
        out |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(out);
        }
    }
    Err(corrupt("varint too long".into()))
}

/// A compact array's element count; a null array reads as empty. Every element takes at least
/// one byte, so a count beyond the bytes left is corrupt (and never allocates).
fn compact_len(r: &mut Reader<'_>) -> Result<usize, GroupError> {
    let n = read_varint(r)?.saturating_sub(1) as usize;
    if n > r.0.len() {
        return Err(corrupt(format!("array of {n} in {} bytes", r.0.len())));
    }
    Ok(n)
}

fn compact_string(r: &mut Reader<'_>) -> Result<Option<String>, GroupError> {
    let n = read_varint(r)?;
    if n == 0 {
        return Ok(None);
    }
    let raw = r.take((n - 1) as usize)?;
    String::from_utf8(raw.to_vec())
        .map(Some)
        .map_err(|_| corrupt("string is not UTF-8".into()))
}

/// Skips a tagged-field section (fields Strom does not know, such as `MetadataHash`).
fn skip_tags(r: &mut Reader<'_>) -> Result<(), GroupError> {
    for _ in 0..read_varint(r)? {
        read_varint(r)?;
        let size = read_varint(r)?;
        r.take(usize::try_from(size).unwrap_or(usize::MAX))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
