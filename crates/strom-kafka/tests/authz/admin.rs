//! The rest of the matrix: the single-node replication admin APIs, client quotas, SCRAM
//! credentials (KIP-554) and the ACL changes, each from an allowed and a denied session with
//! Kafka's codes; and a check that every API in `SUPPORTED_APIS` has a row in some
//! authorization test, so a new API cannot be served without one.

use kafka_protocol::messages::*;
use strom_kafka::SUPPORTED_APIS;

use super::{s, start, topic, Client, ALLOWED_IP, DENIED_IP};

/// The error codes an answer carries, in order.
fn codes(response: &ResponseKind) -> Vec<i16> {
    use ResponseKind as R;
    match response {
        R::OffsetForLeaderEpoch(o) => o.topics[0]
            .partitions
            .iter()
            .map(|p| p.error_code)
            .collect(),
        R::DescribeLogDirs(d) => vec![d.error_code, d.results.len() as i16],
        R::ElectLeaders(e) => {
            let mut c = vec![e.error_code];
            c.extend(
                e.replica_election_results
                    .iter()
                    .flat_map(|t| t.partition_result.iter().map(|p| p.error_code)),
            );
            c
        }
        R::AlterPartitionReassignments(a) => vec![a.error_code],
        R::ListPartitionReassignments(l) => vec![l.error_code],
        R::DescribeClientQuotas(d) => vec![d.error_code],
        R::AlterClientQuotas(a) => a.entries.iter().map(|e| e.error_code).collect(),
        R::DescribeUserScramCredentials(d) => vec![d.error_code],
        R::AlterUserScramCredentials(a) => a.results.iter().map(|r| r.error_code).collect(),
        R::CreateAcls(c) => c.results.iter().map(|r| r.error_code).collect(),
        R::DeleteAcls(d) => d.filter_results.iter().map(|r| r.error_code).collect(),
        other => panic!("no codes for {other:?}"),
    }
}

/// `(api, version, request, allowed codes, denied codes)`.
type Case = (ApiKey, i16, RequestKind, Vec<i16>, Vec<i16>);

fn replication_cases() -> Vec<Case> {
    use ApiKey as A;
    use RequestKind as Q;
    let epoch = Q::OffsetForLeaderEpoch(OffsetForLeaderEpochRequest::default().with_topics(vec![
        offset_for_leader_epoch_request::OffsetForLeaderTopic::default()
            .with_topic(topic("t"))
            .with_partitions(vec![
                offset_for_leader_epoch_request::OffsetForLeaderPartition::default()
                    .with_current_leader_epoch(-1)
                    .with_leader_epoch(0),
            ]),
    ]));
    let log_dirs = Q::DescribeLogDirs(DescribeLogDirsRequest::default());
    let elect = Q::ElectLeaders(
        ElectLeadersRequest::default().with_topic_partitions(Some(vec![
            elect_leaders_request::TopicPartitions::default()
                .with_topic(topic("t"))
                .with_partitions(vec![0]),
        ])),
    );
    let reassign = Q::AlterPartitionReassignments(AlterPartitionReassignmentsRequest::default());
    let list = Q::ListPartitionReassignments(ListPartitionReassignmentsRequest::default());
    vec![
        (A::OffsetForLeaderEpoch, 4, epoch, vec![0], vec![29]),
        (A::DescribeLogDirs, 4, log_dirs, vec![0, 1], vec![31, 0]),
        // ELECTION_NOT_NEEDED (84): one broker already leads every partition.
        (A::ElectLeaders, 2, elect, vec![0, 84], vec![31, 31]),
        (
            A::AlterPartitionReassignments,
            0,
            reassign,
            vec![0],
            vec![31],
        ),
        (A::ListPartitionReassignments, 0, list, vec![0], vec![31]),
    ]
}

