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
//! | 5 | group, member | `ConsumerGroupMemberMetadataValue`: subscription, rack, client |
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
    /// The group epoch and `(topic id, name, partitions)` of each subscribed topic.
    PartitionMetadata(i32, Vec<([u8; 16], String, i32)>),
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
        ConsumerValue::PartitionMetadata(epoch, topics) => {
            b.put_i32(*epoch);
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
        ConsumerKey::PartitionMetadata => {
            let epoch = r.i32()?;
            let mut topics = Vec::new();
            for _ in 0..compact_len(&mut r)? {
                let id = r.array::<16>()?;
                let name = compact_string(&mut r)?.unwrap_or_default();
                let partitions = r.i32()?;
                for _ in 0..compact_len(&mut r)? {
                    r.i32()?;
                    for _ in 0..compact_len(&mut r)? {
                        compact_string(&mut r)?;
                    }
                    skip_tags(&mut r)?;
                }
                skip_tags(&mut r)?;
                topics.push((id, name, partitions));
            }
            ConsumerValue::PartitionMetadata(epoch, topics)
        }
        ConsumerKey::Member(_) => ConsumerValue::Member(decode_member(&mut r)?),
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
    })
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
mod tests {
    use super::*;

    fn round_trip(key: ConsumerKey, value: ConsumerValue) {
        let bytes = encode(&value);
        assert_eq!(decode(&key, &bytes).unwrap(), value, "{key:?}");
        for cut in 0..bytes.len() {
            assert!(decode(&key, &bytes[..cut]).is_err(), "{key:?} cut at {cut}");
        }
    }

    #[test]
    fn every_value_round_trips_and_truncation_is_an_error() {
        let id = [7u8; 16];
        round_trip(ConsumerKey::Metadata, ConsumerValue::Metadata(12));
        round_trip(
            ConsumerKey::TargetMetadata,
            ConsumerValue::TargetMetadata(11),
        );
        round_trip(
            ConsumerKey::PartitionMetadata,
            ConsumerValue::PartitionMetadata(12, vec![(id, "orders".into(), 8)]),
        );
        let member = MemberValue {
            instance_id: Some("i".into()),
            rack_id: None,
            client_id: "rdkafka".into(),
            client_host: "/127.0.0.1".into(),
            topic_names: vec!["a".into(), "b".into()],
            regex: Some("^logs-.*".into()),
            rebalance_timeout_ms: 300_000,
            server_assignor: Some("range".into()),
        };
        round_trip(
            ConsumerKey::Member("m".into()),
            ConsumerValue::Member(member),
        );
        round_trip(
            ConsumerKey::TargetMember("m".into()),
            ConsumerValue::TargetMember(vec![(id, vec![0, 3, 5])]),
        );
        let current = CurrentValue {
            epoch: 12,
            previous_epoch: 10,
            state: 2,
            assigned: vec![(id, vec![1])],
            revoking: vec![(id, vec![2, 4])],
        };
        round_trip(
            ConsumerKey::CurrentAssignment("m".into()),
            ConsumerValue::CurrentAssignment(current),
        );
    }

    #[test]
    fn layout_is_kafkas() {
        // ConsumerGroupMetadataValue v0: int16 version, int32 epoch, empty tag section.
        let bytes = encode(&ConsumerValue::Metadata(5));
        assert_eq!(&bytes[..], &[0, 0, 0, 0, 0, 5, 0]);
        // A target with one topic and partition 1: array of 1 (varint 2), uuid, [1], tags.
        let bytes = encode(&ConsumerValue::TargetMember(vec![([1; 16], vec![1])]));
        let mut want = vec![0, 0, 2];
        want.extend([1u8; 16]);
        want.extend([2, 0, 0, 0, 1, 0, 0]);
        assert_eq!(&bytes[..], &want[..]);
        // Unknown tagged fields are skipped: one tag (0) of 8 bytes (a MetadataHash).
        let mut tagged = vec![0, 0, 0, 0, 0, 5, 1, 0, 8];
        tagged.extend([9u8; 8]);
        assert_eq!(
            decode(&ConsumerKey::Metadata, &tagged).unwrap(),
            ConsumerValue::Metadata(5)
        );
    }
}
