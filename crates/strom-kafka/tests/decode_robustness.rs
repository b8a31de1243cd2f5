//! Stable-toolchain stand-in for the cargo-fuzz target: feeds valid request frames of every
//! served API and version, mutated by bit flips, byte overwrites, truncations and random
//! tails, through `decode_request` (the server's own decode path) and checks that it never
//! panics — every frame either decodes or is refused with a `DecodeError`.

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Encodable, StrBytes};
use rand::{rngs::StdRng, Rng, SeedableRng};
use strom_kafka::{decode_request, DecodeError, SUPPORTED_APIS};

fn name(s: &'static str) -> TopicName {
    TopicName(StrBytes::from_static_str(s))
}

/// A request with some content for the APIs whose bodies are nested, defaults otherwise.
fn sample(api: ApiKey) -> RequestKind {
    match api {
        ApiKey::Produce => {
            RequestKind::Produce(ProduceRequest::default().with_acks(-1).with_topic_data(
                vec![produce_request::TopicProduceData::default()
                    .with_name(name("orders"))
                    .with_partition_data(vec![
                        produce_request::PartitionProduceData::default()
                            .with_index(0)
                            .with_records(Some(Bytes::from(vec![7u8; 80]))),
                    ])],
            ))
        }
        ApiKey::Fetch => {
            RequestKind::Fetch(FetchRequest::default().with_max_wait_ms(500).with_topics(
                vec![fetch_request::FetchTopic::default()
                    .with_topic(name("orders"))
                    .with_partitions(vec![fetch_request::FetchPartition::default()
                        .with_partition(1)
                        .with_fetch_offset(10)
                        .with_partition_max_bytes(1 << 20)])],
            ))
        }
        ApiKey::Metadata => {
            RequestKind::Metadata(MetadataRequest::default().with_topics(Some(vec![
                metadata_request::MetadataRequestTopic::default().with_name(Some(name("orders"))),
            ])))
        }
        ApiKey::ListOffsets => RequestKind::ListOffsets(ListOffsetsRequest::default().with_topics(
            vec![list_offsets_request::ListOffsetsTopic::default()
                .with_name(name("orders"))
                .with_partitions(vec![
                    list_offsets_request::ListOffsetsPartition::default().with_timestamp(-2),
                ])],
        )),
        ApiKey::CreateTopics => {
            RequestKind::CreateTopics(CreateTopicsRequest::default().with_topics(
                vec![create_topics_request::CreatableTopic::default()
                .with_name(name("orders"))
                .with_num_partitions(3)
                .with_configs(vec![create_topics_request::CreatableTopicConfig::default()
                    .with_name(StrBytes::from_static_str("retention.ms"))
                    .with_value(Some(StrBytes::from_static_str("1000")))])],
            ))
        }
        ApiKey::DescribeConfigs => {
            RequestKind::DescribeConfigs(DescribeConfigsRequest::default().with_resources(vec![
                describe_configs_request::DescribeConfigsResource::default()
                    .with_resource_type(2)
                    .with_resource_name(StrBytes::from_static_str("orders")),
            ]))
        }
        other => default_request(other),
    }
}

