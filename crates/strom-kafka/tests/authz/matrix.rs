//! The authorization matrix: every served API once from an allowed and once from a denied
//! session, asserting Kafka's exact codes (29 topic, 30 group, 31 cluster, 53 transactional
//! id) and its filtering (Metadata and ListGroups leave out what the caller may not see).

use kafka_protocol::messages::*;

use super::{group, s, start, topic, Client, ALLOWED_IP, DENIED_IP, PARTIAL_IP};

/// The error codes an answer carries, in order (per partition, per resource, ...).
fn codes(response: &ResponseKind) -> Vec<i16> {
    use ResponseKind as R;
    match response {
        R::Metadata(m) => m.topics.iter().map(|t| t.error_code).collect(),
        R::Produce(p) => p.responses[0]
            .partition_responses
            .iter()
            .map(|p| p.error_code)
            .collect(),
        R::Fetch(f) => f.responses[0]
            .partitions
            .iter()
            .map(|p| p.error_code)
            .collect(),
        R::ListOffsets(l) => l.topics[0]
            .partitions
            .iter()
            .map(|p| p.error_code)
            .collect(),
        R::CreateTopics(c) => c.topics.iter().map(|t| t.error_code).collect(),
        R::DeleteTopics(d) => d.responses.iter().map(|t| t.error_code).collect(),
        R::DeleteRecords(d) => d.topics[0]
            .partitions
            .iter()
            .map(|p| p.error_code)
            .collect(),
        R::DescribeConfigs(d) => d.results.iter().map(|r| r.error_code).collect(),
        R::AlterConfigs(a) => a.responses.iter().map(|r| r.error_code).collect(),
        R::IncrementalAlterConfigs(a) => a.responses.iter().map(|r| r.error_code).collect(),
        R::CreatePartitions(c) => c.results.iter().map(|r| r.error_code).collect(),
        R::InitProducerId(i) => vec![i.error_code],
        R::FindCoordinator(f) => f.coordinators.iter().map(|c| c.error_code).collect(),
        R::JoinGroup(j) => vec![j.error_code],
        R::SyncGroup(x) => vec![x.error_code],
        R::Heartbeat(h) => vec![h.error_code],
        R::LeaveGroup(l) => vec![l.error_code],
        R::OffsetCommit(o) => o.topics[0]
            .partitions
            .iter()
            .map(|p| p.error_code)
            .collect(),
        R::OffsetFetch(o) => {
            let g = &o.groups[0];
            let mut c = vec![g.error_code];
            c.extend(
                g.topics
                    .iter()
                    .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
            );
            c
        }
        R::OffsetDelete(o) => {
            let mut c = vec![o.error_code];
            c.extend(
                o.topics
                    .iter()
                    .flat_map(|t| t.partitions.iter().map(|p| p.error_code)),
            );
            c
        }
        R::ListGroups(l) => vec![l.error_code],
        R::DescribeGroups(d) => d.groups.iter().map(|g| g.error_code).collect(),
        R::DeleteGroups(d) => d.results.iter().map(|r| r.error_code).collect(),
        R::DescribeCluster(d) => vec![d.error_code],
        R::DescribeAcls(d) => vec![d.error_code],
        R::CreateAcls(c) => c.results.iter().map(|r| r.error_code).collect(),
        R::DeleteAcls(d) => d.filter_results.iter().map(|r| r.error_code).collect(),
        R::ApiVersions(a) => vec![a.error_code],
        R::ConsumerGroupHeartbeat(h) => vec![h.error_code],
        R::ConsumerGroupDescribe(d) => d.groups.iter().map(|g| g.error_code).collect(),
        other => panic!("no codes for {other:?}"),
    }
}

fn batch() -> bytes::Bytes {
    let record = strom_broker::NewRecord {
        value: Some(bytes::Bytes::from_static(b"v")),
        ..Default::default()
    };
    strom_broker::encode_records(&[record])
        .expect("encode")
        .freeze()
}

fn metadata(name: &str, auto_create: bool) -> RequestKind {
    RequestKind::Metadata(
        MetadataRequest::default()
            .with_allow_auto_topic_creation(auto_create)
            .with_topics(Some(vec![metadata_request::MetadataRequestTopic::default(
            )
            .with_name(Some(topic(name)))])),
    )
}

fn commit(name: &str) -> RequestKind {
    use offset_commit_request::*;
    RequestKind::OffsetCommit(
        OffsetCommitRequest::default()
            .with_group_id(group("g"))
            .with_generation_id_or_member_epoch(-1)
            .with_topics(vec![OffsetCommitRequestTopic::default()
                .with_name(topic(name))
                .with_partitions(vec![OffsetCommitRequestPartition::default()
                    .with_partition_index(0)
                    .with_committed_offset(1)])]),
    )
}

