//! Guards request decoding against hostile array counts.
//!
//! `kafka-protocol` 0.18 decodes an array by reading its count and calling
//! `Vec::with_capacity(count)` before reading any element. A malformed frame announcing
//! 2^31 elements of a 40-byte struct asks the allocator for 80 GiB; that allocation fails and
//! Rust *aborts the process* (allocation failure is not a catchable panic). One bad frame
//! would take the whole broker down, which the fuzz test found.
//!
//! The codec has no hook for a length check, so we decode through [`Probe`], a `ByteBuf` that
//! watches every count-sized read:
//! - unsigned varints (compact array/string/bytes lengths, tagged-field counts and sizes, all
//!   lengths of something that follows) larger than the bytes left are refused outright;
//! - an `INT32` larger than the bytes left is either a legitimate scalar (a timeout, a fetch
//!   `max_bytes`, a session id) or a hostile array count. We tell them apart by decoding twice
//!   with that one value replaced by 0 and by 1: a scalar leaves the rest of the decode
//!   identical, a count does not (one run reads an element, the other does not). Scalars are
//!   then allowed and decoding resumes; counts reject the frame.
//!
//! Only values above [`THRESHOLD`] are examined: smaller counts reserve at most
//! `THRESHOLD * size_of::<element>()` bytes (about 1 GiB, virtual and released at once when the
//! decode then fails), so ordinary requests decode in a single pass.

use std::ops::Range;

use bytes::{Buf, Bytes, TryGetError};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::buf::ByteBuf;
use kafka_protocol::protocol::Decodable;

/// Counts up to this are let through without examination (see the module doc).
const THRESHOLD: u64 = 1 << 22;
/// Upper bound on large scalars in one request before we give up on it.
const MAX_PROBES: usize = 64;

/// Decodes a request body of `api` at `version` without letting a hostile count reach an
/// allocation. Errors: the body is malformed, or announces more elements than it holds.
pub fn decode_body(api: ApiKey, body: &Bytes, version: i16) -> Result<RequestKind, String> {
    let mut allowed: Vec<usize> = Vec::new();
    for _ in 0..MAX_PROBES {
        let mut probe = Probe::new(body.clone(), &allowed, None, false);
        let result = decode_kind(api, &mut probe, version);
        if let Some(reason) = probe.refused {
            return Err(reason);
        }
        match probe.suspect {
            None => return result.map_err(|e| format!("{e:#}")),
            Some((at, value)) => {
                if is_scalar(api, body, version, &allowed, at) {
                    allowed.push(at);
                } else {
                    return Err(format!(
                        "count {value} at byte {at} of the body exceeds the bytes that follow"
                    ));
                }
            }
        }
    }
    Err(format!("more than {MAX_PROBES} implausibly large values"))
}

/// Whether the INT32 at `at` is a plain value rather than a count: replacing it with 0 and
/// with 1 must leave two complete decodes that read exactly the same bytes. As a count, 1
/// makes the decoder read one more element (every element is at least one byte), so the
/// reads differ. Later large INT32s read as 0 here, so they cannot stop either decode early;
/// a decode that fails for any other reason means a malformed body, refused either way.
fn is_scalar(api: ApiKey, body: &Bytes, version: i16, allowed: &[usize], at: usize) -> bool {
    let run = |substitute: i32| {
        let mut probe = Probe::new(body.clone(), allowed, Some((at, substitute)), true);
        let ok = decode_kind(api, &mut probe, version).is_ok() && probe.refused.is_none();
        (ok, probe.trace)
    };
    let (zero_ok, zero_trace) = run(0);
    let (one_ok, one_trace) = run(1);
    zero_ok && one_ok && zero_trace == one_trace
}

macro_rules! decode_kinds {
    ($api:expr, $buf:expr, $version:expr; $($kind:ident => $ty:ty),* $(,)?) => {
        match $api {
            $(ApiKey::$kind => RequestKind::$kind(<$ty>::decode($buf, $version)?),)*
            other => anyhow::bail!("no decoder for {other:?}"),
        }
    };
}

