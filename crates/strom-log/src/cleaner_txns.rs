//! What the cleaner knows of a partition's transactions ([`CleanerTxns`], given by the
//! broker), and Kafka's rules for them while one cleaning walks the log in offset order
//! ([`TxnWalk`], the counterpart of Kafka's `CleanedTransactionMetadata`): records of an
//! aborted transaction are discarded; an ABORT marker may go only once the walk met no batch
//! of its transaction, a COMMIT marker likewise; the caller then keeps a discardable marker
//! until its delete horizon (`delete.retention.ms` after the cleaning that first found it
//! discardable) has passed.

use std::collections::{HashMap, HashSet};

use crate::batch::BatchHeader;

const TRANSACTIONAL: i16 = 0x10;
/// Control record types (the second i16 of a control record's key).
const ABORT: i16 = 0;
const COMMIT: i16 = 1;

/// What the cleaner must know of a partition's transactions.
#[derive(Debug, Clone)]
pub struct CleanerTxns {
    /// The last stable offset: segments reaching past it are not cleaned yet.
    pub stable_offset: i64,
    /// Aborted transactions: (producer id, first offset, marker offset).
    pub aborted: Vec<(i64, i64, i64)>,
}

impl Default for CleanerTxns {
    fn default() -> Self {
        CleanerTxns {
            stable_offset: i64::MAX,
            aborted: Vec::new(),
        }
    }
}

impl CleanerTxns {
    /// Whether `h` is a data batch of an aborted transaction.
    pub fn is_aborted(&self, h: &BatchHeader) -> bool {
        h.attributes & TRANSACTIONAL != 0
            && !h.is_control()
            && self.aborted.iter().any(|(pid, first, last)| {
                *pid == h.producer_id && *first <= h.base_offset && h.base_offset < *last
            })
    }
}

/// One cleaning's walk over the transactions of a log, batch by batch in offset order.
pub(crate) struct TxnWalk {
    /// Aborted transactions not reached yet, by first offset, latest first (popped from the end).
    pending: Vec<(i64, i64, i64)>,
    /// Producer id -> (marker offset, whether a batch of the transaction was met).
    ongoing_aborted: HashMap<i64, (i64, bool)>,
    /// Producers with a batch of a (not aborted) transaction met since their last marker.
    ongoing_committed: HashSet<i64>,
}

impl TxnWalk {
    pub(crate) fn new(txns: &CleanerTxns) -> TxnWalk {
        let mut pending = txns.aborted.clone();
        pending.sort_by_key(|t| std::cmp::Reverse(t.1));
        TxnWalk {
            pending,
            ongoing_aborted: HashMap::new(),
            ongoing_committed: HashSet::new(),
        }
    }

    fn reach(&mut self, offset: i64) {
        while self.pending.last().is_some_and(|t| t.1 <= offset) {
            if let Some((pid, first, marker)) = self.pending.pop() {
                let e = self.ongoing_aborted.entry(pid).or_insert((marker, false));
                // An entry whose marker lies before this transaction is stale (the marker
                // was cleaned away): replace it.
                if e.0 < first {
                    *e = (marker, false);
                }
            }
        }
    }

    /// A data batch: whether it belongs to an aborted transaction (and may be discarded).
    pub(crate) fn on_batch(&mut self, h: &BatchHeader) -> bool {
        self.reach(h.last_offset());
        if h.attributes & TRANSACTIONAL == 0 {
            return false;
        }
        match self.ongoing_aborted.get_mut(&h.producer_id) {
            // A marker the cleaner removed earlier leaves no stale entry behind: the entry
            // only covers offsets before its marker.
            Some((marker, seen)) if h.base_offset < *marker => {
                *seen = true;
                true
            }
            _ => {
                self.ongoing_committed.insert(h.producer_id);
                false
            }
        }
    }

    /// A control batch whose first record has type `marker` (`None`: the batch is empty):
    /// whether the marker may be discarded once its delete horizon has passed.
    pub(crate) fn on_control(&mut self, h: &BatchHeader, marker: Option<i16>) -> bool {
        self.reach(h.last_offset());
        match marker {
            None => true,
            Some(ABORT) => !matches!(self.ongoing_aborted.remove(&h.producer_id), Some((_, true))),
            Some(COMMIT) => !self.ongoing_committed.remove(&h.producer_id),
            Some(_) => false,
        }
    }
}

/// The marker type of a control record's key (version i16, type i16).
pub(crate) fn marker_type(key: &[u8]) -> Option<i16> {
    let t = key.get(2..4)?;
    Some(i16::from_be_bytes([t[0], t[1]]))
}
