//! The transaction state of a [`Partition`] as readers and the Describe APIs see it: the last
//! stable offset, aborted and open transactions, and the producers it knows.

use super::Partition;
use crate::partition_txn::AbortedTxn;

impl Partition {
    /// The last stable offset: below it every transaction is decided (KIP-98).
    pub fn last_stable_offset(&self) -> i64 {
        let producers = self.producers.lock();
        producers.txns.last_stable_offset(self.high_watermark())
    }

    /// Aborted transactions overlapping `[from, to)`, for read_committed readers.
    pub fn aborted_transactions(&self, from: i64, to: i64) -> Vec<AbortedTxn> {
        self.producers.lock().txns.aborted_between(from, to)
    }

    /// The open transactions on this partition: (producer id, first offset).
    pub fn ongoing_transactions(&self) -> Vec<(i64, i64)> {
        self.producers.lock().txns.ongoing()
    }

    /// The producers this partition knows (DescribeProducers): (producer id, epoch, last
    /// sequence, first offset of its open transaction or -1).
    pub fn producers(&self) -> Vec<(i64, i16, i32, i64)> {
        let producers = self.producers.lock();
        let ongoing: std::collections::HashMap<i64, i64> =
            producers.txns.ongoing().into_iter().collect();
        let mut out: Vec<(i64, i16, i32, i64)> = producers
            .active()
            .into_iter()
            .map(|(pid, epoch, seq, _)| (pid, epoch, seq, ongoing.get(&pid).copied().unwrap_or(-1)))
            .collect();
        // Transactional producers without sequences (markers only) still show their open txn.
        for (pid, first) in ongoing {
            if !out.iter().any(|p| p.0 == pid) {
                out.push((pid, -1, -1, first));
            }
        }
        out
    }

    /// Whether producer `pid` has an open transaction on this partition.
    pub fn has_ongoing_transaction(&self, pid: i64) -> bool {
        self.producers.lock().txns.is_ongoing(pid)
    }
}