fn default_request(api: ApiKey) -> RequestKind {
    match api {
        ApiKey::ApiVersions => RequestKind::ApiVersions(Default::default()),
        ApiKey::DeleteTopics => RequestKind::DeleteTopics(Default::default()),
        ApiKey::DeleteRecords => RequestKind::DeleteRecords(Default::default()),
        ApiKey::InitProducerId => RequestKind::InitProducerId(Default::default()),
        ApiKey::AlterConfigs => RequestKind::AlterConfigs(Default::default()),
        ApiKey::CreatePartitions => RequestKind::CreatePartitions(Default::default()),
        ApiKey::IncrementalAlterConfigs => RequestKind::IncrementalAlterConfigs(Default::default()),
        ApiKey::DescribeCluster => RequestKind::DescribeCluster(Default::default()),
        ApiKey::FindCoordinator => RequestKind::FindCoordinator(Default::default()),
        ApiKey::JoinGroup => RequestKind::JoinGroup(Default::default()),
        ApiKey::SyncGroup => RequestKind::SyncGroup(Default::default()),
        ApiKey::Heartbeat => RequestKind::Heartbeat(Default::default()),
        ApiKey::LeaveGroup => RequestKind::LeaveGroup(Default::default()),
        ApiKey::OffsetCommit => RequestKind::OffsetCommit(Default::default()),
        ApiKey::OffsetFetch => RequestKind::OffsetFetch(Default::default()),
        ApiKey::ListGroups => RequestKind::ListGroups(Default::default()),
        ApiKey::DescribeGroups => RequestKind::DescribeGroups(Default::default()),
        ApiKey::DeleteGroups => RequestKind::DeleteGroups(Default::default()),
        ApiKey::OffsetDelete => RequestKind::OffsetDelete(Default::default()),
        ApiKey::DescribeAcls => RequestKind::DescribeAcls(Default::default()),
        ApiKey::DeleteAcls => RequestKind::DeleteAcls(DeleteAclsRequest::default().with_filters(
            vec![delete_acls_request::DeleteAclsFilter::default()
                    .with_resource_name_filter(Some(StrBytes::from_static_str("orders")))],
        )),
        ApiKey::CreateAcls => {
            RequestKind::CreateAcls(CreateAclsRequest::default().with_creations(vec![
                create_acls_request::AclCreation::default()
                    .with_resource_name(StrBytes::from_static_str("orders"))
                    .with_principal(StrBytes::from_static_str("User:alice")),
            ]))
        }
        ApiKey::DescribeClientQuotas => RequestKind::DescribeClientQuotas(Default::default()),
        ApiKey::AlterClientQuotas => RequestKind::AlterClientQuotas(Default::default()),
        ApiKey::SaslHandshake => RequestKind::SaslHandshake(Default::default()),
        ApiKey::SaslAuthenticate => RequestKind::SaslAuthenticate(Default::default()),
        ApiKey::DescribeUserScramCredentials => {
            RequestKind::DescribeUserScramCredentials(Default::default())
        }
        ApiKey::AlterUserScramCredentials => {
            RequestKind::AlterUserScramCredentials(Default::default())
        }
        ApiKey::OffsetForLeaderEpoch => RequestKind::OffsetForLeaderEpoch(Default::default()),
        ApiKey::DescribeLogDirs => RequestKind::DescribeLogDirs(Default::default()),
        ApiKey::ElectLeaders => RequestKind::ElectLeaders(Default::default()),
        ApiKey::AlterPartitionReassignments => {
            RequestKind::AlterPartitionReassignments(Default::default())
        }
        ApiKey::ListPartitionReassignments => {
            RequestKind::ListPartitionReassignments(Default::default())
        }
        ApiKey::AddPartitionsToTxn => RequestKind::AddPartitionsToTxn(Default::default()),
        ApiKey::AddOffsetsToTxn => RequestKind::AddOffsetsToTxn(Default::default()),
        ApiKey::TxnOffsetCommit => RequestKind::TxnOffsetCommit(Default::default()),
        ApiKey::EndTxn => RequestKind::EndTxn(Default::default()),
        ApiKey::DescribeProducers => RequestKind::DescribeProducers(Default::default()),
        ApiKey::DescribeTransactions => RequestKind::DescribeTransactions(Default::default()),
        ApiKey::ListTransactions => RequestKind::ListTransactions(Default::default()),
        ApiKey::ConsumerGroupHeartbeat => RequestKind::ConsumerGroupHeartbeat(Default::default()),
        ApiKey::ConsumerGroupDescribe => RequestKind::ConsumerGroupDescribe(Default::default()),
        other => panic!("add a sample request for {other:?}"),
    }
}

fn frame(api: ApiKey, version: i16) -> Bytes {
    let mut buf = BytesMut::new();
    RequestHeader::default()
        .with_request_api_key(api as i16)
        .with_request_api_version(version)
        .with_correlation_id(1)
        .with_client_id(Some(StrBytes::from_static_str("fuzz")))
        .encode(&mut buf, api.request_header_version(version))
        .expect("header encodes");
    sample(api)
        .encode(&mut buf, version)
        .expect("sample request encodes");
    buf.freeze()
}

fn corpus() -> Vec<Bytes> {
    let mut frames = Vec::new();
    for &(api, min, max) in SUPPORTED_APIS {
        for version in min..=max {
            frames.push(frame(api, version));
        }
    }
    frames
}

#[test]
fn every_valid_sample_decodes() {
    for f in corpus() {
        decode_request(f.clone()).unwrap_or_else(|e| panic!("valid frame refused: {e}"));
    }
}

#[test]
fn mutated_frames_never_panic() {
    let corpus = corpus();
    let mut rng = StdRng::seed_from_u64(0x5742_4f4d);
    let mut decoded = 0usize;
    let mut refused = 0usize;
    for _ in 0..200_000 {
        let base = &corpus[rng.gen_range(0..corpus.len())];
        let mut bytes = base.to_vec();
        for _ in 0..rng.gen_range(1..4) {
            match rng.gen_range(0..4) {
                0 if !bytes.is_empty() => {
                    let i = rng.gen_range(0..bytes.len());
                    bytes[i] ^= 1 << rng.gen_range(0..8);
                }
                1 if !bytes.is_empty() => {
                    let i = rng.gen_range(0..bytes.len());
                    bytes[i] = rng.gen();
                }
                2 => bytes.truncate(rng.gen_range(0..=bytes.len())),
                _ => {
                    let n = rng.gen_range(0..16);
                    bytes.extend((0..n).map(|_| rng.gen::<u8>()));
                }
            }
        }
        match decode_request(Bytes::from(bytes)) {
            Ok(_) => decoded += 1,
            Err(DecodeError::Panicked) => panic!("decoder panicked"),
            Err(_) => refused += 1,
        }
    }
    assert!(
        decoded > 0 && refused > 0,
        "decoded {decoded}, refused {refused}"
    );
}

#[test]
fn random_garbage_never_panics() {
    let mut rng = StdRng::seed_from_u64(7);
    for _ in 0..50_000 {
        let len = rng.gen_range(0..64);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
        // Aim the header at served APIs so the body decoders get exercised.
        if len >= 4 {
            let (api, min, max) = SUPPORTED_APIS[rng.gen_range(0..SUPPORTED_APIS.len())];
            bytes[..2].copy_from_slice(&(api as i16).to_be_bytes());
            bytes[2..4].copy_from_slice(&rng.gen_range(min..=max).to_be_bytes());
        }
        assert!(!matches!(
            decode_request(Bytes::from(bytes)),
            Err(DecodeError::Panicked)
        ));
    }
}
