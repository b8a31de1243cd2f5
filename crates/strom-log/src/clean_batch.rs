//! The cleaner's decision for one stored batch in its rewriting pass, following Kafka's
//! LogCleaner: superseded records go; records of aborted transactions go; a tombstone and a
//! discardable transaction marker are first given a delete horizon (`now +
//! delete.retention.ms`, written into the batch's base timestamp with the KIP-534 attribute
//! bit) and removed by a later cleaning once that horizon has passed. Which markers are
//! discardable is [`TxnWalk`]'s business.

use std::collections::HashMap;

use crate::batch::BatchHeader;
use crate::cleaned_output::CleanedOutput;
use crate::cleaner_txns::{marker_type, TxnWalk};
use crate::compact_batch::{for_each_keyed, rewrite};
use crate::{CleanerStats, DecodeLimits, DecodedRecord, LogError};

/// State of one rewriting pass over the cleanable segments.
pub(crate) struct CleanPass<'a> {
    /// Latest offset per key hash (see compaction.rs).
    pub latest: &'a HashMap<u128, i64>,
    pub key_hash: fn(&[u8]) -> u128,
    pub limits: DecodeLimits,
    pub now_ms: i64,
    pub delete_retention_ms: i64,
    pub walk: TxnWalk,
    pub stats: CleanerStats,
    /// The earliest delete horizon among the tombstones and discardable markers kept.
    pub next_expiry: Option<i64>,
}

impl CleanPass<'_> {
    fn expires_at(&mut self, horizon: i64) {
        self.next_expiry = Some(self.next_expiry.map_or(horizon, |t| t.min(horizon)));
    }

    fn new_horizon(&self) -> i64 {
        self.now_ms.saturating_add(self.delete_retention_ms)
    }

    /// Writes what remains of the batch `bytes` (header `h`) to `out`.
    pub(crate) fn clean(
        &mut self,
        h: &BatchHeader,
        bytes: &[u8],
        out: &mut CleanedOutput<'_>,
    ) -> Result<(), LogError> {
        if h.is_control() {
            return self.clean_marker(h, bytes, out);
        }
        if self.walk.on_batch(h) {
            self.stats.records_removed += u64::try_from(h.record_count).unwrap_or(0);
            return out.rewrite(&[]);
        }
        let horizon = h.delete_horizon();
        let mut dropped: Vec<i64> = Vec::new();
        let mut kept_tombstone = false;
        let mut decide = |r: &DecodedRecord| {
            let Some(k) = &r.key else { return };
            let is_latest = self
                .latest
                .get(&(self.key_hash)(k))
                .is_none_or(|o| *o == r.offset);
            let tombstone = r.value_len < 0;
            let expired = tombstone && horizon.is_some_and(|t| self.now_ms >= t);
            if is_latest && expired {
                self.stats.tombstones_removed += 1;
            }
            if !is_latest || expired {
                dropped.push(r.offset);
            } else if tombstone {
                kept_tombstone = true;
            }
        };
        if let Err(err) = for_each_keyed(bytes, self.limits, &mut decide) {
            skipped(h, &err, &mut self.stats.batches_skipped);
            return out.keep(bytes);
        }
        let set_horizon = kept_tombstone && horizon.is_none();
        let horizon = if set_horizon {
            Some(self.new_horizon())
        } else {
            horizon
        };
        if kept_tombstone {
            if let Some(t) = horizon {
                self.expires_at(t);
            }
        }
        if dropped.is_empty() && !set_horizon {
            return out.keep(bytes);
        }
        let keep = |offset: i64| dropped.binary_search(&offset).is_err();
        match rewrite(h, bytes, self.limits, &keep, horizon) {
            Ok(encoded) => {
                self.stats.records_removed += dropped.len() as u64;
                out.rewrite(&encoded)
            }
            Err(err) => {
                skipped(h, &err, &mut self.stats.batches_skipped);
                out.keep(bytes)
            }
        }
    }

    /// A transaction marker: kept while its transaction has records left; then given a
    /// delete horizon; removed once that has passed.
    fn clean_marker(
        &mut self,
        h: &BatchHeader,
        bytes: &[u8],
        out: &mut CleanedOutput<'_>,
    ) -> Result<(), LogError> {
        let mut marker = None;
        let mut first = |r: &DecodedRecord| {
            if marker.is_none() {
                marker = Some(r.key.as_deref().and_then(marker_type).unwrap_or(-1));
            }
        };
        if let Err(err) = for_each_keyed(bytes, self.limits, &mut first) {
            skipped(h, &err, &mut self.stats.batches_skipped);
            return out.keep(bytes);
        }
        if !self.walk.on_control(h, marker) {
            return out.keep(bytes);
        }
        match h.delete_horizon() {
            Some(t) if self.now_ms >= t => {
                self.stats.markers_removed += 1;
                out.rewrite(&[])
            }
            Some(t) => {
                self.expires_at(t);
                out.keep(bytes)
            }
            None => {
                let t = self.new_horizon();
                self.expires_at(t);
                match rewrite(h, bytes, self.limits, &|_| true, Some(t)) {
                    Ok(encoded) => out.rewrite(&encoded),
                    Err(err) => {
                        skipped(h, &err, &mut self.stats.batches_skipped);
                        out.keep(bytes)
                    }
                }
            }
        }
    }
}

/// Reports a batch the cleaner cannot decode within the limits (the reader's errors:
/// `CorruptBatch`, `InvalidRecord`, `DecompressedTooLarge`, `RecordTooLarge`) and counts it;
/// the caller keeps the batch as it is, so stored data can never make the cleaner fail and
/// retry forever.
pub(crate) fn skipped(header: &BatchHeader, err: &LogError, count: &mut u64) {
    tracing::warn!(base_offset = header.base_offset, error = %err,
        "cleaner cannot decode a stored batch; keeping it as it is");
    *count += 1;
}
