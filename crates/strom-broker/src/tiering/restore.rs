//! Restore: a node started with an empty data directory rebuilds every topic whose metadata is
//! in the store. Each partition's local log starts empty at its manifest's end offset (its
//! `log-start-offset`), with the producer state uploaded with the last remote segment, so
//! reads below it go to the remote tier and new appends continue the offsets. What was never
//! uploaded (the active segment, closed segments waiting for upload) is not in the store: that
//! is the recovery point. Transactions still open at the end of the remote data are aborted
//! (their commit, if any, was never uploaded, and the coordinator's state is not restored),
//! and producer ids are handed out above every id the restored snapshots name.

use std::path::Path;

use strom_tier::{manifest, PartitionKey, TierError};

use super::Tiering;
use crate::partition_txn::ControlType;
use crate::producer_state::ProducerStates;
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
        let mut max_pid = None;
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
            let key = format!("{}.snapshot", last.key);
            let snapshot = self.store.get(&key).map_err(remote)?;
            let states: ProducerStates = serde_json::from_slice(&snapshot)
                .map_err(|e| remote(TierError::Corrupt(format!("{key}: {e}"))))?;
            strom_log::write_file_atomically(
                &dir.join(crate::producer_state::SNAPSHOT_FILE),
                &snapshot,
            )?;
            strom_log::write_file_atomically(
                &dir.join(LOG_START_FILE),
                end.to_string().as_bytes(),
            )?;
            abort_open_transactions(&dir, &states)?;
            max_pid = max_pid.max(states.max_producer_id());
        }
        reserve_producer_ids(data_dir, max_pid)?;
        meta.save(&staged)?;
        let topics = data_dir.join("topics");
        std::fs::create_dir_all(&topics).map_err(io(&topics))?;
        let target = topics.join(&meta.name);
        std::fs::rename(&staged, &target).map_err(io(&target))?;
        strom_log::sync_dir(&topics)?;
        Ok(())
    }
}

/// Writes an abort marker for every transaction `states` leaves open, as the first batches of
/// the restored local log: no coordinator will ever end them (its state is not restored), and
/// an open transaction would hold the last stable offset, so read_committed readers, forever.
/// The partition's open replays the markers (snapshot, then the headers after it).
fn abort_open_transactions(dir: &Path, states: &ProducerStates) -> Result<(), BrokerError> {
    let open = states.txns.ongoing();
    if open.is_empty() {
        return Ok(());
    }
    let log = strom_log::Log::open(dir, strom_log::LogConfig::default())?;
    for (pid, first) in open {
        let epoch = states.epoch_of(pid).unwrap_or(0);
        let mut marker = crate::txn::markers::encode_marker(pid, epoch, ControlType::Abort, 0)?;
        log.append_unsynced(&mut marker)?;
        tracing::warn!(producer_id = pid, first_offset = first, dir = %dir.display(),
            "restore: aborted a transaction left open in the tiered store");
    }
    log.close()?;
    Ok(())
}

/// Makes the restored node hand out producer ids above `max_pid`: an id reused with the
/// sequences a snapshot remembers would be refused, or taken for a duplicate and dropped.
fn reserve_producer_ids(data_dir: &Path, max_pid: Option<i64>) -> Result<(), BrokerError> {
    let Some(max_pid) = max_pid else {
        return Ok(());
    };
    let meta = data_dir.join("meta");
    std::fs::create_dir_all(&meta).map_err(io(&meta))?;
    let path = meta.join("producer-id-block");
    let current = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| t.trim().parse::<i64>().ok())
        .unwrap_or(0);
    if current <= max_pid {
        strom_log::write_file_atomically(&path, (max_pid + 1).to_string().as_bytes())?;
    }
    Ok(())
}