fn security_cases() -> Vec<Case> {
    use ApiKey as A;
    use RequestKind as Q;
    let describe_quotas = Q::DescribeClientQuotas(DescribeClientQuotasRequest::default());
    let alter_quotas = Q::AlterClientQuotas(
        AlterClientQuotasRequest::default()
            .with_validate_only(true)
            .with_entries(vec![alter_client_quotas_request::EntryData::default()
                .with_entity(vec![alter_client_quotas_request::EntityData::default()
                    .with_entity_type(s("client-id"))
                    .with_entity_name(Some(s("app")))])
                .with_ops(vec![alter_client_quotas_request::OpData::default()
                    .with_key(s("producer_byte_rate"))
                    .with_value(1024.0)])]),
    );
    let describe_users =
        Q::DescribeUserScramCredentials(DescribeUserScramCredentialsRequest::default());
    let alter_users = Q::AlterUserScramCredentials(
        AlterUserScramCredentialsRequest::default().with_upsertions(vec![
            alter_user_scram_credentials_request::ScramCredentialUpsertion::default()
                .with_name(s("carol"))
                .with_mechanism(1)
                .with_iterations(4096)
                .with_salt(bytes::Bytes::from_static(b"carol-salt"))
                .with_salted_password(bytes::Bytes::from(vec![7u8; 32])),
        ]),
    );
    let create_acls = Q::CreateAcls(CreateAclsRequest::default().with_creations(vec![
        create_acls_request::AclCreation::default()
            .with_resource_type(2)
            .with_resource_name(s("acl-topic"))
            .with_resource_pattern_type(3)
            .with_principal(s("User:carol"))
            .with_host(s("*"))
            .with_operation(3)
            .with_permission_type(3),
    ]));
    let delete_acls = Q::DeleteAcls(DeleteAclsRequest::default().with_filters(vec![
        delete_acls_request::DeleteAclsFilter::default()
            .with_resource_type_filter(2)
            .with_resource_name_filter(Some(s("acl-topic")))
            .with_pattern_type_filter(3)
            .with_principal_filter(Some(s("User:carol")))
            .with_host_filter(None)
            .with_operation(1)
            .with_permission_type(1),
    ]));
    vec![
        (
            A::DescribeClientQuotas,
            1,
            describe_quotas,
            vec![0],
            vec![31],
        ),
        (A::AlterClientQuotas, 1, alter_quotas, vec![0], vec![31]),
        (
            A::DescribeUserScramCredentials,
            0,
            describe_users,
            vec![0],
            vec![31],
        ),
        (
            A::AlterUserScramCredentials,
            0,
            alter_users,
            vec![0],
            vec![31],
        ),
        (A::CreateAcls, 3, create_acls, vec![0], vec![31]),
        (A::DeleteAcls, 3, delete_acls, vec![0], vec![31]),
    ]
}

#[tokio::test]
async fn admin_and_security_apis_answer_an_allowed_and_a_denied_session() {
    let server = start(true).await;
    let mut allowed = Client::connect_from(server.port, ALLOWED_IP).await;
    let mut denied = Client::connect_from(server.port, DENIED_IP).await;
    for (api, version, request, ok, refused) in
        replication_cases().into_iter().chain(security_cases())
    {
        let answer = denied.call(api, version, request.clone()).await;
        assert_eq!(
            codes(&answer),
            refused,
            "{api:?} v{version} denied: {answer:?}"
        );
        let answer = allowed.call(api, version, request).await;
        assert_eq!(codes(&answer), ok, "{api:?} v{version} allowed: {answer:?}");
    }
    // The denied session changed nothing: carol exists once, created by the allowed one.
    assert!(server.security.users.describe().contains_key("carol"));
}

#[test]
fn every_served_api_has_an_authorization_test() {
    use ApiKey as A;
    let mut covered: Vec<ApiKey> = super::matrix::cases().into_iter().map(|c| c.0).collect();
    covered.extend(replication_cases().into_iter().map(|c| c.0));
    covered.extend(security_cases().into_iter().map(|c| c.0));
    // matrix.rs (listings), txn.rs (transactions) and sasl.rs (authentication, which
    // needs no ACL) test these with their own flows.
    covered.extend([
        A::ListGroups,
        A::AddPartitionsToTxn,
        A::AddOffsetsToTxn,
        A::TxnOffsetCommit,
        A::EndTxn,
        A::DescribeProducers,
        A::DescribeTransactions,
        A::ListTransactions,
        A::SaslHandshake,
        A::SaslAuthenticate,
    ]);
    let missing: Vec<_> = SUPPORTED_APIS
        .iter()
        .map(|(api, _, _)| *api)
        .filter(|api| !covered.contains(api))
        .collect();
    assert!(
        missing.is_empty(),
        "served without an authorization test: {missing:?}"
    );
}
