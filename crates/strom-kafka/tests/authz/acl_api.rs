//! DescribeAcls / CreateAcls / DeleteAcls over the wire: round trips with ANY and MATCH
//! filters, per-binding INVALID_REQUEST, immediate effect on access, and SECURITY_DISABLED
//! without an authorizer.

use kafka_protocol::messages::*;

use super::{s, start, topic, Client, ALLOWED_IP, DENIED_IP};

fn creation(
    name: &str,
    pattern: i8,
    principal: &str,
    host: &str,
    operation: i8,
) -> create_acls_request::AclCreation {
    create_acls_request::AclCreation::default()
        .with_resource_type(2)
        .with_resource_name(s(name))
        .with_resource_pattern_type(pattern)
        .with_principal(s(principal))
        .with_host(s(host))
        .with_operation(operation)
        .with_permission_type(3)
}

fn describe(name: Option<&str>, pattern: i8) -> RequestKind {
    RequestKind::DescribeAcls(
        DescribeAclsRequest::default()
            .with_resource_type_filter(2)
            .with_resource_name_filter(name.map(s))
            .with_pattern_type_filter(pattern)
            .with_principal_filter(None)
            .with_host_filter(None)
            .with_operation(1)
            .with_permission_type(1),
    )
}

fn resources(r: ResponseKind) -> Vec<(String, i8, usize)> {
    match r {
        ResponseKind::DescribeAcls(d) => {
            assert_eq!(d.error_code, 0, "{d:?}");
            d.resources
                .iter()
                .map(|r| (r.resource_name.to_string(), r.pattern_type, r.acls.len()))
                .collect()
        }
        other => panic!("{other:?}"),
    }
}

fn produce(name: &str) -> RequestKind {
    let record = strom_broker::NewRecord {
        value: Some(bytes::Bytes::from_static(b"v")),
        ..Default::default()
    };
    let records = strom_broker::encode_records(&[record])
        .expect("encode")
        .freeze();
    RequestKind::Produce(ProduceRequest::default().with_acks(1).with_topic_data(vec![
            produce_request::TopicProduceData::default()
                .with_name(topic(name))
                .with_partition_data(vec![produce_request::PartitionProduceData::default()
                    .with_index(0)
                    .with_records(Some(records))]),
        ]))
}

fn produce_code(r: ResponseKind) -> i16 {
    match r {
        ResponseKind::Produce(p) => p.responses[0].partition_responses[0].error_code,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn acls_round_trip_and_take_effect_at_once() {
    let server = start(true).await;
    let mut admin = Client::connect_from(server.port, ALLOWED_IP).await;
    let mut other = Client::connect_from(server.port, DENIED_IP).await;
    assert_eq!(
        produce_code(other.call(ApiKey::Produce, 9, produce("t")).await),
        29
    );
    let create = RequestKind::CreateAcls(CreateAclsRequest::default().with_creations(vec![
        creation("t", 3, "User:ANONYMOUS", "127.0.0.2", 4),
        creation("t", 1, "User:ANONYMOUS", "*", 3), // MATCH is a filter-only pattern
        creation("pay-", 4, "User:bob", "*", 3),
        creation("t", 3, "alice", "*", 3), // not Type:name
    ]));
    match admin.call(ApiKey::CreateAcls, 3, create).await {
        ResponseKind::CreateAcls(c) => {
            let codes: Vec<i16> = c.results.iter().map(|r| r.error_code).collect();
            assert_eq!(codes, vec![0, 42, 0, 42], "{c:?}");
            assert!(c.results[1]
                .error_message
                .as_deref()
                .is_some_and(|m| m.contains("filter")));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        produce_code(other.call(ApiKey::Produce, 9, produce("t")).await),
        0
    );
    // LITERAL filter: exactly the name; MATCH: literal, `*` and prefixes that apply.
    assert_eq!(
        resources(
            admin
                .call(ApiKey::DescribeAcls, 3, describe(Some("t"), 3))
                .await
        ),
        vec![("t".into(), 3, 1)]
    );
    let matching = resources(
        admin
            .call(ApiKey::DescribeAcls, 2, describe(Some("pay-eu"), 2))
            .await,
    );
    assert_eq!(matching, vec![("*".into(), 3, 1), ("pay-".into(), 4, 1)]);
    // The cluster admins ACLs are not needed to see or change ACLs from a denied host.
    match other.call(ApiKey::DescribeAcls, 1, describe(None, 1)).await {
        ResponseKind::DescribeAcls(d) => assert_eq!(d.error_code, 31),
        x => panic!("{x:?}"),
    }
    let delete = RequestKind::DeleteAcls(DeleteAclsRequest::default().with_filters(vec![
        delete_acls_request::DeleteAclsFilter::default()
            .with_resource_type_filter(2)
            .with_resource_name_filter(Some(s("t")))
            .with_pattern_type_filter(3)
            .with_host_filter(Some(s("127.0.0.2")))
            .with_principal_filter(None)
            .with_operation(1)
            .with_permission_type(1),
        delete_acls_request::DeleteAclsFilter::default().with_resource_type_filter(0),
    ]));
    match admin.call(ApiKey::DeleteAcls, 3, delete).await {
        ResponseKind::DeleteAcls(d) => {
            assert_eq!(d.filter_results[0].error_code, 0);
            assert_eq!(d.filter_results[0].matching_acls.len(), 1);
            assert_eq!(d.filter_results[1].error_code, 42);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        produce_code(other.call(ApiKey::Produce, 9, produce("t")).await),
        29
    );
    // Stored: a new authorizer over the same state topic sees the same ACLs.
    let filter = strom_auth::AclFilter {
        resource_name: Some("pay-".into()),
        ..Default::default()
    };
    assert_eq!(server.security.authorizer.describe_acls(&filter).len(), 1);
}

#[tokio::test]
async fn without_an_authorizer_acl_apis_answer_security_disabled() {
    let server = start(false).await;
    let mut client = Client::connect_from(server.port, DENIED_IP).await;
    match client
        .call(ApiKey::DescribeAcls, 3, describe(None, 1))
        .await
    {
        ResponseKind::DescribeAcls(d) => assert_eq!(d.error_code, 54),
        other => panic!("{other:?}"),
    }
    let create = RequestKind::CreateAcls(
        CreateAclsRequest::default().with_creations(vec![creation("t", 3, "User:a", "*", 3)]),
    );
    match client.call(ApiKey::CreateAcls, 2, create).await {
        ResponseKind::CreateAcls(c) => assert_eq!(c.results[0].error_code, 54),
        other => panic!("{other:?}"),
    }
    // Authorization off: the denied host may do everything.
    assert_eq!(
        produce_code(client.call(ApiKey::Produce, 9, produce("t")).await),
        0
    );
}
