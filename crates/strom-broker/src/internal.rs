//! Internal topics, defined once: `__consumer_offsets`, `__transaction_state` and every name
//! starting with `__strom_` (reserved for Strom's own state: users, ACLs, schemas,
//! subscriptions). Clients may read them; they may not create, write, delete, trim or
//! reconfigure them. [`crate::Broker`] and [`crate::Partition`] enforce the rule on their
//! client-facing operations; the broker's own stores write through crate-private paths.
//! No I/O here.

use crate::BrokerError;

/// Committed offsets and group metadata.
pub const CONSUMER_OFFSETS: &str = "__consumer_offsets";
/// Transaction coordinator state (reserved: Strom has no transactions yet).
pub const TRANSACTION_STATE: &str = "__transaction_state";
/// Prefix reserved for topics holding Strom's own state.
pub const RESERVED_PREFIX: &str = "__strom_";

/// Whether `name` is an internal topic (clients may read it, nothing else).
pub fn is_internal_topic(name: &str) -> bool {
    name == CONSUMER_OFFSETS || name == TRANSACTION_STATE || name.starts_with(RESERVED_PREFIX)
}

/// A client operation that internal topics refuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientOperation {
    Create,
    Write,
    Delete,
    DeleteRecords,
    AlterConfig,
    CreatePartitions,
}

impl std::fmt::Display for ClientOperation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ClientOperation::Create => "create",
            ClientOperation::Write => "write to",
            ClientOperation::Delete => "delete",
            ClientOperation::DeleteRecords => "delete records of",
            ClientOperation::AlterConfig => "change the configuration of",
            ClientOperation::CreatePartitions => "add partitions to",
        })
    }
}

/// Errors: `InternalTopic` when `topic` is internal.
pub(crate) fn refuse_internal(topic: &str, operation: ClientOperation) -> Result<(), BrokerError> {
    if is_internal_topic(topic) {
        return Err(BrokerError::InternalTopic {
            topic: topic.to_string(),
            operation,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_names_are_the_two_kafka_topics_and_the_strom_prefix() {
        for name in [
            "__consumer_offsets",
            "__transaction_state",
            "__strom_users",
            "__strom_",
        ] {
            assert!(is_internal_topic(name), "{name}");
        }
        for name in [
            "__consumer_offsets2",
            "_strom_x",
            "__strom",
            "orders",
            "__other",
        ] {
            assert!(!is_internal_topic(name), "{name}");
        }
    }
}
