//! Idempotent-producer state of one partition: for each producer id its epoch and the last
//! few batches' sequence ranges with their offsets, so a retried batch is recognised and
//! acknowledged with its original offset instead of being written twice (KIP-98).
//!
//! The log is the source of truth: batch headers carry producer id, epoch and sequences, so
//! the state is rebuilt by scanning them. A snapshot written on clean shutdown bounds that scan.

use std::collections::{HashMap, VecDeque};
use std::path::Path;

use serde::{Deserialize, Serialize};
use strom_log::BatchHeader;

use crate::partition_txn::PartitionTxns;
use crate::BrokerError;

/// Kafka keeps the last five batches per producer (max.in.flight.requests.per.connection).
const CACHED_BATCHES: usize = 5;
pub(crate) const SNAPSHOT_FILE: &str = "producer-state.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct BatchRange {
    first_seq: i32,
    last_seq: i32,
    base_offset: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Producer {
    epoch: i16,
    batches: VecDeque<BatchRange>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ProducerStates {
    producers: HashMap<i64, Producer>,
    /// Batches below this offset are reflected in the state.
    pub(crate) next_offset: i64,
    /// Open and aborted transactions (`partition_txn.rs`), saved with the rest.
    #[serde(default)]
    pub(crate) txns: PartitionTxns,
    /// `next_offset` of the snapshot on disk, if it matches this state.
    #[serde(skip)]
    saved_at: Option<i64>,
}

/// The outcome of checking a batch.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Check {
    /// Not idempotent, or the expected next sequence: append it.
    Append,
    /// Already written: acknowledge with this base offset.
    Duplicate(i64),
}

fn last_seq(h: &BatchHeader) -> i32 {
    // Sequences wrap at i32::MAX back to 0 (KIP-98).
    ((i64::from(h.base_sequence) + i64::from(h.last_offset_delta)) % (i64::from(i32::MAX) + 1))
        as i32
}

fn next_seq(seq: i32) -> i32 {
    if seq == i32::MAX {
        0
    } else {
        seq + 1
    }
}

impl ProducerStates {
    /// Checks a batch against the state without changing it.
    pub(crate) fn check(&self, h: &BatchHeader) -> Result<Check, BrokerError> {
        if !h.has_producer_id() || h.base_sequence < 0 {
            return Ok(Check::Append);
        }
        let Some(p) = self.producers.get(&h.producer_id) else {
            // A producer we have never seen (or whose state retention removed) must start at 0.
            return if h.base_sequence == 0 {
                Ok(Check::Append)
            } else {
                Err(BrokerError::OutOfOrderSequence {
                    expected: 0,
                    got: h.base_sequence,
                })
            };
        };
        if h.producer_epoch < p.epoch {
            return Err(BrokerError::InvalidProducerEpoch {
                current: p.epoch,
                got: h.producer_epoch,
            });
        }
        if h.producer_epoch > p.epoch {
            return if h.base_sequence == 0 {
                Ok(Check::Append)
            } else {
                Err(BrokerError::OutOfOrderSequence {
                    expected: 0,
                    got: h.base_sequence,
                })
            };
        }
        let last = last_seq(h);
        if let Some(b) = p
            .batches
            .iter()
            .find(|b| b.first_seq == h.base_sequence && b.last_seq == last)
        {
            return Ok(Check::Duplicate(b.base_offset));
        }
        let expected = p.batches.back().map(|b| next_seq(b.last_seq)).unwrap_or(0);
        if h.base_sequence != expected {
            return Err(BrokerError::OutOfOrderSequence {
                expected,
                got: h.base_sequence,
            });
        }
        Ok(Check::Append)
    }

    /// Records a written batch (with its assigned base offset).
    pub(crate) fn record(&mut self, h: &BatchHeader) {
        self.next_offset = self.next_offset.max(h.last_offset() + 1);
        if !h.has_producer_id() || h.base_sequence < 0 {
            return;
        }
        let p = self.producers.entry(h.producer_id).or_default();
        if h.producer_epoch != p.epoch {
            p.epoch = h.producer_epoch;
            p.batches.clear();
        }
        p.batches.push_back(BatchRange {
            first_seq: h.base_sequence,
            last_seq: last_seq(h),
            base_offset: h.base_offset,
        });
        while p.batches.len() > CACHED_BATCHES {
            p.batches.pop_front();
        }
    }

    /// The epoch of producer `pid`, if known.
    pub(crate) fn epoch_of(&self, pid: i64) -> Option<i16> {
        self.producers.get(&pid).map(|p| p.epoch)
    }

