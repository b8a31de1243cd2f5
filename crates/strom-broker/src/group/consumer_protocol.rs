//! The standard consumer embedded protocol (protocol type `consumer`): the subscription a
//! member sends in JoinGroup metadata and the assignment the leader sends back in SyncGroup,
//! encoded as Kafka clients do (a version `i16`, then the `ConsumerProtocolSubscription` /
//! `ConsumerProtocolAssignment` body), plus Kafka's `range` assignor — so a member that is
//! not a Kafka client (the HTTP consumer API) can join a group and even lead it.

use std::collections::BTreeMap;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition as AssignedPartitions;
use kafka_protocol::messages::consumer_protocol_subscription::TopicPartition as OwnedPartitions;
use kafka_protocol::messages::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use super::{GroupError, JoinGroupResponse};

/// Highest body versions this code knows; newer ones only append fields, so they are read
/// as this version (as the Java client's `ConsumerProtocol` does).
const SUBSCRIPTION_MAX_VERSION: i16 = 3;
const ASSIGNMENT_MAX_VERSION: i16 = 3;
/// Versions written: v1 carries owned partitions, understood by every client since Kafka 2.4.
const SUBSCRIPTION_WRITE_VERSION: i16 = 1;
const ASSIGNMENT_WRITE_VERSION: i16 = 1;

/// A member's subscription.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Subscription {
    pub topics: Vec<String>,
    pub user_data: Option<Bytes>,
    /// Partitions the member owns now (cooperative rebalancing), by topic.
    pub owned_partitions: BTreeMap<String, Vec<i32>>,
}

/// A member's assignment: partitions by topic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Assignment {
    pub partitions: BTreeMap<String, Vec<i32>>,
    pub user_data: Option<Bytes>,
}

fn malformed(what: &str, err: impl std::fmt::Display) -> GroupError {
    tracing::debug!(error = %err, "malformed consumer protocol {what}");
    GroupError::InconsistentGroupProtocol
}

/// Splits the version prefix off and checks it.
fn version(bytes: &mut Bytes, what: &str) -> Result<i16, GroupError> {
    if bytes.remaining() < 2 {
        return Err(malformed(what, "shorter than its version"));
    }
    let version = bytes.get_i16();
    if version < 0 {
        return Err(malformed(what, format!("negative version {version}")));
    }
    Ok(version)
}

/// Walks the fields of a subscription (or, with `assignment`, an assignment) body, checking
/// that every array and byte count fits in the bytes that follow. `kafka-protocol` reserves
/// `count` elements before reading any, and these bytes come from clients: an unchecked count
/// of 2^31 would make the allocation fail, which aborts the process.
fn check_counts(body: &[u8], version: i16, assignment: bool) -> Result<(), String> {
    let mut r = Counts(body);
    let topics = r.count(if assignment { 6 } else { 2 })?;
    for _ in 0..topics {
        r.string()?;
        if assignment {
            let partitions = r.count(4)?;
            r.skip(partitions * 4)?;
        }
    }
    r.bytes()?;
    if !assignment && version >= 1 {
        let owned = r.count(6)?;
        for _ in 0..owned {
            r.string()?;
            let partitions = r.count(4)?;
            r.skip(partitions * 4)?;
        }
    }
    Ok(())
}

/// A cursor for [`check_counts`]; it only needs to be right about sizes.
struct Counts<'a>(&'a [u8]);

