//! Upgrade from Strom's legacy `__consumer_offsets` value layout: a log written in it loads
//! (offsets with metadata and timestamps, group metadata with static members), the live
//! records are rewritten once in Kafka's format, and a later reopen rewrites nothing.

use bytes::BufMut;

use super::super::codec::{decode_group, decode_key, decode_offset, encode_key, Format, RecordKey};
use super::*;
use crate::NewRecord;

fn put_str(buf: &mut Vec<u8>, s: &str) {
    buf.put_u16(s.len() as u16);
    buf.put_slice(s.as_bytes());
}

/// An offset value as the previous Strom wrote it.
fn legacy_offset(offset: i64, metadata: &str, timestamp: i64) -> Bytes {
    let mut buf = Vec::new();
    buf.put_u16(0);
    buf.put_i64(offset);
    buf.put_i32(-1);
    put_str(&mut buf, metadata);
    buf.put_i64(timestamp);
    buf.into()
}

/// Group metadata as the previous Strom wrote it: an empty group of generation 3.
fn legacy_empty_group(state_timestamp: i64) -> Bytes {
    let mut buf = Vec::new();
    buf.put_u16(0);
    put_str(&mut buf, "consumer");
    buf.put_i32(3);
    buf.put_u16(u16::MAX);
    buf.put_u16(u16::MAX);
    buf.put_i64(state_timestamp);
    buf.put_u32(0);
    buf.into()
}

fn offset_key(group: &str, partition: i32) -> Bytes {
    encode_key(&RecordKey::Offset {
        group: group.into(),
        topic: "t".into(),
        partition,
    })
}

fn record(key: Bytes, value: Bytes) -> NewRecord {
    NewRecord {
        key: Some(key),
        value: Some(value),
        ..NewRecord::default()
    }
}

#[tokio::test(start_paused = true)]
async fn legacy_records_load_and_are_rewritten_once() {
    let storage = MemoryStorage::new(3);
    storage.add_topic("t", 4, 100);
    let now = 1_800_000_000_000;
    let group_key = encode_key(&RecordKey::Group { group: "g".into() });
    let legacy = [
        record(offset_key("g", 0), legacy_offset(5, "old", now)),
        record(offset_key("g", 0), legacy_offset(6, "newer", now + 1)),
        record(offset_key("g", 1), legacy_offset(9, "", now)),
        record(group_key, legacy_empty_group(now - 5)),
    ];
    storage.append(1, &legacy).unwrap();

    let c = reopen(&storage).await;
    let fetched = c.fetch_offsets("g", None);
    let summary: Vec<_> = fetched
        .iter()
        .map(|f| {
            (
                f.partition,
                f.offset,
                f.metadata.as_str(),
                f.commit_timestamp_ms,
            )
        })
        .collect();
    assert_eq!(summary, [(0, 6, "newer", now + 1), (1, 9, "", now)]);
    assert_eq!(state(&c, "g"), GroupState::Empty);
    assert_eq!(c.describe_groups(&["g".into()])[0].generation_id, 3);

    // Three live records (two offsets, the metadata) appended again in Kafka's format.
    let log = storage.logs.lock()[1].clone();
    assert_eq!(log.len(), legacy.len() + 3);
    for r in &log[legacy.len()..] {
        let value = r.value.as_ref().unwrap();
        let format = match decode_key(r.key.as_ref().unwrap()).unwrap() {
            RecordKey::Offset { .. } => decode_offset(value).unwrap().1,
            RecordKey::Consumer { .. } => panic!("no consumer group here"),
            RecordKey::Group { .. } => {
                let (group, format) = decode_group(value, r.timestamp).unwrap();
                assert_eq!(
                    group.state_timestamp_ms,
                    now - 5,
                    "kept in the record timestamp"
                );
                format
            }
        };
        assert_eq!(format, Format::Kafka);
    }
    drop(c);

    let c = reopen(&storage).await;
    assert_eq!(
        storage.logs.lock()[1].len(),
        legacy.len() + 3,
        "nothing left to rewrite"
    );
    assert_eq!(c.fetch_offsets("g", None)[0].offset, 6);
    assert_eq!(c.fetch_offsets("g", None)[0].metadata, "newer");
}
