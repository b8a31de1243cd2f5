//! The transaction state machine of one transactional id (Kafka's `TransactionMetadata`):
//! pure transitions, no I/O, so every rule is unit-tested. The coordinator (`mod.rs`) applies
//! them, persists the result in `__transaction_state` and writes the markers.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::TxnError;

/// Where a transaction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnState {
    Empty,
    Ongoing,
    PrepareCommit,
    PrepareAbort,
    CompleteCommit,
    CompleteAbort,
}

impl TxnState {
    /// Kafka's name for the state (DescribeTransactions, ListTransactions).
    pub fn as_str(self) -> &'static str {
        match self {
            TxnState::Empty => "Empty",
            TxnState::Ongoing => "Ongoing",
            TxnState::PrepareCommit => "PrepareCommit",
            TxnState::PrepareAbort => "PrepareAbort",
            TxnState::CompleteCommit => "CompleteCommit",
            TxnState::CompleteAbort => "CompleteAbort",
        }
    }
}

/// An offset a transaction commits for a group when it commits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingOffset {
    pub group: String,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: Option<String>,
}

/// Everything the coordinator knows of one transactional id; the value stored under the id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnMeta {
    pub producer_id: i64,
    pub epoch: i16,
    /// The epoch before the last bump, so a retried InitProducerId or a producer whose
    /// transaction timed out can still bump (KIP-360); -1 if none.
    pub last_epoch: i16,
    pub timeout_ms: i32,
    pub state: TxnState,
    pub partitions: BTreeSet<(String, i32)>,
    pub groups: BTreeSet<String>,
    pub pending_offsets: Vec<PendingOffset>,
    /// Wall-clock start of the ongoing transaction (ms since the epoch), for the timeout.
    pub started_ms: i64,
    pub updated_ms: i64,
}

/// What InitProducerId must do.
#[derive(Debug, PartialEq, Eq)]
pub enum InitStep {
    /// Abort the ongoing transaction (markers at the new epoch), then answer.
    AbortThenAnswer,
    /// Answer with the (bumped) producer id and epoch.
    Answer,
}

impl TxnMeta {
    /// A fresh transactional id's metadata.
    pub fn new(producer_id: i64, timeout_ms: i32, now_ms: i64) -> TxnMeta {
        TxnMeta {
            producer_id,
            epoch: 0,
            last_epoch: -1,
            timeout_ms,
            state: TxnState::Empty,
            partitions: BTreeSet::new(),
            groups: BTreeSet::new(),
            pending_offsets: Vec::new(),
            started_ms: -1,
            updated_ms: now_ms,
        }
    }

    /// InitProducerId for an existing id: bumps the epoch (fencing older producers) or, when
    /// the epoch is exhausted, takes `new_pid` at epoch 0. `given` is the request's (producer
    /// id, epoch), (-1, -1) for a fresh producer.
    /// Errors: `ConcurrentTransactions` while a commit or abort is being written,
    /// `ProducerFenced` when `given` names an older producer.
    pub fn init(
        &mut self,
        given: (i64, i16),
        timeout_ms: i32,
        new_pid: impl FnOnce() -> Result<i64, TxnError>,
        now_ms: i64,
    ) -> Result<InitStep, TxnError> {
        if matches!(self.state, TxnState::PrepareCommit | TxnState::PrepareAbort) {
            return Err(TxnError::ConcurrentTransactions);
        }
        if given.0 >= 0 {
            let known = given.0 == self.producer_id
                && (given.1 == self.epoch || given.1 == self.last_epoch);
            if !known {
                return Err(TxnError::ProducerFenced);
            }
            if given.1 == self.last_epoch && self.state != TxnState::Ongoing {
                // A retry of the bump we already made: answer the same.
                return Ok(InitStep::Answer);
            }
        }
        self.timeout_ms = timeout_ms;
        self.updated_ms = now_ms;
        if self.epoch >= i16::MAX - 1 {
            self.producer_id = new_pid()?;
            self.last_epoch = -1;
            self.epoch = 0;
        } else {
            self.last_epoch = self.epoch;
            self.epoch += 1;
        }
        Ok(if self.state == TxnState::Ongoing {
            self.state = TxnState::PrepareAbort;
            InitStep::AbortThenAnswer
        } else {
            InitStep::Answer
        })
    }

    /// Checks that (pid, epoch) is the current producer of this id.
    /// Errors: `InvalidProducerIdMapping` for another producer id, `ProducerFenced` for
    /// another epoch.
    pub fn check_producer(&self, pid: i64, epoch: i16) -> Result<(), TxnError> {
        if pid != self.producer_id {
            return Err(TxnError::InvalidProducerIdMapping);
        }
        if epoch != self.epoch {
            return Err(TxnError::ProducerFenced);
        }
        Ok(())
    }

