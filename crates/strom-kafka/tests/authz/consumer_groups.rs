//! KIP-848's consumer group APIs beyond the group check of the matrix: ConsumerGroupHeartbeat
//! needs Read on the group (30) and Describe on every subscribed topic name (29, Kafka's
//! `KafkaApis.handleConsumerGroupHeartbeat`); ConsumerGroupDescribe needs Describe on the
//! group (30) and Describe on every topic its members subscribe to or are assigned (29, the
//! group left out). The partial session holds Read and Describe on every group and Describe
//! on topics `p-*` only; the allowed one holds ALL.

use kafka_protocol::messages::*;

use super::{group, s, start, topic, Client, ALLOWED_IP, DENIED_IP, PARTIAL_IP};

const TOPIC_AUTH_FAILED: i16 = 29;
const GROUP_AUTH_FAILED: i16 = 30;

fn join(group_id: &str, member: &str, topics: &[&str]) -> RequestKind {
    RequestKind::ConsumerGroupHeartbeat(
        ConsumerGroupHeartbeatRequest::default()
            .with_group_id(group(group_id))
            .with_member_id(s(member))
            .with_rebalance_timeout_ms(10_000)
            .with_subscribed_topic_names(Some(topics.iter().map(|t| topic(t)).collect()))
            .with_topic_partitions(Some(Vec::new())),
    )
}

fn describe(group_id: &str) -> RequestKind {
    RequestKind::ConsumerGroupDescribe(
        ConsumerGroupDescribeRequest::default().with_group_ids(vec![group(group_id)]),
    )
}

async fn heartbeat_code(client: &mut Client, request: RequestKind) -> i16 {
    match client
        .call(ApiKey::ConsumerGroupHeartbeat, 0, request)
        .await
    {
        ResponseKind::ConsumerGroupHeartbeat(h) => h.error_code,
        other => panic!("{other:?}"),
    }
}

async fn describe_code(client: &mut Client, group_id: &str) -> i16 {
    match client
        .call(ApiKey::ConsumerGroupDescribe, 0, describe(group_id))
        .await
    {
        ResponseKind::ConsumerGroupDescribe(d) => {
            assert_eq!(d.groups.len(), 1, "{d:?}");
            d.groups[0].error_code
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn heartbeat_needs_describe_on_subscribed_topics_and_describe_on_the_groups_topics() {
    let server = start(true).await;
    let mut allowed = Client::connect_from(server.port, ALLOWED_IP).await;
    let mut partial = Client::connect_from(server.port, PARTIAL_IP).await;
    let mut denied = Client::connect_from(server.port, DENIED_IP).await;
    // Every code is collected and compared at the end, so one run shows each check that failed.
    let mut seen = Vec::new();
    // Read on the group, no Describe on `t`: refused before joining, the group unchanged.
    let code = heartbeat_code(&mut partial, join("hb", "m-partial", &["t"])).await;
    seen.push(("heartbeat, no Describe on t", code));
    // One name it may not describe among some it may: still refused.
    let code = heartbeat_code(&mut partial, join("hb", "m-partial", &["p-one", "t"])).await;
    seen.push(("heartbeat, Describe on p-one only", code));
    let code = heartbeat_code(&mut denied, join("hb", "m-denied", &["p-one"])).await;
    seen.push(("heartbeat, no Read on the group", code));
    // Describe on every name (a topic that does not exist yet is a valid subscription).
    let code = heartbeat_code(&mut partial, join("hb-p", "m-partial", &["p-one"])).await;
    seen.push(("heartbeat, Describe on p-one", code));
    let code = heartbeat_code(&mut allowed, join("hb", "m-allowed", &["t"])).await;
    seen.push(("heartbeat, ALL", code));
    // The group `hb` has a member subscribed to and assigned `t`: the partial session may
    // describe the group but not its topic.
    seen.push((
        "describe hb, no Describe on t",
        describe_code(&mut partial, "hb").await,
    ));
    seen.push((
        "describe hb, no Describe on the group",
        describe_code(&mut denied, "hb").await,
    ));
    seen.push(("describe hb, ALL", describe_code(&mut allowed, "hb").await));
    seen.push((
        "describe hb-p, Describe on p-one",
        describe_code(&mut partial, "hb-p").await,
    ));
    let want = [
        ("heartbeat, no Describe on t", TOPIC_AUTH_FAILED),
        ("heartbeat, Describe on p-one only", TOPIC_AUTH_FAILED),
        ("heartbeat, no Read on the group", GROUP_AUTH_FAILED),
        ("heartbeat, Describe on p-one", 0),
        ("heartbeat, ALL", 0),
        ("describe hb, no Describe on t", TOPIC_AUTH_FAILED),
        ("describe hb, no Describe on the group", GROUP_AUTH_FAILED),
        ("describe hb, ALL", 0),
        ("describe hb-p, Describe on p-one", 0),
    ];
    assert_eq!(seen, want);
}