impl Counts<'_> {
    fn skip(&mut self, n: usize) -> Result<(), String> {
        if n > self.0.len() {
            return Err(format!("{n} bytes announced, {} left", self.0.len()));
        }
        self.0 = &self.0[n..];
        Ok(())
    }
    fn int(&mut self, width: usize) -> Result<i64, String> {
        let Some(raw) = self.0.get(..width) else {
            return Err("truncated".into());
        };
        let value = raw.iter().fold(0i64, |acc, b| (acc << 8) | i64::from(*b));
        self.0 = &self.0[width..];
        // Sign-extend: -1 (null) must stay negative.
        let shift = 64 - 8 * width as u32;
        Ok((value << shift) >> shift)
    }
    /// An array count; each element takes at least `min_element` bytes.
    fn count(&mut self, min_element: usize) -> Result<usize, String> {
        let n = usize::try_from(self.int(4)?).unwrap_or(0);
        if n.saturating_mul(min_element) > self.0.len() {
            return Err(format!("{n} elements announced in {} bytes", self.0.len()));
        }
        Ok(n)
    }
    fn string(&mut self) -> Result<(), String> {
        let len = usize::try_from(self.int(2)?).unwrap_or(0);
        self.skip(len)
    }
    fn bytes(&mut self) -> Result<(), String> {
        let len = usize::try_from(self.int(4)?).unwrap_or(0);
        self.skip(len)
    }
}

pub fn encode_subscription(subscription: &Subscription) -> Bytes {
    let body = ConsumerProtocolSubscription::default()
        .with_topics(
            subscription
                .topics
                .iter()
                .map(|t| StrBytes::from_string(t.clone()))
                .collect(),
        )
        .with_user_data(subscription.user_data.clone())
        .with_owned_partitions(
            subscription
                .owned_partitions
                .iter()
                .map(|(topic, partitions)| {
                    OwnedPartitions::default()
                        .with_topic(TopicName(StrBytes::from_string(topic.clone())))
                        .with_partitions(partitions.clone())
                })
                .collect(),
        );
    encode(&body, SUBSCRIPTION_WRITE_VERSION)
}

/// Errors: `InconsistentGroupProtocol` for bytes that are not a consumer subscription.
pub fn decode_subscription(bytes: &Bytes) -> Result<Subscription, GroupError> {
    let mut buf = bytes.clone();
    let version = version(&mut buf, "subscription")?.min(SUBSCRIPTION_MAX_VERSION);
    check_counts(&buf, version, false).map_err(|e| malformed("subscription", e))?;
    let body = ConsumerProtocolSubscription::decode(&mut buf, version)
        .map_err(|e| malformed("subscription", e))?;
    Ok(Subscription {
        topics: body.topics.iter().map(|t| t.to_string()).collect(),
        user_data: body.user_data,
        owned_partitions: body
            .owned_partitions
            .into_iter()
            .map(|tp| (tp.topic.0.to_string(), tp.partitions))
            .collect(),
    })
}

pub fn encode_assignment(assignment: &Assignment) -> Bytes {
    let body = ConsumerProtocolAssignment::default()
        .with_assigned_partitions(
            assignment
                .partitions
                .iter()
                .map(|(topic, partitions)| {
                    AssignedPartitions::default()
                        .with_topic(TopicName(StrBytes::from_string(topic.clone())))
                        .with_partitions(partitions.clone())
                })
                .collect(),
        )
        .with_user_data(assignment.user_data.clone());
    encode(&body, ASSIGNMENT_WRITE_VERSION)
}

/// An empty assignment (a member that was given nothing) decodes as no partitions.
/// Errors: `InconsistentGroupProtocol` for bytes that are not a consumer assignment.
pub fn decode_assignment(bytes: &Bytes) -> Result<Assignment, GroupError> {
    if bytes.is_empty() {
        return Ok(Assignment::default());
    }
    let mut buf = bytes.clone();
    let version = version(&mut buf, "assignment")?.min(ASSIGNMENT_MAX_VERSION);
    check_counts(&buf, version, true).map_err(|e| malformed("assignment", e))?;
    let body = ConsumerProtocolAssignment::decode(&mut buf, version)
        .map_err(|e| malformed("assignment", e))?;
    let mut partitions: BTreeMap<String, Vec<i32>> = BTreeMap::new();
    for tp in body.assigned_partitions {
        partitions
            .entry(tp.topic.0.to_string())
            .or_default()
            .extend(tp.partitions);
    }
    Ok(Assignment {
        partitions,
        user_data: body.user_data,
    })
}

