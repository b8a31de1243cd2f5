//! The APIs and version ranges this server speaks. ApiVersions advertises exactly this table
//! and the decoder refuses anything outside it, so the two can never disagree.
//!
//! Ranges are capped where a newer version changes semantics we do not implement (for
//! example Produce v13 addresses topics by id only, InitProducerId v6 adds two-phase commit).
//! The group APIs (FindCoordinator, JoinGroup, ...) are added here together with their
//! handlers, see `handlers/mod.rs`.

use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::VersionRange;

/// `(api, min version, max version)` for every API with a handler.
pub const SUPPORTED_APIS: &[(ApiKey, i16, i16)] = &[
    (ApiKey::Produce, 3, 12),
    (ApiKey::Fetch, 4, 17),
    (ApiKey::ListOffsets, 1, 9),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::ApiVersions, 0, 4),
    (ApiKey::CreateTopics, 2, 7),
    (ApiKey::DeleteTopics, 1, 6),
    (ApiKey::DeleteRecords, 0, 2),
    (ApiKey::InitProducerId, 0, 5),
    (ApiKey::DescribeConfigs, 1, 4),
    (ApiKey::AlterConfigs, 0, 2),
    (ApiKey::CreatePartitions, 0, 3),
    (ApiKey::IncrementalAlterConfigs, 0, 1),
    (ApiKey::DescribeCluster, 0, 1),
    // Replication admin answered for one node (`handlers/single_node.rs`) and KIP-320.
    (ApiKey::OffsetForLeaderEpoch, 2, 4),
    (ApiKey::DescribeLogDirs, 1, 4),
    (ApiKey::ElectLeaders, 0, 2),
    (ApiKey::AlterPartitionReassignments, 0, 0),
    (ApiKey::ListPartitionReassignments, 0, 0),
    // Consumer groups: the classic protocol, and KIP-848's (ConsumerGroupHeartbeat and
    // ConsumerGroupDescribe). OffsetCommit/OffsetFetch stop before the topic-id versions.
    (ApiKey::FindCoordinator, 0, 6),
    (ApiKey::JoinGroup, 0, 9),
    (ApiKey::SyncGroup, 0, 5),
    (ApiKey::Heartbeat, 0, 4),
    (ApiKey::LeaveGroup, 0, 5),
    (ApiKey::OffsetCommit, 2, 9),
    (ApiKey::OffsetFetch, 1, 9),
    (ApiKey::ListGroups, 0, 5),
    (ApiKey::DescribeGroups, 0, 5),
    (ApiKey::ConsumerGroupHeartbeat, 0, 1),
    (ApiKey::ConsumerGroupDescribe, 0, 1),
    (ApiKey::DeleteGroups, 0, 2),
    (ApiKey::OffsetDelete, 0, 0),
    // ACL management (v0 is gone from kafka-protocol 0.18 with Kafka 4.0's floor).
    (ApiKey::DescribeAcls, 1, 3),
    (ApiKey::CreateAcls, 1, 3),
    (ApiKey::DeleteAcls, 1, 3),
    // Client quotas (KIP-546).
    (ApiKey::DescribeClientQuotas, 0, 1),
    (ApiKey::AlterClientQuotas, 0, 1),
    // SASL (answered by `sasl.rs` on the connection; advertised on SASL listeners only) and
    // KIP-554 SCRAM credential management.
    (ApiKey::SaslHandshake, 0, 1),
    (ApiKey::SaslAuthenticate, 0, 2),
    (ApiKey::DescribeUserScramCredentials, 0, 0),
    (ApiKey::AlterUserScramCredentials, 0, 0),
    // Transactions (KIP-98): AddPartitionsToTxn v4+ is the broker-to-broker path and
    // EndTxn/TxnOffsetCommit v5 KIP-890's per-transaction epoch bump, neither served.
    (ApiKey::AddPartitionsToTxn, 0, 3),
    (ApiKey::AddOffsetsToTxn, 0, 4),
    (ApiKey::TxnOffsetCommit, 0, 4),
    (ApiKey::EndTxn, 0, 4),
    (ApiKey::DescribeProducers, 0, 0),
    (ApiKey::DescribeTransactions, 0, 0),
    (ApiKey::ListTransactions, 0, 1),
];

/// The version range served for `api`, or `None` when the API is not served at all.
pub fn supported_versions(api: ApiKey) -> Option<VersionRange> {
    SUPPORTED_APIS
        .iter()
        .find(|(key, _, _)| *key == api)
        .map(|&(_, min, max)| VersionRange { min, max })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_advertised_range_is_one_the_codec_can_decode() {
        for &(api, min, max) in SUPPORTED_APIS {
            let valid = api.valid_versions();
            assert!(min <= max, "{api:?}");
            assert!(
                valid.min <= min && max <= valid.max,
                "{api:?} {min}..{max} outside the codec's {valid}"
            );
        }
    }

    #[test]
    fn unimplemented_apis_are_not_advertised() {
        for api in [ApiKey::WriteTxnMarkers, ApiKey::ShareFetch] {
            assert!(supported_versions(api).is_none());
        }
    }
}
