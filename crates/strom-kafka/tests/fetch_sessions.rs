//! Fetch sessions (KIP-227) against the real Kafka listener, with `kafka-protocol`-encoded
//! requests: a full fetch opens a session, incremental fetches name only changed
//! partitions and get only changed ones back, forgotten partitions leave, wrong epochs and
//! unknown ids are refused, epoch -1 closes, a session outlives its connection, a full
//! cache keeps its young sessions, and read_committed sessions report the last stable offset.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic, ForgottenTopic};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use strom_broker::NewRecord;
use strom_kafka::fetch_sessions::{FetchSessionCache, EVICTION_AGE};
use strom_kafka::KafkaConfig;

use crate::common;
use common::{Client, Server};

async fn start(slots: usize) -> Server {
    let sessions = Arc::new(FetchSessionCache::new(slots, EVICTION_AGE));
    common::start_server(move |port| KafkaConfig {
        fetch_sessions: sessions,
        ..common::kafka_config(port)
    })
    .await
}

async fn topic(server: &Server, name: &str, partitions: i32) -> Arc<strom_broker::Topic> {
    let broker = Arc::clone(&server.broker);
    let name = name.to_string();
    tokio::task::spawn_blocking(move || broker.create_topic(&name, partitions, &BTreeMap::new()))
        .await
        .expect("task")
        .expect("topic")
}

/// A Fetch in session `id` at `epoch` naming `(partition, offset)` of `topic` (by id from
/// v13, else by name) and forgetting `forget`; waits at most 200 ms for data.
fn fetch(
    version: i16,
    topic: &strom_broker::Topic,
    (id, epoch): (i32, i32),
    partitions: &[(i32, i64)],
    forget: &[i32],
) -> RequestKind {
    let (name, topic_id) = if version >= 13 {
        (TopicName::default(), uuid::Uuid::from_bytes(topic.id()))
    } else {
        (
            TopicName(StrBytes::from_string(topic.name().to_owned())),
            uuid::Uuid::nil(),
        )
    };
    let partitions: Vec<_> = partitions
        .iter()
        .map(|&(p, offset)| {
            FetchPartition::default()
                .with_partition(p)
                .with_fetch_offset(offset)
                .with_partition_max_bytes(1 << 20)
        })
        .collect();
    let mut topics = Vec::new();
    if !partitions.is_empty() {
        topics.push(
            FetchTopic::default()
                .with_topic(name.clone())
                .with_topic_id(topic_id)
                .with_partitions(partitions),
        );
    }
    let mut forgotten = Vec::new();
    if !forget.is_empty() {
        forgotten.push(
            ForgottenTopic::default()
                .with_topic(name)
                .with_topic_id(topic_id)
                .with_partitions(forget.to_vec()),
        );
    }
    RequestKind::Fetch(
        FetchRequest::default()
            .with_max_wait_ms(200)
            .with_min_bytes(1)
            .with_max_bytes(1 << 20)
            .with_session_id(id)
            .with_session_epoch(epoch)
            .with_topics(topics)
            .with_forgotten_topics_data(forgotten),
    )
}

async fn call(client: &mut Client, version: i16, request: RequestKind) -> FetchResponse {
    match client.call(ApiKey::Fetch, version, request).await {
        ResponseKind::Fetch(f) => f,
        other => panic!("fetch response, got {other:?}"),
    }
}

/// (partition, high watermark, record bytes) of every partition answered, in order.
fn listed(f: &FetchResponse) -> Vec<(i32, i64, usize)> {
    f.responses
        .iter()
        .flat_map(|t| t.partitions.iter())
        .map(|p| {
            let bytes = p.records.as_ref().map_or(0, |r| r.len());
            (p.partition_index, p.high_watermark, bytes)
        })
        .collect()
}

/// Appends one record to `partition` of `topic` through the broker.
async fn produce(topic: &Arc<strom_broker::Topic>, partition: i32) {
    let partition = topic.partition(partition).expect("partition");
    tokio::task::spawn_blocking(move || {
        let record = NewRecord {
            key: Some(bytes::Bytes::from_static(b"k")),
            value: Some(bytes::Bytes::from_static(b"v")),
            ..Default::default()
        };
        partition.append_records(&[record]).expect("append");
    })
    .await
    .expect("append task");
}

