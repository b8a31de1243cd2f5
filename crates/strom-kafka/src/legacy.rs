//! Request versions older tools still send that `kafka-protocol` no longer models (Kafka 4
//! removed them): ListOffsets v0, which Burrow 1.2.1 and old Sarama send. Its request is
//! parsed here into the v1 request the handler already answers (same code path), and the
//! answer is written back in v0's form: an `offsets` array per partition instead of one
//! offset and timestamp. Nothing here touches record batches (v0 read and wrote nothing but
//! offsets).

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{ApiKey, ListOffsetsRequest, ListOffsetsResponse};
use kafka_protocol::protocol::StrBytes;

/// `(api, version)` served here rather than by the codec; ApiVersions advertises them as the
/// API's minimum.
pub const LEGACY_VERSIONS: &[(ApiKey, i16)] = &[(ApiKey::ListOffsets, 0)];

/// Whether `api` at `version` is decoded and encoded by this module.
pub fn is_legacy(api: ApiKey, version: i16) -> bool {
    LEGACY_VERSIONS.contains(&(api, version))
}

fn take<const N: usize>(buf: &mut Bytes) -> Result<[u8; N], String> {
    if buf.remaining() < N {
        return Err("truncated ListOffsets v0 request".into());
    }
    let mut a = [0u8; N];
    buf.copy_to_slice(&mut a);
    Ok(a)
}

/// An array count, refused when the bytes left cannot hold that many entries of at least
/// `min_entry` bytes (so a hostile count never reserves memory).
fn count(buf: &mut Bytes, min_entry: usize) -> Result<usize, String> {
    let n = i32::from_be_bytes(take::<4>(buf)?);
    let n = usize::try_from(n).map_err(|_| format!("negative array count {n}"))?;
    if n.saturating_mul(min_entry) > buf.remaining() {
        return Err(format!("array count {n} exceeds the request"));
    }
    Ok(n)
}

fn string(buf: &mut Bytes) -> Result<StrBytes, String> {
    let len = i16::from_be_bytes(take::<2>(buf)?);
    let len = usize::try_from(len).map_err(|_| "null topic name".to_string())?;
    if buf.remaining() < len {
        return Err("truncated topic name".into());
    }
    StrBytes::from_utf8(buf.split_to(len)).map_err(|_| "topic name is not UTF-8".into())
}

/// The body of a ListOffsets v0 request (replica id, then topics of partitions with a
/// timestamp and `max_num_offsets`) as the equivalent v1 request.
///
/// Errors: a description of what is malformed (the connection is then closed).
pub fn decode_list_offsets_v0(mut buf: Bytes) -> Result<ListOffsetsRequest, String> {
    let replica_id = i32::from_be_bytes(take::<4>(&mut buf)?);
    let mut topics = Vec::new();
    for _ in 0..count(&mut buf, 6)? {
        let name = string(&mut buf)?;
        let mut partitions = Vec::new();
        for _ in 0..count(&mut buf, 16)? {
            let partition_index = i32::from_be_bytes(take::<4>(&mut buf)?);
            let timestamp = i64::from_be_bytes(take::<8>(&mut buf)?);
            // max_num_offsets: the answer carries at most one offset (see the module doc).
            let _max_num_offsets = i32::from_be_bytes(take::<4>(&mut buf)?);
            partitions.push(
                ListOffsetsPartition::default()
                    .with_partition_index(partition_index)
                    .with_timestamp(timestamp),
            );
        }
        topics.push(
            ListOffsetsTopic::default()
                .with_name(name.into())
                .with_partitions(partitions),
        );
    }
    if buf.has_remaining() {
        return Err(format!("{} bytes after the request", buf.remaining()));
    }
    Ok(ListOffsetsRequest::default()
        .with_replica_id(replica_id.into())
        .with_topics(topics))
}

/// Writes `response` in ListOffsets v0's form: per partition its error code and an array of
/// offsets holding the one offset found (empty when there is none, offset -1).
pub fn encode_list_offsets_v0(buf: &mut BytesMut, response: &ListOffsetsResponse) {
    buf.put_i32(response.topics.len() as i32);
    for t in &response.topics {
        let name = t.name.as_bytes();
        buf.put_i16(name.len() as i16);
        buf.put_slice(name);
        buf.put_i32(t.partitions.len() as i32);
        for p in &t.partitions {
            buf.put_i32(p.partition_index);
            buf.put_i16(p.error_code);
            if p.offset >= 0 {
                buf.put_i32(1);
                buf.put_i64(p.offset);
            } else {
                buf.put_i32(0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::list_offsets_response::{
        ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
    };

    fn v0_request(topic: &str, partitions: &[(i32, i64)]) -> Bytes {
        let mut b = BytesMut::new();
        b.put_i32(-1);
        b.put_i32(1);
        b.put_i16(topic.len() as i16);
        b.put_slice(topic.as_bytes());
        b.put_i32(partitions.len() as i32);
        for (p, ts) in partitions {
            b.put_i32(*p);
            b.put_i64(*ts);
            b.put_i32(1);
        }
        b.freeze()
    }

    #[test]
    fn a_v0_request_becomes_the_v1_request() {
        let req = decode_list_offsets_v0(v0_request("t", &[(0, -1), (3, -2)])).expect("decodes");
        assert_eq!(req.topics.len(), 1);
        assert_eq!(req.topics[0].name.as_str(), "t");
        let parts: Vec<(i32, i64)> = req.topics[0]
            .partitions
            .iter()
            .map(|p| (p.partition_index, p.timestamp))
            .collect();
        assert_eq!(parts, vec![(0, -1), (3, -2)]);
    }

    #[test]
    fn malformed_v0_requests_are_refused() {
        let good = v0_request("t", &[(0, -1)]);
        for cut in 0..good.len() {
            assert!(
                decode_list_offsets_v0(good.slice(..cut)).is_err(),
                "cut at {cut}"
            );
        }
        let mut hostile = BytesMut::new();
        hostile.put_i32(-1);
        hostile.put_i32(i32::MAX);
        assert!(decode_list_offsets_v0(hostile.freeze()).is_err());
        let mut trailing = BytesMut::from(&good[..]);
        trailing.put_u8(0);
        assert!(decode_list_offsets_v0(trailing.freeze()).is_err());
    }

    #[test]
    fn the_answer_carries_an_offsets_array() {
        let response =
            ListOffsetsResponse::default().with_topics(vec![ListOffsetsTopicResponse::default()
                .with_name(StrBytes::from_static_str("t").into())
                .with_partitions(vec![
                    ListOffsetsPartitionResponse::default()
                        .with_partition_index(0)
                        .with_offset(42),
                    ListOffsetsPartitionResponse::default()
                        .with_partition_index(1)
                        .with_error_code(3)
                        .with_offset(-1),
                ])]);
        let mut buf = BytesMut::new();
        encode_list_offsets_v0(&mut buf, &response);
        let mut want = BytesMut::new();
        want.put_i32(1);
        want.put_i16(1);
        want.put_slice(b"t");
        want.put_i32(2);
        want.put_i32(0);
        want.put_i16(0);
        want.put_i32(1);
        want.put_i64(42);
        want.put_i32(1);
        want.put_i16(3);
        want.put_i32(0);
        assert_eq!(buf, want);
    }
}
