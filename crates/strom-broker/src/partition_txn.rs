//! Per-partition transaction state (KIP-98): the transactions still open on this partition
//! (first offset per producer id), the aborted-transactions index (producer id, first and
//! last offset of every aborted transaction) and from them the last stable offset (LSO).
//!
//! The index lives in the producer-state snapshot (written on clean close and before
//! compaction) and is rebuilt from the log after it at open: transactional batches carry
//! their producer id in the header, and each commit/abort marker is a control batch whose
//! one record's key says which. So the index survives restarts and SIGKILL without a file of
//! its own: the log stays the one source of truth (Kafka keeps a `.txnindex` per segment;
//! one small list per partition is enough for one node, and is rebuilt the same way).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use strom_log::BatchHeader;

/// Attribute bit of a transactional batch.
pub const TRANSACTIONAL_BIT: i16 = 0x10;
/// Attribute bit of a control batch.
pub const CONTROL_BIT: i16 = 0x20;

/// What a control record marks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlType {
    Abort,
    Commit,
}

impl ControlType {
    /// Kafka's control record type (key field `type`): 0 abort, 1 commit.
    pub fn code(self) -> i16 {
        match self {
            ControlType::Abort => 0,
            ControlType::Commit => 1,
        }
    }
}

/// One aborted transaction, as the Fetch response's `aborted_transactions` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbortedTxn {
    pub producer_id: i64,
    pub first_offset: i64,
    /// Offset of the abort marker.
    pub last_offset: i64,
}

/// Open and aborted transactions of one partition.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct PartitionTxns {
    /// Producer id -> first offset of its open transaction.
    ongoing: BTreeMap<i64, i64>,
    /// In marker order (so by `last_offset`).
    aborted: Vec<AbortedTxn>,
}

/// Whether the batch is transactional data (not a marker).
pub fn is_transactional(h: &BatchHeader) -> bool {
    h.attributes & TRANSACTIONAL_BIT != 0 && !h.is_control()
}

/// The control type of a stored control batch (its first record's key: version i16, type
/// i16), or `None` if the batch is not a readable control batch.
pub fn control_type(batch: &[u8]) -> Option<ControlType> {
    let h = BatchHeader::parse(batch)?;
    if !h.is_control() || h.compression() != 0 {
        return None;
    }
    let mut rest = batch.get(strom_log::BATCH_HEADER_LEN..)?;
    let _record_len = varint(&mut rest)?;
    rest = rest.get(1..)?; // attributes
    let _timestamp_delta = varint(&mut rest)?;
    let _offset_delta = varint(&mut rest)?;
    let key_len = varint(&mut rest)?;
    if key_len < 4 {
        return None;
    }
    let key = rest.get(..4)?;
    match i16::from_be_bytes([key[2], key[3]]) {
        0 => Some(ControlType::Abort),
        1 => Some(ControlType::Commit),
        _ => None,
    }
}

/// The whole batches of `bytes` that lie below `stable` (the last stable offset): what a
/// read_committed reader may see. Batches are never split; the LSO is always a batch start.
pub fn stable_prefix(bytes: &bytes::Bytes, stable: i64) -> bytes::Bytes {
    let mut end = 0;
    while let Some(h) = BatchHeader::parse(&bytes[end..]) {
        if h.base_offset >= stable || end + h.total_len() > bytes.len() {
            break;
        }
        end += h.total_len();
    }
    bytes.slice(..end)
}

/// The batches of `bytes` a read_committed reader decodes: those below `stable`, without the
/// batches of `aborted` transactions (control batches are left for the decoder to skip).
pub fn committed_batches(
    bytes: &bytes::Bytes,
    stable: i64,
    aborted: &[AbortedTxn],
) -> bytes::Bytes {
    let stable = stable_prefix(bytes, stable);
    if aborted.is_empty() {
        return stable;
    }
    let mut out = bytes::BytesMut::with_capacity(stable.len());
    let mut pos = 0;
    while let Some(h) = BatchHeader::parse(&stable[pos..]) {
        let end = pos + h.total_len();
        let dropped = is_transactional(&h)
            && aborted.iter().any(|a| {
                a.producer_id == h.producer_id
                    && a.first_offset <= h.base_offset
                    && h.base_offset < a.last_offset
            });
        if !dropped {
            out.extend_from_slice(&stable[pos..end]);
        }
        pos = end;
    }
    out.freeze()
}

/// A zig-zag varint (at most 10 bytes).
fn varint(input: &mut &[u8]) -> Option<i64> {
    let mut value: u64 = 0;
    for i in 0..10 {
        let (&b, rest) = input.split_first()?;
        *input = rest;
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((value >> 1) as i64 ^ -((value & 1) as i64));
        }
    }
    None
}

impl PartitionTxns {
    /// Records a written batch: `control` is its marker type when it is a control batch.
    pub(crate) fn record(&mut self, h: &BatchHeader, control: Option<ControlType>) {
        if !h.has_producer_id() {
            return;
        }
        if h.is_control() {
            let first = self.ongoing.remove(&h.producer_id);
            if let (Some(first_offset), Some(ControlType::Abort)) = (first, control) {
                self.aborted.push(AbortedTxn {
                    producer_id: h.producer_id,
                    first_offset,
                    last_offset: h.base_offset,
                });
            }
        } else if is_transactional(h) {
            self.ongoing.entry(h.producer_id).or_insert(h.base_offset);
        }
    }