#[tokio::test]
async fn incremental_fetches_send_and_answer_only_what_changed() {
    for version in [12, 16] {
        let server = start(10).await;
        let name = format!("inc{version}");
        let topic = topic(&server, &name, 3).await;
        let mut client = Client::connect(server.port).await;
        produce(&topic, 0).await;
        let all = [(0, 0), (1, 0), (2, 0)];
        let full = call(
            &mut client,
            version,
            fetch(version, &topic, (0, 0), &all, &[]),
        )
        .await;
        assert_eq!(full.error_code, 0);
        let id = full.session_id;
        assert_ne!(id, 0, "v{version}: epoch 0 opens a session");
        let got = listed(&full);
        assert_eq!(got.iter().map(|p| p.0).collect::<Vec<_>>(), vec![0, 1, 2]);
        assert!(got[0].2 > 0, "partition 0 has its record");
        // Partition 0 moved on; nothing changed since: an empty answer, same session.
        let moved = fetch(version, &topic, (id, 1), &[(0, 1)], &[]);
        let f = call(&mut client, version, moved).await;
        assert_eq!((f.error_code, f.session_id), (0, id));
        assert!(listed(&f).is_empty(), "v{version}: {:?}", listed(&f));
        // A record on partition 1: only partition 1 is answered, without being named.
        produce(&topic, 1).await;
        let f = call(
            &mut client,
            version,
            fetch(version, &topic, (id, 2), &[], &[]),
        )
        .await;
        let got = listed(&f);
        assert_eq!(got.len(), 1, "v{version}: {got:?}");
        assert_eq!((got[0].0, got[0].1), (1, 1));
        assert!(got[0].2 > 0);
        // Partition 2 forgotten: a record there is not answered.
        let f = call(
            &mut client,
            version,
            fetch(version, &topic, (id, 3), &[(1, 1)], &[2]),
        )
        .await;
        assert!(listed(&f).is_empty(), "v{version}: {:?}", listed(&f));
        produce(&topic, 2).await;
        let f = call(
            &mut client,
            version,
            fetch(version, &topic, (id, 4), &[], &[]),
        )
        .await;
        assert!(listed(&f).is_empty(), "v{version}: {:?}", listed(&f));
    }
}

#[tokio::test]
async fn wrong_epochs_unknown_ids_and_closed_sessions_are_refused() {
    let server = start(10).await;
    let topic = topic(&server, "epochs", 1).await;
    let mut client = Client::connect(server.port).await;
    let full = call(&mut client, 12, fetch(12, &topic, (0, 0), &[(0, 0)], &[])).await;
    let id = full.session_id;
    assert_ne!(id, 0);
    let code = |f: &FetchResponse| ResponseError::try_from_code(f.error_code);
    let f = call(&mut client, 12, fetch(12, &topic, (id, 5), &[], &[])).await;
    assert_eq!(code(&f), Some(ResponseError::InvalidFetchSessionEpoch));
    let other = if id == i32::MAX { 1 } else { id + 1 };
    let f = call(&mut client, 12, fetch(12, &topic, (other, 1), &[], &[])).await;
    assert_eq!(code(&f), Some(ResponseError::FetchSessionIdNotFound));
    // Names in a session opened with names, ids refused.
    let f = call(&mut client, 13, fetch(13, &topic, (id, 1), &[], &[])).await;
    assert_eq!(code(&f), Some(ResponseError::FetchSessionTopicIdError));
    // The refused requests did not advance the epoch.
    let f = call(&mut client, 12, fetch(12, &topic, (id, 1), &[], &[])).await;
    assert_eq!((f.error_code, f.session_id), (0, id));
    // Epoch -1 closes the session and answers in full without one.
    let f = call(&mut client, 12, fetch(12, &topic, (id, -1), &[(0, 0)], &[])).await;
    assert_eq!((f.error_code, f.session_id, listed(&f).len()), (0, 0, 1));
    let f = call(&mut client, 12, fetch(12, &topic, (id, 2), &[], &[])).await;
    assert_eq!(code(&f), Some(ResponseError::FetchSessionIdNotFound));
}

#[tokio::test]
async fn a_session_outlives_its_connection() {
    let server = start(10).await;
    let topic = topic(&server, "reconnect", 2).await;
    let mut first = Client::connect(server.port).await;
    let full = call(
        &mut first,
        13,
        fetch(13, &topic, (0, 0), &[(0, 0), (1, 0)], &[]),
    )
    .await;
    let id = full.session_id;
    assert_ne!(id, 0);
    drop(first);
    let mut second = Client::connect(server.port).await;
    produce(&topic, 1).await;
    let f = call(&mut second, 13, fetch(13, &topic, (id, 1), &[], &[])).await;
    assert_eq!((f.error_code, f.session_id), (0, id));
    let got = listed(&f);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, 1);
}

#[tokio::test]
async fn a_full_cache_keeps_its_young_session() {
    let server = start(1).await;
    let topic = topic(&server, "full", 2).await;
    let mut a = Client::connect(server.port).await;
    let first = call(&mut a, 12, fetch(12, &topic, (0, 0), &[(0, 0)], &[])).await;
    assert_ne!(first.session_id, 0);
    // A larger session may evict only sessions older than the eviction age: none here.
    let mut b = Client::connect(server.port).await;
    let both = [(0, 0), (1, 0)];
    let second = call(&mut b, 12, fetch(12, &topic, (0, 0), &both, &[])).await;
    assert_eq!((second.error_code, second.session_id), (0, 0));
    assert_eq!(
        listed(&second).len(),
        2,
        "answered in full without a session"
    );
    let f = call(
        &mut a,
        12,
        fetch(12, &topic, (first.session_id, 1), &[], &[]),
    )
    .await;
    assert_eq!((f.error_code, f.session_id), (0, first.session_id));
}

#[tokio::test]
async fn no_slots_means_full_fetches() {
    let server = start(0).await;
    let topic = topic(&server, "none", 1).await;
    let mut client = Client::connect(server.port).await;
    let f = call(&mut client, 12, fetch(12, &topic, (0, 0), &[(0, 0)], &[])).await;
    assert_eq!((f.error_code, f.session_id, listed(&f).len()), (0, 0, 1));
}
