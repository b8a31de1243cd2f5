//! The record format of `__consumer_offsets`: keys and values of committed offsets and group
//! metadata, in a compact big-endian binary encoding with a version prefix.
//!
//! As in Kafka's own offsets topic, the key's version says what the record is (offset or
//! group metadata), so compaction keeps exactly the newest record per group and partition,
//! and a tombstone (no value) deletes it. Decoding never panics: a corrupt record is an error.

use bytes::{BufMut, Bytes, BytesMut};

use super::GroupError;

const OFFSET_KEY_VERSION: u16 = 1;
const GROUP_KEY_VERSION: u16 = 2;
const OFFSET_VALUE_VERSION: u16 = 0;
const GROUP_VALUE_VERSION: u16 = 0;

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
}

impl RecordKey {
    pub(crate) fn group(&self) -> &str {
        match self {
            RecordKey::Offset { group, .. } | RecordKey::Group { group } => group,
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
        other => return Err(corrupt(format!("unknown key version {other}"))),
    };
    r.finish()?;
    Ok(key)
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

/// Errors: `Storage` for a truncated value or an unknown version.
pub(crate) fn decode_offset(bytes: &[u8]) -> Result<OffsetValue, GroupError> {
    let mut r = Reader(bytes);
    r.version(OFFSET_VALUE_VERSION)?;
    let value = OffsetValue {
        offset: r.i64()?,
        leader_epoch: r.i32()?,
        metadata: r.string()?,
        commit_timestamp_ms: r.i64()?,
    };
    r.finish()?;
    Ok(value)
}

pub(crate) fn encode_group(value: &GroupValue) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_u16(GROUP_VALUE_VERSION);
    put_str(&mut buf, &value.protocol_type);
    buf.put_i32(value.generation);
    put_opt_str(&mut buf, value.protocol.as_deref());
    put_opt_str(&mut buf, value.leader.as_deref());
    buf.put_i64(value.state_timestamp_ms);
    buf.put_u32(value.members.len() as u32);
    for m in &value.members {
        put_str(&mut buf, &m.member_id);
        put_opt_str(&mut buf, m.group_instance_id.as_deref());
        put_str(&mut buf, &m.client_id);
        put_str(&mut buf, &m.client_host);
        buf.put_i32(m.session_timeout_ms);
        buf.put_i32(m.rebalance_timeout_ms);
        put_bytes(&mut buf, &m.subscription);
        put_bytes(&mut buf, &m.assignment);
    }
    buf.freeze()
}

/// Errors: `Storage` for a truncated value or an unknown version.
pub(crate) fn decode_group(bytes: &[u8]) -> Result<GroupValue, GroupError> {
    let mut r = Reader(bytes);
    r.version(GROUP_VALUE_VERSION)?;
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
            subscription: r.bytes()?,
            assignment: r.bytes()?,
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

/// Strings are u16-length-prefixed; longer ones are cut at a character boundary rather than
/// written with a wrong length (group ids, topics and client ids are far shorter in practice).
fn put_str(buf: &mut BytesMut, s: &str) {
    let mut end = s.len().min(u16::MAX as usize - 1);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    buf.put_u16(end as u16);
    buf.put_slice(&s.as_bytes()[..end]);
}

/// `u16::MAX` marks a missing string.
fn put_opt_str(buf: &mut BytesMut, s: Option<&str>) {
    match s {
        Some(s) => put_str(buf, s),
        None => buf.put_u16(u16::MAX),
    }
}

fn put_bytes(buf: &mut BytesMut, b: &[u8]) {
    buf.put_u32(b.len() as u32);
    buf.put_slice(b);
}

fn corrupt(what: String) -> GroupError {
    GroupError::Storage(format!("corrupt __consumer_offsets record: {what}"))
}

/// A bounds-checked cursor: every read past the end is an error, never a panic.
struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], GroupError> {
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
    fn array<const N: usize>(&mut self) -> Result<[u8; N], GroupError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }
    fn u16(&mut self) -> Result<u16, GroupError> {
        Ok(u16::from_be_bytes(self.array()?))
    }
    fn u32(&mut self) -> Result<u32, GroupError> {
        Ok(u32::from_be_bytes(self.array()?))
    }
    fn i32(&mut self) -> Result<i32, GroupError> {
        Ok(i32::from_be_bytes(self.array()?))
    }
    fn i64(&mut self) -> Result<i64, GroupError> {
        Ok(i64::from_be_bytes(self.array()?))
    }
    fn version(&mut self, expected: u16) -> Result<(), GroupError> {
        match self.u16()? {
            v if v == expected => Ok(()),
            v => Err(corrupt(format!("unknown value version {v}"))),
        }
    }
    fn opt_string(&mut self) -> Result<Option<String>, GroupError> {
        let len = self.u16()?;
        if len == u16::MAX {
            return Ok(None);
        }
        let raw = self.take(len as usize)?;
        String::from_utf8(raw.to_vec())
            .map(Some)
            .map_err(|_| corrupt("string is not UTF-8".into()))
    }
    fn string(&mut self) -> Result<String, GroupError> {
        self.opt_string()?
            .ok_or_else(|| corrupt("missing required string".into()))
    }
    fn bytes(&mut self) -> Result<Bytes, GroupError> {
        let len = self.u32()? as usize;
        Ok(Bytes::copy_from_slice(self.take(len)?))
    }
    fn finish(&self) -> Result<(), GroupError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(corrupt(format!("{} trailing bytes", self.0.len())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_and_differ_by_kind() {
        let offset = RecordKey::Offset {
            group: "g".into(),
            topic: "t".into(),
            partition: 3,
        };
        let group = RecordKey::Group { group: "g".into() };
        assert_eq!(decode_key(&encode_key(&offset)).unwrap(), offset);
        assert_eq!(decode_key(&encode_key(&group)).unwrap(), group);
        assert_ne!(encode_key(&offset), encode_key(&group));
    }

    #[test]
    fn values_round_trip() {
        let offset = OffsetValue {
            offset: 42,
            leader_epoch: -1,
            metadata: "meta ✓".into(),
            commit_timestamp_ms: 1_700_000_000_000,
        };
        assert_eq!(decode_offset(&encode_offset(&offset)).unwrap(), offset);
        let group = GroupValue {
            protocol_type: "consumer".into(),
            generation: 7,
            protocol: Some("range".into()),
            leader: None,
            state_timestamp_ms: 5,
            members: vec![StoredMember {
                member_id: "m-1".into(),
                group_instance_id: Some("i".into()),
                client_id: "c".into(),
                client_host: "/127.0.0.1".into(),
                session_timeout_ms: 10_000,
                rebalance_timeout_ms: 30_000,
                subscription: Bytes::from_static(b"sub"),
                assignment: Bytes::new(),
            }],
        };
        assert_eq!(decode_group(&encode_group(&group)).unwrap(), group);
    }

    #[test]
    fn truncated_or_trailing_bytes_are_errors_not_panics() {
        let key = encode_key(&RecordKey::Offset {
            group: "group".into(),
            topic: "topic".into(),
            partition: 0,
        });
        for cut in 0..key.len() {
            assert!(decode_key(&key[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = key.to_vec();
        long.push(0);
        assert!(decode_key(&long).is_err());
        assert!(decode_offset(&[0, 9]).is_err());
        assert!(decode_group(&[0, 0, 0xff, 0xff]).is_err());
    }
}
