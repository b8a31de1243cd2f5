//! Small conversions shared by handlers: names, topic ids, the single-node cluster view.

use std::sync::Arc;

use kafka_protocol::messages::{BrokerId, TopicName};
use kafka_protocol::protocol::StrBytes;
use strom_broker::{Broker, Topic};
use uuid::Uuid;

/// The cluster id reported by Metadata and DescribeCluster. Strom is a single node, so a
/// fixed id is as stable as Kafka's generated one.
pub const CLUSTER_ID: &str = "strom";

pub fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_owned())
}

pub fn topic_name(s: &str) -> TopicName {
    TopicName(str_bytes(s))
}

pub fn topic_uuid(topic: &Topic) -> Uuid {
    Uuid::from_bytes(topic.id())
}

pub fn node_id(broker: &Broker) -> BrokerId {
    BrokerId(broker.config().node_id)
}

/// A topic looked up by its Kafka topic id (KIP-516). The broker indexes topics by name,
/// and topic counts are small, so a scan is fine.
pub fn topic_by_id(broker: &Broker, id: Uuid) -> Option<Arc<Topic>> {
    if id.is_nil() {
        return None;
    }
    broker
        .topics()
        .into_iter()
        .find(|t| t.id() == *id.as_bytes())
}

/// The error message field value for a failure (never a server path: see
/// [`crate::errors::error_message`]).
pub fn message(err: &strom_broker::BrokerError) -> Option<StrBytes> {
    Some(StrBytes::from_string(crate::errors::error_message(err)))
}
