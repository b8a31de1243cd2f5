//! Restore: a node started with an empty data directory rebuilds every topic whose metadata is
//! in the store. Each partition's local log starts empty at its manifest's end offset (its
//! `log-start-offset`), with the producer state uploaded with the last remote segment, so
//! reads below it go to the remote tier and new appends continue the offsets. What was never
//! uploaded (the active segment, closed segments waiting for upload) is not in the store: that
//! is the recovery point.

use std::path::Path;

use strom_tier::{manifest, PartitionKey, TierError};

use super::Tiering;
use crate::topic::TopicMeta;
use crate::BrokerError;

/// The persisted log start offset file of a log directory (`strom-log`'s name).
const LOG_START_FILE: &str = "log-start-offset";

fn io(path: &Path) -> impl Fn(std::io::Error) -> BrokerError + '_ {
    move |source| BrokerError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn remote(e: TierError) -> BrokerError {
    tracing::error!(error = %e, "restore from the tiered store failed");
    BrokerError::RemoteStorage
}

impl Tiering {
    /// Restores the store's topics into `data_dir` if it holds no topic yet (call before the
    /// broker opens it). Returns the names of the restored topics.
    ///
    /// Errors: `RemoteStorage` when the store cannot be read, `Io` for the data directory.
    pub fn restore(&self, data_dir: &Path) -> Result<Vec<String>, BrokerError> {
        let topics = data_dir.join("topics");
        let has_topics = match std::fs::read_dir(&topics) {
            Ok(mut entries) => entries.next().is_some(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(io(&topics)(e)),
        };
        if has_topics {
            return Ok(Vec::new());
        }
        let mut restored = Vec::new();
        for obj in self.store.list("topics/").map_err(remote)? {
            let parts: Vec<&str> = obj.key.split('/').collect();
            if parts.len() != 3 || parts[2] != "topic.json" {
                continue;
            }
            let bytes = self.store.get(&obj.key).map_err(remote)?;
            let meta: TopicMeta = serde_json::from_slice(&bytes)
                .map_err(|e| remote(TierError::Corrupt(format!("{}: {e}", obj.key))))?;
            self.restore_topic(data_dir, &meta)?;
            tracing::info!(topic = %meta.name, partitions = meta.partitions, "restored topic from the tiered store");
            restored.push(meta.name);
        }
        Ok(restored)
    }

    /// Builds the topic in `staging/`, then renames it into `topics/` (all or nothing).
    fn restore_topic(&self, data_dir: &Path, meta: &TopicMeta) -> Result<(), BrokerError> {
        let staged = data_dir
            .join("staging")
            .join(format!("restore-{}", meta.id));
        if staged.exists() {
            std::fs::remove_dir_all(&staged).map_err(io(&staged))?;
        }
        std::fs::create_dir_all(&staged).map_err(io(&staged))?;
        for p in 0..meta.partitions {
            let dir = staged.join(p.to_string());
            std::fs::create_dir(&dir).map_err(io(&dir))?;
            let key = PartitionKey {
                topic: meta.name.clone(),
                topic_id: meta.id.clone(),
                partition: p,
            };
            let Some(m) = manifest::load_latest(self.store.as_ref(), &key).map_err(remote)? else {
                continue;
            };
            let Some(last) = m.segments.last() else {
                continue;
            };
            let end = m.end_offset();
            let snapshot = self
                .store
                .get(&format!("{}.snapshot", last.key))
                .map_err(remote)?;
            strom_log::write_file_atomically(
                &dir.join(crate::producer_state::SNAPSHOT_FILE),
                &snapshot,
            )?;
            strom_log::write_file_atomically(
                &dir.join(LOG_START_FILE),
                end.to_string().as_bytes(),
            )?;
        }
        meta.save(&staged)?;
        let topics = data_dir.join("topics");
        std::fs::create_dir_all(&topics).map_err(io(&topics))?;
        let target = topics.join(&meta.name);
        std::fs::rename(&staged, &target).map_err(io(&target))?;
        strom_log::sync_dir(&topics)?;
        Ok(())
    }
}