    /// The highest producer id this state names (producers and open transactions).
    pub(crate) fn max_producer_id(&self) -> Option<i64> {
        let open = self.txns.ongoing().into_iter().map(|(pid, _)| pid);
        self.producers.keys().copied().chain(open).max()
    }

    /// Every known producer: (producer id, epoch, last sequence, last batch's base offset).
    pub(crate) fn active(&self) -> Vec<(i64, i16, i32, i64)> {
        let mut out: Vec<_> = self
            .producers
            .iter()
            .map(|(pid, p)| {
                let last = p.batches.back();
                (
                    *pid,
                    p.epoch,
                    last.map_or(-1, |b| b.last_seq),
                    last.map_or(-1, |b| b.base_offset),
                )
            })
            .collect();
        out.sort_unstable();
        out
    }

    /// Loads the snapshot in `dir` if it is usable (not past the log end), else empty state.
    pub(crate) fn load(dir: &Path, log_end: i64) -> ProducerStates {
        let path = dir.join(SNAPSHOT_FILE);
        let Ok(bytes) = std::fs::read(&path) else {
            return ProducerStates::default();
        };
        match serde_json::from_slice::<ProducerStates>(&bytes) {
            Ok(s) if s.next_offset <= log_end => ProducerStates {
                saved_at: Some(s.next_offset),
                ..s
            },
            Ok(_) => {
                tracing::warn!(file = %path.display(), "producer snapshot is ahead of the log; rebuilding from the log");
                ProducerStates::default()
            }
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "unreadable producer snapshot; rebuilding from the log");
                ProducerStates::default()
            }
        }
    }

    /// Writes the snapshot atomically, unless nothing was recorded since the last one (or
    /// since an empty start): closing an idle partition costs no fsync.
    pub(crate) fn save(&mut self, dir: &Path) -> Result<(), BrokerError> {
        if self.saved_at.unwrap_or(0) == self.next_offset {
            return Ok(());
        }
        let bytes = serde_json::to_vec(self).map_err(|e| BrokerError::Io {
            path: dir.join(SNAPSHOT_FILE),
            source: std::io::Error::other(e),
        })?;
        strom_log::write_file_atomically(&dir.join(SNAPSHOT_FILE), &bytes)?;
        self.saved_at = Some(self.next_offset);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(pid: i64, epoch: i16, seq: i32, count: i32, base: i64) -> BatchHeader {
        BatchHeader {
            base_offset: base,
            batch_length: 100,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes: 0,
            last_offset_delta: count - 1,
            base_timestamp: 0,
            max_timestamp: 0,
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            record_count: count,
        }
    }

    #[test]
    fn duplicates_gaps_and_epochs() {
        let mut s = ProducerStates::default();
        let b0 = header(7, 0, 0, 3, 0);
        assert_eq!(s.check(&b0).expect("first"), Check::Append);
        s.record(&b0);
        assert_eq!(s.check(&b0).expect("retry"), Check::Duplicate(0));
        let gap = header(7, 0, 5, 1, 0);
        assert!(matches!(
            s.check(&gap),
            Err(BrokerError::OutOfOrderSequence {
                expected: 3,
                got: 5
            })
        ));
        let b1 = header(7, 0, 3, 2, 3);
        assert_eq!(s.check(&b1).expect("next"), Check::Append);
        s.record(&b1);
        assert!(matches!(
            s.check(&header(7, -1, 5, 1, 0)),
            Err(BrokerError::InvalidProducerEpoch { .. })
        ));
        assert_eq!(
            s.check(&header(7, 1, 0, 1, 0)).expect("bump"),
            Check::Append
        );
        assert!(
            s.check(&header(8, 0, 4, 1, 0)).is_err(),
            "unknown producer not at 0"
        );
        assert_eq!(
            s.check(&header(-1, -1, -1, 1, 0)).expect("plain"),
            Check::Append
        );
    }

    #[test]
    fn sequence_wraps_at_i32_max() {
        let mut s = ProducerStates::default();
        let mut h = header(1, 0, 0, 1, 0);
        s.record(&h);
        // Pretend the producer is near the wrap point.
        h.base_sequence = i32::MAX - 1;
        h.last_offset_delta = 1;
        s.producers
            .get_mut(&1)
            .expect("p")
            .batches
            .back_mut()
            .expect("b")
            .last_seq = i32::MAX - 2;
        assert_eq!(s.check(&h).expect("ok"), Check::Append);
        s.record(&h);
        assert_eq!(
            s.check(&header(1, 0, 0, 1, 9)).expect("wrapped"),
            Check::Append
        );
    }
}
