//! The Kafka listener end to end inside one process: a real broker in a temporary directory,
//! `strom_kafka::run` on an ephemeral port, and requests encoded with `kafka-protocol`'s client
//! side. Checks that every served API answers at every served version with a response the
//! client can decode (the codec refuses fields a version cannot carry, so a handler bug there
//! would surface as a dropped connection), plus the Fetch limits and long poll.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_protocol::messages::*;
use strom_kafka::SUPPORTED_APIS;

use crate::common;
#[path = "server/requests.rs"]
mod requests;
use common::{Client, Server};
use requests::{default_request, fetch_request, max_commit_version, produce_request};

async fn start() -> Server {
    common::start_server(common::kafka_config).await
}

#[tokio::test]
async fn every_served_api_answers_at_every_version() {
    let server = start().await;
    let topic = tokio::task::spawn_blocking({
        let broker = Arc::clone(&server.broker);
        move || broker.create_topic("all", 2, &BTreeMap::new())
    })
    .await
    .expect("task")
    .expect("topic");
    let mut client = Client::connect(server.port).await;
    for &(api, min, max) in SUPPORTED_APIS {
        // SASL requests on a PLAINTEXT listener are refused and the connection closed;
        // `tests/sasl.rs` covers them on a SASL listener.
        if matches!(api, ApiKey::SaslHandshake | ApiKey::SaslAuthenticate) {
            continue;
        }
        for version in min..=max {
            let request = if api == ApiKey::Fetch {
                fetch_request(version, &topic, &[0, 1], 1 << 20, 0)
            } else {
                default_request(api, version, "all")
            };
            let response = client.call(api, version, request).await;
            match response {
                ResponseKind::Metadata(m) => {
                    assert_eq!(m.topics[0].error_code, 0, "metadata v{version}");
                    assert_eq!(m.topics[0].partitions.len(), 2);
                }
                ResponseKind::Produce(p) => {
                    assert_eq!(p.responses[0].partition_responses[0].error_code, 0)
                }
                ResponseKind::Fetch(f) => {
                    assert_eq!(
                        f.responses[0].partitions[0].error_code, 0,
                        "fetch v{version}"
                    )
                }
                ResponseKind::DescribeConfigs(d) => {
                    assert!(d.results.iter().all(|r| r.error_code == 0))
                }
                ResponseKind::CreateTopics(c) => assert_eq!(c.topics[0].error_code, 0),
                ResponseKind::DeleteTopics(d) => assert_eq!(d.responses[0].error_code, 3),
                // Without an authorizer, as Kafka without `authorizer.class.name`.
                ResponseKind::DescribeAcls(d) => assert_eq!(d.error_code, 54),
                ResponseKind::CreateAcls(c) => assert_eq!(c.results[0].error_code, 54),
                ResponseKind::DeleteAcls(d) => assert_eq!(d.filter_results[0].error_code, 54),
                ResponseKind::InitProducerId(i) => assert!(i.producer_id.0 >= 0),
                ResponseKind::FindCoordinator(f) if version >= 4 => {
                    assert_eq!(f.coordinators[0].port, i32::from(server.port))
                }
                ResponseKind::FindCoordinator(f) => assert_eq!(f.port, i32::from(server.port)),
                // KIP-394: from v4 a new member first gets its id with MEMBER_ID_REQUIRED.
                ResponseKind::JoinGroup(j) if version >= 4 => {
                    assert_eq!(j.error_code, 79, "join v{version}");
                    assert!(!j.member_id.is_empty());
                }
                ResponseKind::JoinGroup(j) => {
                    assert_eq!((j.error_code, j.generation_id), (0, 1), "join v{version}")
                }
                ResponseKind::SyncGroup(r) => assert_eq!(r.error_code, 25),
                ResponseKind::Heartbeat(r) => assert_eq!(r.error_code, 25),
                ResponseKind::LeaveGroup(r) => assert_eq!(r.error_code, 25),
                ResponseKind::OffsetCommit(r) => {
                    assert_eq!(r.topics[0].partitions[0].error_code, 0)
                }
                ResponseKind::OffsetFetch(r) if version >= 8 => {
                    let offsets = &r.groups[0].topics[0].partitions[0];
                    assert_eq!(offsets.committed_offset, i64::from(max_commit_version()));
                }
                ResponseKind::OffsetFetch(r) => assert_eq!(
                    r.topics[0].partitions[0].committed_offset,
                    i64::from(max_commit_version())
                ),
                ResponseKind::DescribeGroups(r) => {
                    assert_eq!(r.groups[0].group_state.as_str(), "Empty")
                }
                ResponseKind::DeleteGroups(r) => assert_eq!(r.results[0].error_code, 69),
                ResponseKind::DescribeUserScramCredentials(r) => {
                    assert_eq!((r.error_code, r.results.len()), (0, 0))
                }
                // Deleting a credential that does not exist: RESOURCE_NOT_FOUND.
                ResponseKind::AlterUserScramCredentials(r) => {
                    assert_eq!(r.results[0].error_code, 91)
                }
                ResponseKind::OffsetDelete(r) => assert_eq!(r.error_code, 69),
                ResponseKind::ConsumerGroupHeartbeat(r) => {
                    assert_eq!(r.error_code, 0, "heartbeat v{version}");
                    assert!(r.member_epoch >= 1, "heartbeat v{version}");
                }
                ResponseKind::ConsumerGroupDescribe(r) => assert_eq!(r.groups[0].error_code, 69),
                ResponseKind::DescribeClientQuotas(r) => {
                    assert_eq!((r.error_code, r.entries.map(|e| e.len())), (0, Some(0)))
                }
                ResponseKind::AlterClientQuotas(r) => assert_eq!(r.entries[0].error_code, 0),
                _ => {}
            }
        }
    }
}

