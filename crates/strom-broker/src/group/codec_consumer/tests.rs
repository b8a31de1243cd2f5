//! Round trips and Kafka's byte layouts of the KIP-848 record values.

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
        ConsumerValue::PartitionMetadata(vec![(id, "orders".into(), 8)]),
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
        classic: None,
    };
    round_trip(
        ConsumerKey::Member("m".into()),
        ConsumerValue::Member(member.clone()),
    );
    let classic = ClassicMemberValue {
        session_timeout_ms: 45_000,
        protocols: vec![
            (
                "cooperative-sticky".into(),
                Bytes::from_static(b"\0\x01sub"),
            ),
            ("range".into(), Bytes::new()),
        ],
    };
    round_trip(
        ConsumerKey::Member("m".into()),
        ConsumerValue::Member(MemberValue {
            classic: Some(classic),
            ..member
        }),
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

#[test]
fn classic_member_metadata_is_tagged_field_0_as_kafka_writes_it() {
    let member = MemberValue {
        classic: Some(ClassicMemberValue {
            session_timeout_ms: 10,
            protocols: vec![("r".into(), Bytes::from_static(&[9]))],
        }),
        ..MemberValue::default()
    };
    let bytes = encode(&ConsumerValue::Member(member.clone()));
    // Version, null instance and rack, "" client id and host, no topics, null regex,
    // rebalance timeout 0, null assignor; then one tag: tag 0, size 12, present (1),
    // session timeout 10, one protocol ("r", bytes [9], no tags), no tags.
    let want: &[u8] = &[
        0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 12, 1, 0, 0, 0, 10, 2, 2, b'r', 2, 9, 0, 0,
    ];
    assert_eq!(&bytes[..], want);
    let key = ConsumerKey::Member("m".into());
    assert_eq!(decode(&key, want).unwrap(), ConsumerValue::Member(member));
    // A null ClassicMemberMetadata (presence byte -1) reads as a consumer-protocol member.
    let mut null = want[..13].to_vec();
    null.extend([1, 0, 1, 0xff]);
    assert_eq!(
        decode(&key, &null).unwrap(),
        ConsumerValue::Member(MemberValue::default())
    );
}

/// Bytes of a compact string: length + 1, then the bytes.
fn compact(s: &str) -> Vec<u8> {
    let mut out = vec![s.len() as u8 + 1];
    out.extend(s.as_bytes());
    out
}

#[test]
fn partition_metadata_layout_is_kafka_4s_and_strom_0s_still_reads() {
    // ConsumerGroupPartitionMetadataValue v0 since Kafka 3.8 (no Epoch): Topics [TopicId,
    // TopicName, NumPartitions, PartitionMetadata [] (empty), tags], tags.
    let value = ConsumerValue::PartitionMetadata(vec![([3; 16], "ab".into(), 4)]);
    let mut want = vec![0, 0, 2];
    want.extend([3u8; 16]);
    want.extend(compact("ab"));
    want.extend([0, 0, 0, 4, 1, 0, 0]);
    assert_eq!(&encode(&value)[..], &want[..]);
    // What earlier Strom versions wrote: an int32 group epoch ahead of the topics.
    let mut legacy = vec![0, 0, 0, 0, 0, 9];
    legacy.extend(&want[2..]);
    assert_eq!(
        decode(&ConsumerKey::PartitionMetadata, &legacy).unwrap(),
        value
    );
}

#[test]
fn member_and_current_assignment_layouts_are_kafkas() {
    // ConsumerGroupMemberMetadataValue v0: InstanceId (null), RackId, ClientId,
    // ClientHost, SubscribedTopicNames, SubscribedTopicRegex (null),
    // RebalanceTimeoutMs, ServerAssignor, tags.
    let member = MemberValue {
        instance_id: None,
        rack_id: Some("r".into()),
        client_id: "c".into(),
        client_host: "h".into(),
        topic_names: vec!["t".into()],
        regex: None,
        rebalance_timeout_ms: 258,
        server_assignor: Some("uniform".into()),
        classic: None,
    };
    let mut want = vec![0, 0, 0];
    for s in ["r", "c", "h"] {
        want.extend(compact(s));
    }
    want.push(2);
    want.extend(compact("t"));
    want.extend([0, 0, 0, 1, 2]);
    want.extend(compact("uniform"));
    want.push(0);
    assert_eq!(&encode(&ConsumerValue::Member(member))[..], &want[..]);
    // ConsumerGroupCurrentMemberAssignmentValue v0: MemberEpoch, PreviousMemberEpoch,
    // State (int8), AssignedPartitions, PartitionsPendingRevocation, tags.
    let current = CurrentValue {
        epoch: 7,
        previous_epoch: 6,
        state: 2,
        assigned: vec![([1; 16], vec![0])],
        revoking: Vec::new(),
    };
    let mut want = vec![0, 0, 0, 0, 0, 7, 0, 0, 0, 6, 2, 2];
    want.extend([1u8; 16]);
    want.extend([2, 0, 0, 0, 0, 0, 1, 0]);
    assert_eq!(
        &encode(&ConsumerValue::CurrentAssignment(current))[..],
        &want[..]
    );
}