    /// AddPartitionsToTxn / AddOffsetsToTxn: joins partitions (and a group) to the
    /// transaction, starting it if needed. Returns whether anything changed.
    /// Errors: those of [`TxnMeta::check_producer`], `ConcurrentTransactions` while the
    /// previous transaction's markers are being written.
    pub fn add(
        &mut self,
        pid: i64,
        epoch: i16,
        partitions: &[(String, i32)],
        group: Option<&str>,
        now_ms: i64,
    ) -> Result<bool, TxnError> {
        self.check_producer(pid, epoch)?;
        if matches!(self.state, TxnState::PrepareCommit | TxnState::PrepareAbort) {
            return Err(TxnError::ConcurrentTransactions);
        }
        let mut changed = false;
        if self.state != TxnState::Ongoing {
            self.state = TxnState::Ongoing;
            self.partitions.clear();
            self.groups.clear();
            self.pending_offsets.clear();
            self.started_ms = now_ms;
            changed = true;
        }
        for p in partitions {
            changed |= self.partitions.insert(p.clone());
        }
        if let Some(g) = group {
            changed |= self.groups.insert(g.to_string());
        }
        if changed {
            self.updated_ms = now_ms;
        }
        Ok(changed)
    }

    /// TxnOffsetCommit: stages offsets for `group`, applied only when the transaction commits.
    /// Errors: those of `check_producer`; `InvalidTxnState` unless the group was added.
    pub fn stage_offsets(
        &mut self,
        pid: i64,
        epoch: i16,
        offsets: Vec<PendingOffset>,
    ) -> Result<(), TxnError> {
        self.check_producer(pid, epoch)?;
        if self.state != TxnState::Ongoing
            || offsets.iter().any(|o| !self.groups.contains(&o.group))
        {
            return Err(TxnError::InvalidTxnState);
        }
        for o in offsets {
            self.pending_offsets
                .retain(|p| (&p.group, &p.topic, p.partition) != (&o.group, &o.topic, o.partition));
            self.pending_offsets.push(o);
        }
        Ok(())
    }

    /// EndTxn: moves an ongoing transaction to PrepareCommit/PrepareAbort. Returns `false`
    /// when it is a retry of an EndTxn already completed with the same outcome.
    /// Errors: those of `check_producer`; `InvalidTxnState` for an EndTxn that does not
    /// match the state.
    pub fn prepare_end(&mut self, pid: i64, epoch: i16, commit: bool) -> Result<bool, TxnError> {
        if pid == self.producer_id && epoch == self.last_epoch && !commit {
            // The coordinator aborted on timeout and bumped the epoch: an abort from the
            // producer is what it already did.
            if self.state == TxnState::CompleteAbort {
                return Ok(false);
            }
        }
        self.check_producer(pid, epoch)?;
        match (self.state, commit) {
            (TxnState::Ongoing, true) => self.state = TxnState::PrepareCommit,
            (TxnState::Ongoing, false) => self.state = TxnState::PrepareAbort,
            (TxnState::CompleteCommit, true) | (TxnState::CompleteAbort, false) => {
                return Ok(false)
            }
            (TxnState::PrepareCommit | TxnState::PrepareAbort, _) => {
                return Err(TxnError::ConcurrentTransactions)
            }
            _ => return Err(TxnError::InvalidTxnState),
        }
        Ok(true)
    }

    /// After the markers are written: CompleteCommit/CompleteAbort, partitions forgotten.
    pub fn complete(&mut self, now_ms: i64) {
        self.state = match self.state {
            TxnState::PrepareCommit => TxnState::CompleteCommit,
            _ => TxnState::CompleteAbort,
        };
        self.partitions.clear();
        self.groups.clear();
        self.pending_offsets.clear();
        self.started_ms = -1;
        self.updated_ms = now_ms;
    }

    /// Whether an ongoing transaction has run past its timeout at `now_ms`.
    pub fn timed_out(&self, now_ms: i64) -> bool {
        self.state == TxnState::Ongoing
            && now_ms.saturating_sub(self.started_ms) > i64::from(self.timeout_ms)
    }