    /// Whether producer `pid` has an open transaction here.
    pub(crate) fn is_ongoing(&self, pid: i64) -> bool {
        self.ongoing.contains_key(&pid)
    }

    /// The last stable offset: the first offset of the earliest open transaction, else `hw`.
    pub(crate) fn last_stable_offset(&self, hw: i64) -> i64 {
        self.ongoing.values().copied().min().unwrap_or(hw).min(hw)
    }

    /// Aborted transactions overlapping `[from, to)`.
    pub(crate) fn aborted_between(&self, from: i64, to: i64) -> Vec<AbortedTxn> {
        self.aborted
            .iter()
            .filter(|a| a.last_offset >= from && a.first_offset < to)
            .copied()
            .collect()
    }

    /// Forgets aborted transactions wholly before `log_start` (retention removed them).
    pub(crate) fn trim_before(&mut self, log_start: i64) {
        self.aborted.retain(|a| a.last_offset >= log_start);
    }

    /// The open transactions: (producer id, first offset).
    pub(crate) fn ongoing(&self) -> Vec<(i64, i64)> {
        self.ongoing.iter().map(|(p, o)| (*p, *o)).collect()
    }

    /// Adds the aborted transactions of `other` this state does not list (kept in marker
    /// order), e.g. those a local rebuild trimmed below the local log start.
    pub(crate) fn merge_aborted(&mut self, other: &PartitionTxns) {
        for a in &other.aborted {
            if !self.aborted.contains(a) {
                self.aborted.push(*a);
            }
        }
        self.aborted.sort_by_key(|a| a.last_offset);
    }
}

/// The transactional batches and markers of `log` in `[from, to)`, each marker with its
/// type (read from its control record), in offset order: what [`PartitionTxns::record`]
/// needs to replay that range.
/// Errors: those of reading the log.
pub(crate) fn txn_batches(
    log: &strom_log::Log,
    from: i64,
    to: i64,
) -> Result<Vec<(BatchHeader, Option<ControlType>)>, crate::BrokerError> {
    let mut headers = Vec::new();
    log.scan_headers(from.max(log.log_start_offset()), &mut |h| {
        if h.base_offset >= to {
            return false;
        }
        if h.base_offset >= from && h.has_producer_id() && (h.is_control() || is_transactional(h)) {
            headers.push(*h);
        }
        true
    })?;
    let mut out = Vec::with_capacity(headers.len());
    for h in headers {
        let control = if h.is_control() {
            control_type(&log.read(h.base_offset, 1)?.bytes)
        } else {
            None
        };
        out.push((h, control));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(pid: i64, base: i64, attributes: i16) -> BatchHeader {
        BatchHeader {
            base_offset: base,
            batch_length: 100,
            partition_leader_epoch: 0,
            magic: 2,
            crc: 0,
            attributes,
            last_offset_delta: 0,
            base_timestamp: 0,
            max_timestamp: 0,
            producer_id: pid,
            producer_epoch: 0,
            base_sequence: 0,
            record_count: 1,
        }
    }

    #[test]
    fn lso_follows_the_earliest_open_transaction_and_aborts_are_indexed() {
        let mut t = PartitionTxns::default();
        let marker = TRANSACTIONAL_BIT | CONTROL_BIT;
        t.record(&header(1, 5, TRANSACTIONAL_BIT), None);
        t.record(&header(2, 7, TRANSACTIONAL_BIT), None);
        t.record(&header(1, 8, TRANSACTIONAL_BIT), None);
        assert_eq!(t.last_stable_offset(10), 5);
        t.record(&header(1, 10, marker), Some(ControlType::Abort));
        assert_eq!(t.last_stable_offset(11), 7);
        t.record(&header(2, 11, marker), Some(ControlType::Commit));
        assert_eq!(t.last_stable_offset(12), 12);
        assert_eq!(
            t.aborted_between(0, 12),
            vec![AbortedTxn {
                producer_id: 1,
                first_offset: 5,
                last_offset: 10
            }]
        );
        assert!(t.aborted_between(11, 12).is_empty());
        // Plain and idempotent batches do not open transactions.
        t.record(&header(3, 12, 0), None);
        assert_eq!(t.last_stable_offset(13), 13);
    }

    #[test]
    fn control_type_reads_the_marker_key() {
        let batch =
            crate::txn::markers::encode_marker(9, 1, ControlType::Abort, 0).expect("encodes");
        assert_eq!(control_type(&batch), Some(ControlType::Abort));
        let batch =
            crate::txn::markers::encode_marker(9, 1, ControlType::Commit, 0).expect("encodes");
        assert_eq!(control_type(&batch), Some(ControlType::Commit));
        let h = BatchHeader::parse(&batch).expect("header");
        assert!(h.is_control() && h.producer_id == 9 && h.producer_epoch == 1);
    }
}
