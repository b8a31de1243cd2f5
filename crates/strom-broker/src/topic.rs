//! [`Topic`]: a named set of partitions with its configuration, and the metadata file that
//! persists both (`topic.json`, replaced atomically).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use strom_log::LogConfig;

use crate::{BrokerError, Partition, TopicConfig};

pub(crate) const TOPIC_FILE: &str = "topic.json";

/// What `topic.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct TopicMeta {
    pub(crate) name: String,
    /// Hex of the 16-byte topic id.
    pub(crate) id: String,
    pub(crate) partitions: i32,
    pub(crate) config: TopicConfig,
}

impl TopicMeta {
    pub(crate) fn save(&self, dir: &Path) -> Result<(), BrokerError> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| BrokerError::Io {
            path: dir.join(TOPIC_FILE),
            source: std::io::Error::other(e),
        })?;
        strom_log::write_file_atomically(&dir.join(TOPIC_FILE), &bytes)?;
        Ok(())
    }

    pub(crate) fn load(dir: &Path) -> Result<TopicMeta, BrokerError> {
        let path = dir.join(TOPIC_FILE);
        let bytes = std::fs::read(&path).map_err(|e| BrokerError::Io {
            path: path.clone(),
            source: e,
        })?;
        serde_json::from_slice(&bytes).map_err(|e| BrokerError::Io {
            path,
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })
    }
}

pub(crate) fn parse_id(hex: &str) -> [u8; 16] {
    let mut id = [0u8; 16];
    for (i, byte) in id.iter_mut().enumerate() {
        *byte = hex
            .get(i * 2..i * 2 + 2)
            .and_then(|h| u8::from_str_radix(h, 16).ok())
            .unwrap_or(0);
    }
    id
}

pub(crate) fn format_id(id: &[u8; 16]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

pub struct Topic {
    name: String,
    id: [u8; 16],
    dir: PathBuf,
    partitions: parking_lot::RwLock<Vec<Arc<Partition>>>,
    config: parking_lot::RwLock<TopicConfig>,
    /// Bumped whenever the high watermark of any partition changes ([`Topic::subscribe`]).
    changes: Arc<tokio::sync::watch::Sender<u64>>,
}

impl Topic {
    /// Opens every partition listed in the metadata (creating missing partition directories).
    pub(crate) fn open(
        dir: &Path,
        meta: &TopicMeta,
        defaults: &LogConfig,
    ) -> Result<Topic, BrokerError> {
        let log_config = meta.config.log_config(defaults);
        let policy = meta.config.append_policy();
        let mut partitions = Vec::with_capacity(meta.partitions as usize);
        for p in 0..meta.partitions {
            partitions.push(Arc::new(Partition::open(
                &meta.name,
                p,
                &dir.join(p.to_string()),
                log_config.clone(),
                policy,
            )?));
        }
        let changes = Arc::new(tokio::sync::watch::Sender::new(0));
        for p in &partitions {
            p.attach_topic_changes(&changes);
        }
        Ok(Topic {
            changes,
            name: meta.name.clone(),
            id: parse_id(&meta.id),
            dir: dir.to_path_buf(),
            partitions: parking_lot::RwLock::new(partitions),
            config: parking_lot::RwLock::new(meta.config.clone()),
        })
    }

    pub(crate) fn meta(&self) -> TopicMeta {
        TopicMeta {
            name: self.name.clone(),
            id: format_id(&self.id),
            partitions: self.partition_count(),
            config: self.config(),
        }
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

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
    /// A receiver that changes whenever the high watermark of any partition of the topic
    /// changes: one watcher for a reader of many partitions.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }
    /// The explicit config overrides.
    pub fn config(&self) -> TopicConfig {
        self.config.read().clone()
    }

    /// Adds partitions up to `total` (metadata is saved by the caller first).
    pub(crate) fn grow(&self, total: i32, defaults: &LogConfig) -> Result<(), BrokerError> {
        let config = self.config();
        let log_config = config.log_config(defaults);
        let mut partitions = self.partitions.write();
        for p in partitions.len() as i32..total {
            let partition = Partition::open(
                &self.name,
                p,
                &self.dir.join(p.to_string()),
                log_config.clone(),
                config.append_policy(),
            )?;
            partition.attach_topic_changes(&self.changes);
            partitions.push(Arc::new(partition));
        }
        Ok(())
    }

    pub(crate) fn set_config(&self, config: TopicConfig, defaults: &LogConfig) {
        let log_config = config.log_config(defaults);
        for p in self.partitions.read().iter() {
            p.set_config(log_config.clone(), config.append_policy());
        }
        *self.config.write() = config;
    }
}
