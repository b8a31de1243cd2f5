//! [`Topic`]: a named set of partitions with its configuration.

use std::sync::Arc;

use crate::{Partition, TopicConfig};

pub struct Topic {
    name: String,
    id: [u8; 16],
    partitions: parking_lot::RwLock<Vec<Arc<Partition>>>,
    config: parking_lot::RwLock<TopicConfig>,
}

impl Topic {
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Stable topic id (Kafka topic UUID), persisted with the topic.
    pub fn id(&self) -> [u8; 16] {
        self.id
    }
    pub fn partition_count(&self) -> i32 {
        self.partitions.read().len() as i32
    }
    pub fn partition(&self, index: i32) -> Option<Arc<Partition>> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.partitions.read().get(i).cloned())
    }
    pub fn partitions(&self) -> Vec<Arc<Partition>> {
        self.partitions.read().clone()
    }
    /// The explicit config overrides.
    pub fn config(&self) -> TopicConfig {
        self.config.read().clone()
    }
}