fn encode<M: Encodable>(body: &M, version: i16) -> Bytes {
    let mut buf = BytesMut::new();
    buf.put_i16(version);
    // Encoding only fails for a version the message does not have; ours are constants.
    if let Err(err) = body.encode(&mut buf, version) {
        tracing::error!(error = %err, "cannot encode consumer protocol message");
    }
    buf.freeze()
}

/// Kafka's `RangeAssignor`: for each topic, its partitions are split into contiguous ranges
/// over the members subscribed to it, sorted by instance id (static members, KIP-345) or
/// member id; the first `partitions % members` members get one extra. `partition_count`
/// answers `None` for topics that do not exist, which are skipped.
///
/// `members` are `(member_id, group_instance_id, subscription)`; every member appears in the
/// result, possibly with nothing assigned.
pub fn range_assign(
    members: &[(String, Option<String>, Subscription)],
    partition_count: impl Fn(&str) -> Option<i32>,
) -> BTreeMap<String, Assignment> {
    let mut result: BTreeMap<String, Assignment> = members
        .iter()
        .map(|(id, _, _)| (id.clone(), Assignment::default()))
        .collect();
    let mut topics: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for (id, instance, subscription) in members {
        let sort_key = instance.as_deref().unwrap_or(id);
        for topic in &subscription.topics {
            topics.entry(topic).or_default().push((sort_key, id));
        }
    }
    for (topic, mut subscribers) in topics {
        let Some(count) = partition_count(topic).filter(|c| *c > 0) else {
            continue;
        };
        subscribers.sort();
        subscribers.dedup();
        let n = subscribers.len() as i32;
        let (per_member, extra) = (count / n, count % n);
        for (i, (_, member_id)) in subscribers.into_iter().enumerate() {
            let i = i as i32;
            let start = per_member * i + i.min(extra);
            let len = per_member + i32::from(i < extra);
            if len > 0 {
                if let Some(assignment) = result.get_mut(member_id) {
                    assignment
                        .partitions
                        .insert(topic.to_string(), (start..start + len).collect());
                }
            }
        }
    }
    result
}

