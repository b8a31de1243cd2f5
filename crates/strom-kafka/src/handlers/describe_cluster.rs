//! DescribeCluster: the single-node cluster (used by AdminClient `describeCluster`). As in
//! Kafka (`AuthHelper.computeDescribeClusterResponse`) it needs no ACL; the cluster's
//! authorized operations, when asked for, are 0 without Describe on the cluster.

use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
use kafka_protocol::messages::{DescribeClusterRequest, DescribeClusterResponse};
use kafka_protocol::ResponseError;

use super::auth::Access;
use super::common::{node_id, str_bytes, CLUSTER_ID};
use super::Context;
use strom_auth::{Operation, ResourceType, CLUSTER_NAME};

/// The operations Kafka reports for the cluster resource.
pub(super) const CLUSTER_OPERATIONS: &[Operation] = &[
    Operation::Alter,
    Operation::AlterConfigs,
    Operation::ClusterAction,
    Operation::Create,
    Operation::Describe,
    Operation::DescribeConfigs,
    Operation::IdempotentWrite,
];

/// KIP-919 endpoint types: 1 asks for brokers, 2 for controllers.
const ENDPOINT_BROKERS: i8 = 1;

pub fn handle(
    ctx: &Context,
    access: &Access,
    version: i16,
    request: DescribeClusterRequest,
) -> DescribeClusterResponse {
    let mut response = DescribeClusterResponse::default()
        .with_cluster_id(str_bytes(CLUSTER_ID))
        .with_controller_id(node_id(&ctx.broker));
    if request.include_cluster_authorized_operations {
        response.cluster_authorized_operations = if access.cluster(Operation::Describe) {
            access.authorized_operations(ResourceType::Cluster, CLUSTER_NAME, CLUSTER_OPERATIONS)
        } else {
            0
        };
    }
    if version >= 1 {
        response.endpoint_type = request.endpoint_type;
        if request.endpoint_type != ENDPOINT_BROKERS {
            // Strom has no separate controller endpoints to describe.
            return response
                .with_error_code(ResponseError::UnsupportedEndpointType.code())
                .with_error_message(Some(str_bytes("only broker endpoints exist")));
        }
    }
    response.brokers = vec![DescribeClusterBroker::default()
        .with_broker_id(node_id(&ctx.broker))
        .with_host(str_bytes(&ctx.config.advertised_host))
        .with_port(i32::from(ctx.config.advertised_port))];
    response
}