/// `RequestKind::decode` only takes `Bytes`; this is the same dispatch over any `ByteBuf`.
/// It lists the served APIs and the group/transaction APIs expected next, so adding one of
/// those needs no change here.
fn decode_kind<B: ByteBuf>(api: ApiKey, buf: &mut B, version: i16) -> anyhow::Result<RequestKind> {
    Ok(decode_kinds!(api, buf, version;
        Produce => ProduceRequest,
        Fetch => FetchRequest,
        ListOffsets => ListOffsetsRequest,
        Metadata => MetadataRequest,
        OffsetCommit => OffsetCommitRequest,
        OffsetFetch => OffsetFetchRequest,
        FindCoordinator => FindCoordinatorRequest,
        JoinGroup => JoinGroupRequest,
        Heartbeat => HeartbeatRequest,
        LeaveGroup => LeaveGroupRequest,
        SyncGroup => SyncGroupRequest,
        DescribeGroups => DescribeGroupsRequest,
        ListGroups => ListGroupsRequest,
        SaslHandshake => SaslHandshakeRequest,
        ApiVersions => ApiVersionsRequest,
        CreateTopics => CreateTopicsRequest,
        DeleteTopics => DeleteTopicsRequest,
        DeleteRecords => DeleteRecordsRequest,
        InitProducerId => InitProducerIdRequest,
        OffsetForLeaderEpoch => OffsetForLeaderEpochRequest,
        AddPartitionsToTxn => AddPartitionsToTxnRequest,
        AddOffsetsToTxn => AddOffsetsToTxnRequest,
        EndTxn => EndTxnRequest,
        TxnOffsetCommit => TxnOffsetCommitRequest,
        DescribeConfigs => DescribeConfigsRequest,
        AlterConfigs => AlterConfigsRequest,
        CreatePartitions => CreatePartitionsRequest,
        SaslAuthenticate => SaslAuthenticateRequest,
        DeleteGroups => DeleteGroupsRequest,
        IncrementalAlterConfigs => IncrementalAlterConfigsRequest,
        OffsetDelete => OffsetDeleteRequest,
        DescribeCluster => DescribeClusterRequest,
        DescribeLogDirs => DescribeLogDirsRequest,
        ElectLeaders => ElectLeadersRequest,
        AlterPartitionReassignments => AlterPartitionReassignmentsRequest,
        ListPartitionReassignments => ListPartitionReassignmentsRequest,
        DescribeAcls => DescribeAclsRequest,
        CreateAcls => CreateAclsRequest,
        DeleteAcls => DeleteAclsRequest,
        DescribeProducers => DescribeProducersRequest,
        DescribeTransactions => DescribeTransactionsRequest,
        ListTransactions => ListTransactionsRequest,
        ConsumerGroupHeartbeat => ConsumerGroupHeartbeatRequest,
        ConsumerGroupDescribe => ConsumerGroupDescribeRequest,
        DescribeClientQuotas => DescribeClientQuotasRequest,
        AlterClientQuotas => AlterClientQuotasRequest,
        DescribeUserScramCredentials => DescribeUserScramCredentialsRequest,
        AlterUserScramCredentials => AlterUserScramCredentialsRequest,
    ))
}

/// A read-only view of the body that inspects count-sized reads (see the module doc).
struct Probe<'a> {
    data: Bytes,
    pos: usize,
    /// Positions of INT32s already shown to be scalars.
    allowed: &'a [usize],
    /// Replace the INT32 at this position with this value.
    substitute: Option<(usize, i32)>,
    /// `(position, width)` of every read, when comparing two decodes. Comparing decodes
    /// also read every other unexamined large INT32 as 0.
    trace: Option<Vec<(usize, usize)>>,
    /// The first unexamined large INT32: `(position, value)`.
    suspect: Option<(usize, i32)>,
    /// Set when a varint length exceeds the bytes left.
    refused: Option<String>,
    /// The unsigned varint being read byte by byte: start, next position, value, bytes.
    varint: (usize, usize, u32, u32),
}

impl<'a> Probe<'a> {
    fn new(
        data: Bytes,
        allowed: &'a [usize],
        substitute: Option<(usize, i32)>,
        trace: bool,
    ) -> Self {
        Probe {
            data,
            pos: 0,
            allowed,
            substitute,
            trace: trace.then(Vec::new),
            suspect: None,
            refused: None,
            varint: (0, usize::MAX, 0, 0),
        }
    }

    fn record(&mut self, at: usize, width: usize) {
        if let Some(trace) = &mut self.trace {
            trace.push((at, width));
        }
    }

    fn short(&self, requested: usize) -> TryGetError {
        TryGetError {
            requested,
            available: self.remaining(),
        }
    }
}

