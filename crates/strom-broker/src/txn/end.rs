//! Completing a transaction: markers to every partition, staged offsets to the groups on
//! commit, then CompleteCommit/CompleteAbort in `__transaction_state`. Each step may be
//! repeated safely (a second marker for a decided transaction changes nothing; offsets are
//! the same values), so recovery simply runs it again for a transaction found prepared.

use std::sync::Arc;

use parking_lot::Mutex;

use super::{TxnCoordinator, TxnError, TxnMeta, TxnState};
use crate::group::OffsetCommitEntry;
use crate::partition_txn::ControlType;
use crate::records::now_ms;
use crate::BrokerError;

impl TxnCoordinator {
    /// Finishes a prepared transaction (`meta` is locked by the caller).
    /// Errors: `Storage` when a marker, an offset or the final state cannot be written; the
    /// transaction stays prepared and the timeout thread retries it.
    pub(super) fn finish(&self, id: &str, meta: &mut TxnMeta) -> Result<(), TxnError> {
        let control = match meta.state {
            TxnState::PrepareCommit => ControlType::Commit,
            TxnState::PrepareAbort => ControlType::Abort,
            _ => return Ok(()),
        };
        for (topic, index) in &meta.partitions {
            match self.broker.partition(topic, *index) {
                Ok(p) => {
                    p.append_marker(meta.producer_id, meta.epoch, control, 0)?;
                }
                // A deleted topic has nothing left to mark.
                Err(BrokerError::UnknownTopic(_) | BrokerError::UnknownPartition { .. }) => {
                    tracing::debug!(
                        topic,
                        partition = index,
                        "no marker for a deleted partition"
                    );
                }
                Err(err) => return Err(err.into()),
            }
        }
        if control == ControlType::Commit {
            self.commit_offsets(meta)?;
        }
        let mut next = meta.clone();
        next.complete(now_ms());
        self.persist(id, &next)?;
        *meta = next;
        Ok(())
    }

    fn commit_offsets(&self, meta: &TxnMeta) -> Result<(), TxnError> {
        if meta.pending_offsets.is_empty() {
            return Ok(());
        }
        let runtime = self
            .runtime
            .as_ref()
            .ok_or_else(|| TxnError::Storage("no runtime to commit offsets".into()))?;
        for group in &meta.groups {
            let offsets: Vec<OffsetCommitEntry> = meta
                .pending_offsets
                .iter()
                .filter(|o| &o.group == group)
                .map(|o| OffsetCommitEntry {
                    topic: o.topic.clone(),
                    partition: o.partition,
                    offset: o.offset,
                    leader_epoch: o.leader_epoch,
                    metadata: o.metadata.clone(),
                })
                .collect();
            if offsets.is_empty() {
                continue;
            }
            let results = runtime
                .block_on(self.groups.commit_transactional_offsets(group, offsets))
                .map_err(|e| TxnError::Storage(e.to_string()))?;
            if let Some(err) = results.iter().find_map(|r| r.error.as_ref()) {
                // An unknown partition stays unknown: logged, not retried forever.
                tracing::warn!(group, error = %err, "a transactional offset was not committed");
            }
        }
        Ok(())
    }

    /// At start: completes every transaction caught between prepare and complete.
    pub(super) fn recover(&self) {
        let prepared = self.prepared();
        for (id, entry) in prepared {
            let mut meta = entry.lock();
            tracing::info!(transactional_id = %id, state = meta.state.as_str(), "completing a transaction found prepared at start");
            if let Err(err) = self.finish(&id, &mut meta) {
                tracing::warn!(transactional_id = %id, error = %err, "cannot complete a prepared transaction yet; retrying");
            }
        }
    }

    /// Retries transactions left prepared by a failed completion.
    pub(super) fn retry_unfinished(&self) {
        self.recover();
    }

    fn prepared(&self) -> Vec<(String, Arc<Mutex<TxnMeta>>)> {
        self.ids
            .lock()
            .iter()
            .filter(|(_, m)| {
                m.try_lock().is_some_and(|m| {
                    matches!(m.state, TxnState::PrepareCommit | TxnState::PrepareAbort)
                })
            })
            .map(|(k, v)| (k.clone(), Arc::clone(v)))
            .collect()
    }
}