/// For a leader that is not a Kafka client: decodes the members' subscriptions from its
/// JoinGroup response and computes the `range` assignment, ready for SyncGroup.
/// Errors: `InconsistentGroupProtocol` if a member's metadata is not a consumer subscription.
pub fn leader_range_assignments(
    join: &JoinGroupResponse,
    partition_count: impl Fn(&str) -> Option<i32>,
) -> Result<Vec<(String, Bytes)>, GroupError> {
    let members = join
        .members
        .iter()
        .map(|m| {
            Ok((
                m.member_id.clone(),
                m.group_instance_id.clone(),
                decode_subscription(&m.metadata)?,
            ))
        })
        .collect::<Result<Vec<_>, GroupError>>()?;
    Ok(range_assign(&members, partition_count)
        .into_iter()
        .map(|(id, assignment)| (id, encode_assignment(&assignment)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(topics: &[&str]) -> Subscription {
        Subscription {
            topics: topics.iter().map(|t| t.to_string()).collect(),
            ..Subscription::default()
        }
    }

    #[test]
    fn subscription_and_assignment_round_trip() {
        let s = Subscription {
            topics: vec!["a".into(), "b".into()],
            user_data: Some(Bytes::from_static(b"u")),
            owned_partitions: BTreeMap::from([("a".to_string(), vec![0, 2])]),
        };
        assert_eq!(decode_subscription(&encode_subscription(&s)).unwrap(), s);
        let a = Assignment {
            partitions: BTreeMap::from([("a".to_string(), vec![1, 3]), ("b".to_string(), vec![0])]),
            user_data: None,
        };
        assert_eq!(decode_assignment(&encode_assignment(&a)).unwrap(), a);
        assert_eq!(
            decode_assignment(&Bytes::new()).unwrap(),
            Assignment::default()
        );
    }

    #[test]
    fn decodes_a_newer_version_as_the_newest_known_and_rejects_garbage() {
        // A v3 subscription from a recent Java client, with the version field set to 9.
        let body = ConsumerProtocolSubscription::default()
            .with_topics(vec![StrBytes::from_static_str("t")])
            .with_generation_id(4)
            .with_rack_id(Some(StrBytes::from_static_str("r")));
        let mut buf = BytesMut::new();
        buf.put_i16(9);
        body.encode(&mut buf, 3).unwrap();
        assert_eq!(
            decode_subscription(&buf.freeze()).unwrap().topics,
            vec!["t"]
        );
        assert!(decode_subscription(&Bytes::from_static(b"\x00")).is_err());
        assert!(decode_subscription(&Bytes::from_static(b"\x00\x00\x00\x00\x00\x09ab")).is_err());
        assert!(decode_assignment(&Bytes::from_static(b"\xff\xff")).is_err());
    }

    #[test]
    fn hostile_counts_are_refused_before_anything_is_allocated() {
        // Version 1, then 2^31-1 topics: kafka-protocol alone would try to reserve them all.
        let topics = Bytes::from_static(b"\x00\x01\x7f\xff\xff\xff\x00\x01t");
        assert!(decode_subscription(&topics).is_err());
        let owned = {
            let mut b = BytesMut::new();
            b.put_i16(1);
            b.put_i32(0); // no topics
            b.put_i32(-1); // null user data
            b.put_i32(i32::MAX); // owned partitions
            b.freeze()
        };
        assert!(decode_subscription(&owned).is_err());
        let partitions = {
            let mut b = BytesMut::new();
            b.put_i16(0);
            b.put_i32(1);
            b.put_i16(1);
            b.put_slice(b"t");
            b.put_i32(i32::MAX); // partitions of topic t
            b.freeze()
        };
        assert!(decode_assignment(&partitions).is_err());
        // Null user data and null strings are fine.
        let null_user_data = encode_subscription(&sub(&["t"]));
        assert!(decode_subscription(&null_user_data).is_ok());
    }

    #[test]
    fn range_assignment_matches_kafka() {
        let members = vec![
            ("m-b".to_string(), None, sub(&["t", "u"])),
            ("m-a".to_string(), None, sub(&["t"])),
            ("m-c".to_string(), None, sub(&["t", "missing"])),
        ];
        let counts = |t: &str| match t {
            "t" => Some(7),
            "u" => Some(2),
            _ => None,
        };
        let result = range_assign(&members, counts);
        assert_eq!(result["m-a"].partitions["t"], vec![0, 1, 2]);
        assert_eq!(result["m-b"].partitions["t"], vec![3, 4]);
        assert_eq!(result["m-c"].partitions["t"], vec![5, 6]);
        assert_eq!(result["m-b"].partitions["u"], vec![0, 1]);
        assert!(!result["m-c"].partitions.contains_key("missing"));
        // More members than partitions: the last ones get nothing but are still present.
        let many: Vec<_> = (0..4)
            .map(|i| (format!("m{i}"), None, sub(&["u"])))
            .collect();
        let result = range_assign(&many, counts);
        assert_eq!(result.len(), 4);
        assert_eq!(result["m1"].partitions["u"], vec![1]);
        assert!(result["m3"].partitions.is_empty());
        // Static members sort by instance id, so a restarted instance keeps its range.
        let statics = vec![
            ("zzz".to_string(), Some("a".to_string()), sub(&["u"])),
            ("aaa".to_string(), Some("b".to_string()), sub(&["u"])),
        ];
        assert_eq!(
            range_assign(&statics, counts)["zzz"].partitions["u"],
            vec![0]
        );
    }
}
