//! The operations the property test draws, the in-memory model they are checked against, and
//! the broken batches the log must refuse.

use kafka_protocol::records::Compression;
use proptest::prelude::*;

use crate::common::{encode_batch, TestRecord};

/// Largest batch the log under test accepts; `AppendTooLarge` goes over it.
pub(crate) const MAX_BATCH: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// Records as (timestamp jitter, value length, has key).
    Append {
        recs: Vec<(i16, u16, bool)>,
        compression: u8,
        clock_step: u16,
    },
    AppendBad {
        kind: u8,
        at: u16,
    },
    AppendTooLarge,
    Read {
        at: u16,
        max_bytes: u32,
    },
    ReadOutOfRange {
        above: bool,
        by: u8,
    },
    OffsetForTimestamp {
        sel: u16,
    },
    DeleteBefore {
        sel: u16,
    },
    RetentionTime {
        keep_ms: u16,
        now_step: u16,
    },
    RetentionSize {
        bytes: u32,
    },
    ScanHeaders {
        sel: u16,
        stop_after: u8,
    },
    Reopen {
        clean: bool,
    },
    Flush,
    FullScan {
        max_bytes: u32,
    },
}

pub(crate) fn op_strategy() -> impl Strategy<Value = Op> {
    let rec = (-40i16..40, 0u16..600, any::<bool>());
    prop_oneof![
        12 => (prop::collection::vec(rec, 1..12), 0u8..8, 0u16..50).prop_map(
            |(recs, compression, clock_step)| Op::Append { recs, compression, clock_step }
        ),
        2 => (0u8..6, any::<u16>()).prop_map(|(kind, at)| Op::AppendBad { kind, at }),
        1 => Just(Op::AppendTooLarge),
        6 => (any::<u16>(), 1u32..20_000).prop_map(|(at, max_bytes)| Op::Read { at, max_bytes }),
        1 => (any::<bool>(), 1u8..5).prop_map(|(above, by)| Op::ReadOutOfRange { above, by }),
        3 => any::<u16>().prop_map(|sel| Op::OffsetForTimestamp { sel }),
        1 => any::<u16>().prop_map(|sel| Op::DeleteBefore { sel }),
        1 => (0u16..2000, 0u16..500).prop_map(|(keep_ms, now_step)| Op::RetentionTime { keep_ms, now_step }),
        1 => (0u32..40_000).prop_map(|bytes| Op::RetentionSize { bytes }),
        1 => (any::<u16>(), 0u8..6).prop_map(|(sel, stop_after)| Op::ScanHeaders { sel, stop_after }),
        2 => any::<bool>().prop_map(|clean| Op::Reopen { clean }),
        1 => Just(Op::Flush),
        1 => (1u32..30_000).prop_map(|max_bytes| Op::FullScan { max_bytes }),
    ]
}

#[derive(Debug, Clone)]
pub(crate) struct MBatch {
    pub(crate) base: i64,
    pub(crate) last: i64,
    /// The batch as the log must store it (base offset stamped).
    pub(crate) bytes: Vec<u8>,
    pub(crate) record_ts: Vec<i64>,
}

impl MBatch {
    pub(crate) fn max_ts(&self) -> i64 {
        self.record_ts.iter().copied().max().unwrap_or(-1)
    }
}

/// Everything physically still in the log, plus the logical start.
#[derive(Debug, Default)]
pub(crate) struct Model {
    pub(crate) batches: Vec<MBatch>,
    pub(crate) log_start: i64,
    pub(crate) leo: i64,
    pub(crate) clock: i64,
}

impl Model {
    pub(crate) fn containing(&self, offset: i64) -> Option<usize> {
        self.batches
            .iter()
            .position(|b| b.base <= offset && offset <= b.last)
    }
}

/// A valid batch broken in one of several ways the log must refuse.
pub(crate) fn bad_batch(kind: u8, at: u16) -> Vec<u8> {
    let recs: Vec<TestRecord> = (0..3)
        .map(|i| TestRecord {
            timestamp: 1000 + i,
            key: None,
            value: vec![i as u8; 40],
        })
        .collect();
    let mut b = encode_batch(&recs, Compression::None);
    match kind {
        0 => {
            // A flipped bit in the CRC-covered region.
            let i = 21 + at as usize % (b.len() - 21);
            b[i] ^= 1 << (at % 8);
        }
        1 => b[16] = 1,
        2 => {
            let keep = at as usize % (b.len() - 1);
            b.truncate(keep);
        }
        3 => {
            let len = i32::from_be_bytes(b[8..12].try_into().unwrap()) + 1 + (at % 50) as i32;
            b[8..12].copy_from_slice(&len.to_be_bytes());
        }
        4 => {
            // The record count lies, but the CRC is made to match: only parsing the
            // records (or checking last_offset_delta) can tell.
            b[57..61].copy_from_slice(&(4 + (at % 3) as i32).to_be_bytes());
            let crc = crc32c::crc32c(&b[21..]);
            b[17..21].copy_from_slice(&crc.to_be_bytes());
        }
        _ => {
            b.truncate(at as usize % 61);
        }
    }
    b
}