fn offset_fetch(named: bool) -> RequestKind {
    use offset_fetch_request::*;
    let topics = named.then(|| {
        vec![OffsetFetchRequestTopics::default()
            .with_name(topic("t"))
            .with_partition_indexes(vec![0])]
    });
    RequestKind::OffsetFetch(OffsetFetchRequest::default().with_groups(vec![
        OffsetFetchRequestGroup::default().with_group_id(group("g")).with_topics(topics),
    ]))
}

/// `(api, version, request, allowed codes, denied codes)`.
pub(super) type Case = (ApiKey, i16, RequestKind, Vec<i16>, Vec<i16>);

/// The matrix, run in this order.
pub(super) fn cases() -> Vec<Case> {
    use ApiKey as A;
    use RequestKind as Q;
    let produce = Q::Produce(
        ProduceRequest::default()
            .with_acks(-1)
            .with_timeout_ms(5000)
            .with_topic_data(vec![produce_request::TopicProduceData::default()
                .with_name(topic("t"))
                .with_partition_data(vec![
                    produce_request::PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(batch())),
                ])]),
    );
    let fetch = Q::Fetch(FetchRequest::default().with_max_bytes(1 << 20).with_topics(
        vec![fetch_request::FetchTopic::default()
                .with_topic(topic("t"))
                .with_partitions(vec![
                    fetch_request::FetchPartition::default().with_partition_max_bytes(1 << 20)
                ])],
    ));
    let list_offsets = Q::ListOffsets(ListOffsetsRequest::default().with_topics(vec![
        list_offsets_request::ListOffsetsTopic::default().with_name(topic("t")).with_partitions(
            vec![list_offsets_request::ListOffsetsPartition::default().with_timestamp(-1)],
        ),
    ]));
    let create = Q::CreateTopics(
        CreateTopicsRequest::default()
            .with_validate_only(true)
            .with_topics(vec![create_topics_request::CreatableTopic::default()
                .with_name(topic("x-new"))
                .with_num_partitions(1)
                .with_replication_factor(-1)]),
    );
    let delete = Q::DeleteTopics(DeleteTopicsRequest::default().with_topics(vec![
        delete_topics_request::DeleteTopicState::default().with_name(Some(topic("never-was"))),
    ]));
    let delete_records = Q::DeleteRecords(DeleteRecordsRequest::default().with_topics(vec![
        delete_records_request::DeleteRecordsTopic::default().with_name(topic("t")).with_partitions(
            vec![delete_records_request::DeleteRecordsPartition::default().with_offset(0)],
        ),
    ]));
    let describe_configs =
        Q::DescribeConfigs(DescribeConfigsRequest::default().with_resources(vec![
        describe_configs_request::DescribeConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(s("t")),
        describe_configs_request::DescribeConfigsResource::default()
            .with_resource_type(4)
            .with_resource_name(s("1")),
    ]));
    let alter = Q::AlterConfigs(
        AlterConfigsRequest::default()
            .with_validate_only(true)
            .with_resources(vec![alter_configs_request::AlterConfigsResource::default()
                .with_resource_type(2)
                .with_resource_name(s("t"))]),
    );
    let incremental = Q::IncrementalAlterConfigs(
        IncrementalAlterConfigsRequest::default()
            .with_validate_only(true)
            .with_resources(vec![
                incremental_alter_configs_request::AlterConfigsResource::default()
                    .with_resource_type(2)
                    .with_resource_name(s("t")),
            ]),
    );
    let partitions = Q::CreatePartitions(
        CreatePartitionsRequest::default()
            .with_validate_only(true)
            .with_topics(vec![
                create_partitions_request::CreatePartitionsTopic::default()
                    .with_name(topic("t"))
                    .with_count(2),
            ]),
    );
    let find =
        Q::FindCoordinator(FindCoordinatorRequest::default().with_coordinator_keys(vec![s("g")]));
    let join = Q::JoinGroup(
        JoinGroupRequest::default()
            .with_group_id(group("j"))
            .with_session_timeout_ms(10_000)
            .with_rebalance_timeout_ms(10_000)
            .with_protocol_type(s("consumer"))
            .with_protocols(vec![join_group_request::JoinGroupRequestProtocol::default(
            )
            .with_name(s("range"))
            .with_metadata(bytes::Bytes::from_static(b"m"))]),
    );
    let sync = Q::SyncGroup(
        SyncGroupRequest::default()
            .with_group_id(group("j"))
            .with_member_id(s("m")),
    );
    let heartbeat = Q::Heartbeat(
        HeartbeatRequest::default()
            .with_group_id(group("j"))
            .with_member_id(s("m")),
    );
    let leave = Q::LeaveGroup(
        LeaveGroupRequest::default()
            .with_group_id(group("j"))
            .with_members(vec![
                leave_group_request::MemberIdentity::default().with_member_id(s("m"))
            ]),
    );
    let describe_groups =
        Q::DescribeGroups(DescribeGroupsRequest::default().with_groups(vec![group("g")]));
    let acls_filter = |f: DescribeAclsRequest| {
        f.with_resource_type_filter(1)
            .with_pattern_type_filter(1)
            .with_operation(1)
            .with_permission_type(1)
    };
    vec![
        (
            A::ApiVersions,
            3,
            Q::ApiVersions(ApiVersionsRequest::default()),
            vec![0],
            vec![0],
        ),
        (A::Metadata, 12, metadata("t", false), vec![0], vec![29]),
        // A denied client cannot tell a missing topic from a forbidden one.
        (
            A::Metadata,
            12,
            metadata("missing", false),
            vec![3],
            vec![29],
        ),
        (A::Produce, 9, produce, vec![0], vec![29]),
        (A::Fetch, 12, fetch, vec![0], vec![29]),
        (A::ListOffsets, 7, list_offsets, vec![0], vec![29]),
        (A::CreateTopics, 7, create, vec![0], vec![29]),
        (A::DeleteTopics, 6, delete, vec![3], vec![29]),
        (A::DeleteRecords, 2, delete_records, vec![0], vec![29]),
        (
            A::DescribeConfigs,
            4,
            describe_configs,
            vec![0, 0],
            vec![29, 31],
        ),
        (A::AlterConfigs, 2, alter, vec![0], vec![29]),
        (
            A::IncrementalAlterConfigs,
            1,
            incremental,
            vec![0],
            vec![29],
        ),
        (A::CreatePartitions, 3, partitions, vec![0], vec![29]),
        (
            A::InitProducerId,
            4,
            Q::InitProducerId(InitProducerIdRequest::default()),
            vec![0],
            vec![31],
        ),
        (A::FindCoordinator, 4, find, vec![0], vec![30]),
        // v4+: a new member first learns its id (MEMBER_ID_REQUIRED).
        (A::JoinGroup, 5, join, vec![79], vec![30]),
        (A::SyncGroup, 5, sync, vec![25], vec![30]),
        (A::Heartbeat, 4, heartbeat, vec![25], vec![30]),
        (A::LeaveGroup, 5, leave, vec![0], vec![30]),
        (A::OffsetCommit, 8, commit("t"), vec![0], vec![30]),
        (A::OffsetFetch, 8, offset_fetch(true), vec![0, 0], vec![30]),
        (A::DescribeGroups, 5, describe_groups, vec![0], vec![30]),
        (
            A::DescribeCluster,
            1,
            Q::DescribeCluster(DescribeClusterRequest::default().with_endpoint_type(1)),
            vec![0],
            vec![0],
        ),
        (
            A::DescribeAcls,
            3,
            Q::DescribeAcls(acls_filter(DescribeAclsRequest::default())),
            vec![0],
            vec![31],
        ),
        (
            A::OffsetDelete,
            0,
            Q::OffsetDelete(
                OffsetDeleteRequest::default()
                    .with_group_id(group("g"))
                    .with_topics(vec![
                        offset_delete_request::OffsetDeleteRequestTopic::default()
                            .with_name(topic("t"))
                            .with_partitions(vec![
                                offset_delete_request::OffsetDeleteRequestPartition::default(),
                            ]),
                    ]),
            ),
            vec![0, 0],
            vec![30],
        ),
        (
            A::DeleteGroups,
            2,
            Q::DeleteGroups(DeleteGroupsRequest::default().with_groups_names(vec![group("g")])),
            vec![0],
            vec![30],
        ),
        // KIP-848: Read on the group (then Describe on the subscribed topics).
        (
            A::ConsumerGroupHeartbeat,
            0,
            Q::ConsumerGroupHeartbeat(
                ConsumerGroupHeartbeatRequest::default()
                    .with_group_id(group("cg"))
                    .with_member_id(s("member-1"))
                    .with_rebalance_timeout_ms(10_000)
                    .with_subscribed_topic_names(Some(vec![topic("t")]))
                    .with_topic_partitions(Some(Vec::new())),
            ),
            vec![0],
            vec![30],
        ),
        // Describe on the group; "g" is no consumer group: GROUP_ID_NOT_FOUND when allowed.
        (
            A::ConsumerGroupDescribe,
            0,
            Q::ConsumerGroupDescribe(
                ConsumerGroupDescribeRequest::default().with_group_ids(vec![group("g")]),
            ),
            vec![69],
            vec![30],
        ),
    ]
}

