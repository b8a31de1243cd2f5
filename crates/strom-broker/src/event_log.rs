//! [`EventLog`]: an append-only internal topic `__strom_<name>` for Strom's own operational
//! events (such as `__strom_events`): one partition, `cleanup.policy=delete` with a bounded
//! retention, written only by the broker's own services through the crate-private append
//! path; clients may read it (READ on the topic) but never write it (`internal.rs`).
//! Blocking I/O.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::internal::RESERVED_PREFIX;
use crate::{Broker, BrokerError, NewRecord};

/// An append-only internal topic.
pub struct EventLog {
    broker: Arc<Broker>,
    topic: String,
}

impl EventLog {
    /// Opens `__strom_<name>`, creating it (one partition, deleted after `retention_ms`) if
    /// needed; an existing topic keeps its configuration. Blocking.
    /// Errors: `InvalidTopic` for a bad name, `Storage` when it cannot be created or opened.
    pub fn open(
        broker: Arc<Broker>,
        name: &str,
        retention_ms: i64,
    ) -> Result<EventLog, BrokerError> {
        let topic = format!("{RESERVED_PREFIX}{name}");
        if broker.topic(&topic).is_none() {
            let configs = BTreeMap::from([
                ("cleanup.policy".to_string(), "delete".to_string()),
                ("retention.ms".to_string(), retention_ms.to_string()),
            ]);
            match broker.create_internal_topic(&topic, 1, &configs) {
                Ok(_) | Err(BrokerError::TopicExists(_)) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(EventLog { broker, topic })
    }

    /// The internal topic's name.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Appends `records` as one batch; returns the first offset.
    /// Errors: `Storage` (disk full, I/O), `ShuttingDown`.
    pub fn append(&self, records: &[NewRecord]) -> Result<i64, BrokerError> {
        let partition = self.broker.partition(&self.topic, 0)?;
        Ok(partition.append_internal(records)?.base_offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    #[test]
    fn clients_cannot_write_but_the_log_appends() {
        let dir = tempfile::tempdir().unwrap();
        let broker = Broker::open(crate::tests::config(dir.path())).unwrap();
        let log = EventLog::open(Arc::clone(&broker), "events", 60_000).unwrap();
        assert_eq!(log.topic(), "__strom_events");
        let record = NewRecord {
            key: Some(Bytes::from_static(b"sub")),
            value: Some(Bytes::from_static(b"{}")),
            ..NewRecord::default()
        };
        assert_eq!(log.append(std::slice::from_ref(&record)).unwrap(), 0);
        assert_eq!(log.append(std::slice::from_ref(&record)).unwrap(), 1);
        let part = broker.partition("__strom_events", 0).unwrap();
        assert!(matches!(
            part.append_records(&[record]),
            Err(BrokerError::InternalTopic { .. })
        ));
        let overrides =
            |broker: &Broker| broker.topic("__strom_events").unwrap().config().overrides;
        let want = |retention: &str| {
            BTreeMap::from([
                ("cleanup.policy".to_string(), "delete".to_string()),
                ("retention.ms".to_string(), retention.to_string()),
            ])
        };
        assert_eq!(overrides(&broker), want("60000"));
        assert_eq!(broker.topic("__strom_events").unwrap().partition_count(), 1);
        // Opened again with another retention: the existing topic keeps its configuration.
        let again = EventLog::open(Arc::clone(&broker), "events", 1_000).unwrap();
        assert_eq!(again.append(&[NewRecord::default()]).unwrap(), 2);
        assert_eq!(overrides(&broker), want("60000"));
    }
}