#[tokio::test]
async fn fetch_honours_partition_and_response_limits() {
    let server = start().await;
    let topic = tokio::task::spawn_blocking({
        let broker = Arc::clone(&server.broker);
        move || broker.create_topic("limits", 2, &BTreeMap::new())
    })
    .await
    .expect("task")
    .expect("topic");
    let mut client = Client::connect(server.port).await;
    for partition in [0, 1] {
        for i in 0..3 {
            let value = format!("{partition}-{i}-{}", "x".repeat(200));
            client
                .call(
                    ApiKey::Produce,
                    9,
                    produce_request("limits", partition, &[&value]),
                )
                .await;
        }
    }
    // Partition limit below one batch: the first partition still gets one whole batch
    // (KIP-74), the second gets nothing because it cannot fit.
    let ResponseKind::Fetch(f) = client
        .call(ApiKey::Fetch, 12, fetch_request(12, &topic, &[0, 1], 10, 0))
        .await
    else {
        panic!("fetch response")
    };
    let parts = &f.responses[0].partitions;
    let first = parts[0].records.as_ref().expect("records").len();
    assert!(
        first > 200 && first < 600,
        "exactly one batch, got {first} bytes"
    );
    assert_eq!(parts[1].records.as_ref().map(Bytes::len), Some(0));
    assert_eq!(parts[1].high_watermark, 3);
    // Generous limits: both partitions, all batches.
    let ResponseKind::Fetch(f) = client
        .call(
            ApiKey::Fetch,
            15,
            fetch_request(15, &topic, &[0, 1], 1 << 20, 0),
        )
        .await
    else {
        panic!("fetch response")
    };
    for p in &f.responses[0].partitions {
        assert!(p.records.as_ref().expect("records").len() > 3 * 200);
    }
}

#[tokio::test]
async fn fetch_long_poll_is_woken_by_an_append() {
    let server = start().await;
    let topic = tokio::task::spawn_blocking({
        let broker = Arc::clone(&server.broker);
        move || broker.create_topic("wake", 3, &BTreeMap::new())
    })
    .await
    .expect("task")
    .expect("topic");
    let port = server.port;
    let producer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let mut client = Client::connect(port).await;
        client
            .call(ApiKey::Produce, 9, produce_request("wake", 2, &["hello"]))
            .await;
    });
    let mut client = Client::connect(server.port).await;
    let start = Instant::now();
    let ResponseKind::Fetch(f) = client
        .call(
            ApiKey::Fetch,
            13,
            fetch_request(13, &topic, &[0, 1, 2], 1 << 20, 30_000),
        )
        .await
    else {
        panic!("fetch response")
    };
    let elapsed = start.elapsed();
    producer.await.expect("producer");
    assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(10), "not woken: {elapsed:?}");
    let parts = &f.responses[0].partitions;
    assert_eq!(parts[2].high_watermark, 1);
    assert!(!parts[2].records.as_ref().expect("records").is_empty());
}