#[tokio::test]
async fn every_api_answers_an_allowed_and_a_denied_session() {
    let server = start(true).await;
    let mut allowed = Client::connect_from(server.port, ALLOWED_IP).await;
    let mut denied = Client::connect_from(server.port, DENIED_IP).await;
    for (api, version, request, ok, refused) in cases() {
        let answer = denied.call(api, version, request.clone()).await;
        assert_eq!(
            codes(&answer),
            refused,
            "{api:?} v{version} denied: {answer:?}"
        );
        let answer = allowed.call(api, version, request).await;
        assert_eq!(codes(&answer), ok, "{api:?} v{version} allowed: {answer:?}");
    }
}

#[tokio::test]
async fn listings_filter_and_creation_falls_back_to_the_topic() {
    let server = start(true).await;
    let mut allowed = Client::connect_from(server.port, ALLOWED_IP).await;
    let mut denied = Client::connect_from(server.port, DENIED_IP).await;
    let mut partial = Client::connect_from(server.port, PARTIAL_IP).await;
    let all = RequestKind::Metadata(MetadataRequest::default().with_topics(None));
    let names = |r: ResponseKind| match r {
        ResponseKind::Metadata(m) => m
            .topics
            .iter()
            .filter_map(|t| t.name.clone())
            .map(|n| n.0.to_string())
            .collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert!(names(allowed.call(ApiKey::Metadata, 12, all.clone()).await).contains(&"t".to_string()));
    assert_eq!(
        names(denied.call(ApiKey::Metadata, 12, all.clone()).await),
        Vec::<String>::new()
    );
    // Create on topics `p-*` only: auto-creation falls back from the cluster to the topic.
    let created = partial
        .call(ApiKey::Metadata, 12, metadata("p-auto", true))
        .await;
    assert_eq!(codes(&created), vec![0]);
    let refused = partial
        .call(ApiKey::Metadata, 12, metadata("q-auto", true))
        .await;
    assert_eq!(codes(&refused), vec![29]);
    assert!(server.broker.topic("p-auto").is_some() && server.broker.topic("q-auto").is_none());
    assert_eq!(
        names(partial.call(ApiKey::Metadata, 12, all).await),
        vec!["p-auto".to_string()]
    );
    // Read on the group but not the topic: the topic's partitions answer 29, uncommitted.
    assert_eq!(
        codes(&partial.call(ApiKey::OffsetCommit, 8, commit("t")).await),
        vec![29]
    );
    assert_eq!(
        codes(&allowed.call(ApiKey::OffsetCommit, 8, commit("t")).await),
        vec![0]
    );
    assert_eq!(
        codes(
            &partial
                .call(ApiKey::OffsetFetch, 8, offset_fetch(true))
                .await
        ),
        vec![0, 29]
    );
    // All the group's offsets: topics the caller may not describe are left out.
    match partial
        .call(ApiKey::OffsetFetch, 8, offset_fetch(false))
        .await
    {
        ResponseKind::OffsetFetch(o) => assert!(o.groups[0].topics.is_empty(), "{o:?}"),
        other => panic!("{other:?}"),
    }
    // ListGroups: Describe on the cluster lists all, else per group; never 31.
    let list = RequestKind::ListGroups(ListGroupsRequest::default());
    let groups = |r: ResponseKind| match r {
        ResponseKind::ListGroups(l) => {
            assert_eq!(l.error_code, 0);
            l.groups
                .iter()
                .map(|g| g.group_id.0.to_string())
                .collect::<Vec<_>>()
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(
        groups(allowed.call(ApiKey::ListGroups, 4, list.clone()).await),
        vec!["g"]
    );
    assert_eq!(
        groups(partial.call(ApiKey::ListGroups, 4, list.clone()).await),
        vec!["g"]
    );
    assert!(groups(denied.call(ApiKey::ListGroups, 4, list).await).is_empty());
    // DescribeCluster answers everyone (Kafka's AuthHelper); the operations say who may.
    let cluster = RequestKind::DescribeCluster(
        DescribeClusterRequest::default()
            .with_endpoint_type(1)
            .with_include_cluster_authorized_operations(true),
    );
    let ops = |r: ResponseKind| match r {
        ResponseKind::DescribeCluster(d) => d.cluster_authorized_operations,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        ops(denied
            .call(ApiKey::DescribeCluster, 1, cluster.clone())
            .await),
        0
    );
    assert_ne!(
        ops(allowed.call(ApiKey::DescribeCluster, 1, cluster).await) & (1 << 8),
        0
    );
}