    /// Aborts on timeout: bumps the epoch so the late producer is fenced (Kafka does the
    /// same), and moves to PrepareAbort.
    pub fn prepare_timeout_abort(&mut self) {
        if self.epoch < i16::MAX - 1 {
            self.last_epoch = self.epoch;
            self.epoch += 1;
        }
        self.state = TxnState::PrepareAbort;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid() -> Result<i64, TxnError> {
        Ok(99)
    }

    fn tp(t: &str, p: i32) -> (String, i32) {
        (t.to_string(), p)
    }

    #[test]
    fn init_bumps_the_epoch_and_fences_the_old_producer() {
        let mut m = TxnMeta::new(7, 1000, 0);
        assert_eq!(m.init((-1, -1), 1000, pid, 1), Ok(InitStep::Answer));
        assert_eq!((m.producer_id, m.epoch), (7, 1));
        assert_eq!(
            m.add(7, 0, &[tp("a", 0)], None, 2),
            Err(TxnError::ProducerFenced)
        );
        assert_eq!(
            m.add(8, 1, &[tp("a", 0)], None, 2),
            Err(TxnError::InvalidProducerIdMapping)
        );
        assert_eq!(m.add(7, 1, &[tp("a", 0)], None, 2), Ok(true));
        // A new producer instance while a transaction is open: abort it first.
        assert_eq!(
            m.init((-1, -1), 1000, pid, 3),
            Ok(InitStep::AbortThenAnswer)
        );
        assert_eq!(m.state, TxnState::PrepareAbort);
        assert_eq!(m.epoch, 2);
        assert_eq!(
            m.init((-1, -1), 1000, pid, 3),
            Err(TxnError::ConcurrentTransactions)
        );
        m.complete(4);
        assert_eq!(m.state, TxnState::CompleteAbort);
        assert!(m.partitions.is_empty());
        // KIP-360: the current producer may bump (and a retry of the last bump gets the same
        // answer); an older one is fenced.
        assert_eq!(m.init((7, 0), 1000, pid, 5), Err(TxnError::ProducerFenced));
        assert_eq!(m.init((7, 1), 1000, pid, 5), Ok(InitStep::Answer));
        assert_eq!(m.epoch, 2, "a retried bump does not bump again");
        assert_eq!(m.init((7, 2), 1000, pid, 5), Ok(InitStep::Answer));
        assert_eq!(m.epoch, 3);
        // Exhausted epochs take a new producer id.
        m.epoch = i16::MAX - 1;
        assert_eq!(m.init((-1, -1), 1000, pid, 6), Ok(InitStep::Answer));
        assert_eq!((m.producer_id, m.epoch), (99, 0));
    }

    #[test]
    fn end_txn_commits_aborts_and_answers_retries() {
        let mut m = TxnMeta::new(1, 1000, 0);
        assert_eq!(m.prepare_end(1, 0, true), Err(TxnError::InvalidTxnState));
        m.add(1, 0, &[tp("a", 0)], Some("g"), 1).expect("add");
        let offset = PendingOffset {
            group: "g".into(),
            topic: "in".into(),
            partition: 0,
            offset: 5,
            leader_epoch: -1,
            metadata: None,
        };
        let other = PendingOffset {
            group: "h".into(),
            ..offset.clone()
        };
        assert_eq!(
            m.stage_offsets(1, 0, vec![other]),
            Err(TxnError::InvalidTxnState)
        );
        m.stage_offsets(1, 0, vec![offset]).expect("stage");
        assert_eq!(m.prepare_end(1, 0, true), Ok(true));
        assert_eq!(m.state, TxnState::PrepareCommit);
        assert_eq!(m.pending_offsets.len(), 1);
        m.complete(2);
        assert_eq!(m.state, TxnState::CompleteCommit);
        assert_eq!(m.prepare_end(1, 0, true), Ok(false), "retry");
        assert_eq!(m.prepare_end(1, 0, false), Err(TxnError::InvalidTxnState));
    }

    #[test]
    fn timeouts_abort_and_fence() {
        let mut m = TxnMeta::new(1, 100, 0);
        m.add(1, 0, &[tp("a", 0)], None, 1000).expect("add");
        assert!(!m.timed_out(1100));
        assert!(m.timed_out(1101));
        m.prepare_timeout_abort();
        m.complete(1102);
        assert_eq!((m.state, m.epoch), (TxnState::CompleteAbort, 1));
        assert_eq!(
            m.add(1, 0, &[tp("a", 0)], None, 1103),
            Err(TxnError::ProducerFenced)
        );
        // The late producer's own abort is accepted; then it may bump (KIP-360).
        assert_eq!(m.prepare_end(1, 0, false), Ok(false));
        assert_eq!(m.init((1, 0), 100, pid, 1104), Ok(InitStep::Answer));
        assert_eq!(m.epoch, 1);
    }
}