impl Buf for Probe<'_> {
    fn remaining(&self) -> usize {
        self.data.len().saturating_sub(self.pos)
    }

    fn chunk(&self) -> &[u8] {
        self.data.get(self.pos..).unwrap_or(&[])
    }

    fn advance(&mut self, cnt: usize) {
        self.record(self.pos, cnt);
        self.pos = self.pos.saturating_add(cnt).min(self.data.len());
        self.varint.3 = 0;
    }

    fn try_get_u8(&mut self) -> Result<u8, TryGetError> {
        let at = self.pos;
        let Some(&b) = self.data.get(at) else {
            return Err(self.short(1));
        };
        self.pos += 1;
        self.record(at, 1);
        // Varint bytes are read one at a time and back to back; anything else in between
        // (another read) restarts the assembly.
        let (start, next, value, len) = self.varint;
        let (start, value, len) = if len > 0 && next == at && len < 5 {
            (start, value, len)
        } else {
            (at, 0, 0)
        };
        // Same arithmetic as the codec's decoder: u32, at most five bytes, the fifth ending the
        // varint whatever its high bit.
        let value = value | (u32::from(b & 0x7f) << (7 * len));
        if b < 0x80 || len + 1 == 5 {
            self.varint = (0, usize::MAX, 0, 0);
            if u64::from(value) > THRESHOLD && u64::from(value) > self.remaining() as u64 + 1 {
                self.refused = Some(format!(
                    "length {value} at byte {start} of the body exceeds the bytes that follow"
                ));
                return Err(self.short(value as usize));
            }
        } else {
            self.varint = (start, at + 1, value, len + 1);
        }
        Ok(b)
    }

    fn try_get_i32(&mut self) -> Result<i32, TryGetError> {
        let at = self.pos;
        let Some(raw) = self.data.get(at..at + 4) else {
            return Err(self.short(4));
        };
        let value = i32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]);
        self.pos += 4;
        self.record(at, 4);
        self.varint.3 = 0;
        if let Some((position, substitute)) = self.substitute {
            if position == at {
                return Ok(substitute);
            }
        }
        let large =
            u64::try_from(value).is_ok_and(|v| v > THRESHOLD && v > self.remaining() as u64);
        if large && !self.allowed.contains(&at) {
            if self.trace.is_some() {
                return Ok(0);
            }
            self.suspect = Some((at, value));
            return Err(self.short(value as usize));
        }
        Ok(value)
    }
}

impl ByteBuf for Probe<'_> {
    fn peek_bytes(&mut self, r: Range<usize>) -> Bytes {
        let start = (self.pos + r.start).min(self.data.len());
        let end = (self.pos + r.end).clamp(start, self.data.len());
        self.data.slice(start..end)
    }

    fn get_bytes(&mut self, size: usize) -> Bytes {
        let end = self.pos.saturating_add(size).min(self.data.len());
        let bytes = self.data.slice(self.pos..end);
        self.advance(end - self.pos);
        bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{BufMut, BytesMut};

    #[test]
    fn huge_int32_array_count_is_refused_not_allocated() {
        // DescribeConfigs v1 body: resources array count 2^31-1, then nothing.
        let mut body = BytesMut::new();
        body.put_i32(i32::MAX);
        let err = decode_body(ApiKey::DescribeConfigs, &body.freeze(), 1).unwrap_err();
        assert!(err.contains("exceeds"), "{err}");
    }

    #[test]
    fn huge_compact_array_count_is_refused() {
        // DescribeConfigs v4 (flexible): compact array count as a 5-byte varint.
        let body = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        let err = decode_body(ApiKey::DescribeConfigs, &body, 4).unwrap_err();
        assert!(err.contains("exceeds"), "{err}");
    }

    #[test]
    fn large_scalars_are_allowed() {
        // A Fetch with max_bytes and a session id far above the bytes that follow.
        use kafka_protocol::protocol::Encodable;
        let request = FetchRequest::default()
            .with_max_wait_ms(i32::MAX)
            .with_max_bytes(i32::MAX)
            .with_session_id(0x7fff_0000)
            .with_topics(vec![fetch_request::FetchTopic::default()
                .with_topic(TopicName(
                    kafka_protocol::protocol::StrBytes::from_static_str("t"),
                ))
                .with_partitions(vec![
                    fetch_request::FetchPartition::default().with_partition_max_bytes(i32::MAX)
                ])]);
        for version in [4, 11, 12, 15] {
            let mut buf = BytesMut::new();
            request.encode(&mut buf, version).expect("encodes");
            let decoded = decode_body(ApiKey::Fetch, &buf.freeze(), version).expect("decodes");
            let RequestKind::Fetch(fetch) = decoded else {
                panic!("fetch decodes to fetch")
            };
            assert_eq!(fetch.max_bytes, i32::MAX);
            assert_eq!(fetch.topics[0].partitions[0].partition_max_bytes, i32::MAX);
        }
    }
}
