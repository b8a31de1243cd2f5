//! Tests of the `__consumer_offsets` codec: Kafka's layouts byte for byte, round trips, the
//! legacy layout, and corrupt input.

use super::*;

fn member(instance: Option<&str>) -> StoredMember {
    StoredMember {
        member_id: "m-1".into(),
        group_instance_id: instance.map(Into::into),
        client_id: "c".into(),
        client_host: "/127.0.0.1".into(),
        session_timeout_ms: 10_000,
        rebalance_timeout_ms: 30_000,
        subscription: Bytes::from_static(b"sub"),
        assignment: Bytes::from_static(b"as"),
    }
}

fn group(instance: Option<&str>) -> GroupValue {
    GroupValue {
        protocol_type: "consumer".into(),
        generation: 7,
        protocol: Some("range".into()),
        leader: None,
        state_timestamp_ms: 5,
        members: vec![member(instance)],
    }
}

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
    assert_eq!(&encode_key(&offset)[..], b"\0\x01\0\x01g\0\x01t\0\0\0\x03");
    assert_eq!(&encode_key(&group)[..], b"\0\x02\0\x01g");
}

#[test]
fn offset_value_is_kafka_version_3() {
    let offset = OffsetValue {
        offset: 42,
        leader_epoch: -1,
        metadata: "m".into(),
        commit_timestamp_ms: 0x0102,
    };
    let bytes = encode_offset(&offset);
    let expected: &[u8] = b"\0\x03\0\0\0\0\0\0\0\x2a\xff\xff\xff\xff\0\x01m\0\0\0\0\0\0\x01\x02";
    assert_eq!(&bytes[..], expected);
    assert_eq!(decode_offset(&bytes).unwrap(), (offset, Format::Kafka));
}

#[test]
fn older_kafka_offset_versions_decode() {
    // v0: offset, metadata, commit timestamp; v1 adds the expire timestamp.
    let v0: &[u8] = b"\0\0\0\0\0\0\0\0\0\x07\0\0\0\0\0\0\0\0\0\x09";
    let (v, format) = decode_offset(v0).unwrap();
    assert_eq!(
        (v.offset, v.leader_epoch, v.commit_timestamp_ms),
        (7, -1, 9)
    );
    assert_eq!(format, Format::Kafka);
    let v1: &[u8] =
        b"\0\x01\0\0\0\0\0\0\0\x07\0\x01x\0\0\0\0\0\0\0\x09\xff\xff\xff\xff\xff\xff\xff\xff";
    let (v, _) = decode_offset(v1).unwrap();
    assert_eq!(
        (v.offset, v.metadata.as_str(), v.commit_timestamp_ms),
        (7, "x", 9)
    );
    assert!(decode_offset(b"\0\x04\0").is_err());
}

#[test]
fn group_value_is_kafka_version_1_for_dynamic_members() {
    let value = group(None);
    let bytes = encode_group(&value);
    let mut expected = b"\0\x01\0\x08consumer\0\0\0\x07\0\x05range\xff\xff\0\0\0\x01".to_vec();
    expected.extend_from_slice(b"\0\x03m-1\0\x01c\0\x0a/127.0.0.1");
    expected.extend_from_slice(&30_000i32.to_be_bytes());
    expected.extend_from_slice(&10_000i32.to_be_bytes());
    expected.extend_from_slice(b"\0\0\0\x03sub\0\0\0\x02as");
    assert_eq!(&bytes[..], &expected[..]);
    // The state timestamp comes from the record.
    let (decoded, format) = decode_group(&bytes, 5).unwrap();
    assert_eq!((decoded, format), (value.clone(), Format::Kafka));
    assert_eq!(group_record("g", Some(&value)).timestamp, Some(5));
}

#[test]
fn static_members_use_version_3() {
    let value = group(Some("i-1"));
    let bytes = encode_group(&value);
    assert_eq!(&bytes[..2], b"\0\x03");
    assert_eq!(decode_group(&bytes, 99).unwrap(), (value, Format::Kafka));
}

#[test]
fn legacy_values_decode_as_legacy() {
    // Strom's layout before Kafka's (value version 0).
    let mut offset = b"\0\0\0\0\0\0\0\0\0\x2a\xff\xff\xff\xff\0\x01m".to_vec();
    offset.extend_from_slice(&1_700_000_000_000i64.to_be_bytes());
    let (v, format) = decode_offset(&offset).unwrap();
    assert_eq!(format, Format::Legacy);
    assert_eq!(
        (v.offset, v.leader_epoch, v.metadata.as_str()),
        (42, -1, "m")
    );
    assert_eq!(v.commit_timestamp_ms, 1_700_000_000_000);

    let mut group_bytes = b"\0\0\0\x08consumer\0\0\0\x07\0\x05range\xff\xff".to_vec();
    group_bytes.extend_from_slice(&5i64.to_be_bytes());
    group_bytes.extend_from_slice(b"\0\0\0\x01\0\x03m-1\0\x03i-1\0\x01c\0\x0a/127.0.0.1");
    group_bytes.extend_from_slice(&10_000i32.to_be_bytes());
    group_bytes.extend_from_slice(&30_000i32.to_be_bytes());
    group_bytes.extend_from_slice(b"\0\0\0\x03sub\0\0\0\x02as");
    let (v, format) = decode_group(&group_bytes, 0).unwrap();
    assert_eq!((v, format), (group(Some("i-1")), Format::Legacy));
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
    let value = encode_group(&group(Some("i")));
    for cut in 0..value.len() {
        assert!(decode_group(&value[..cut], 0).is_err(), "cut at {cut}");
    }
    assert!(decode_offset(&[0, 9]).is_err());
    assert!(decode_group(&[0, 0, 0xff, 0xff], 0).is_err());
}
