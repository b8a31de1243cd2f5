//! Reading decoded records from one partition at an exact offset. The log returns whole
//! batches and the first may start before the requested offset, so records below it are
//! skipped; batches emptied by compaction are stepped over using the batch header. Records
//! are decoded one at a time through strom-log's bounded reader, and a read stops once it holds
//! `max_bytes` of record data (at least one record, each at most the per-record limit).
//!
//! HTTP reads are committed reads (KIP-98's read_committed): they stop at the partition's
//! last stable offset (reported as `high_watermark`, the end a reader may reach) and skip the
//! records of aborted transactions and the markers, while `next_offset` still moves past
//! them, so cursors stay exact.

use std::sync::Arc;

use std::ops::ControlFlow;

use strom_broker::{for_each_record, Partition, StoredRecord};
use strom_log::LogError;

use crate::error::{ApiError, ApiResult};

/// What a read found.
#[derive(Debug, Default)]
pub struct ReadOutcome {
    pub records: Vec<StoredRecord>,
    /// Where the next read should start.
    pub next_offset: i64,
    pub high_watermark: i64,
    pub log_start_offset: i64,
}

/// Default byte budget of one read.
pub const DEFAULT_MAX_BYTES: usize = 1024 * 1024;

/// Reads up to `limit` records at or after `offset` (which must be within
/// `[log_start, high_watermark]`), on the blocking pool because the log does file I/O.
pub async fn read_records(
    partition: Arc<Partition>,
    offset: i64,
    limit: usize,
    max_bytes: usize,
) -> ApiResult<ReadOutcome> {
    let topic = partition.topic().to_string();
    let out = read_uncounted(partition, offset, limit, max_bytes).await?;
    let bytes: usize = out
        .records
        .iter()
        .map(|r| r.key.as_ref().map_or(0, |k| k.len()) + r.value.as_ref().map_or(0, |v| v.len()))
        .sum();
    strom_broker::telemetry::records_out(&topic, "http", out.records.len() as u64, bytes as u64);
    Ok(out)
}

/// [`read_records`] for the server's own look-ups (such as `/metrics`): not counted as
/// records sent to clients.
pub async fn read_uncounted(
    partition: Arc<Partition>,
    offset: i64,
    limit: usize,
    max_bytes: usize,
) -> ApiResult<ReadOutcome> {
    tokio::task::spawn_blocking(move || read_blocking(&partition, offset, limit, max_bytes))
        .await
        .map_err(|e| ApiError::internal(format!("read task failed: {e}")))?
}

fn read_blocking(
    partition: &Partition,
    mut offset: i64,
    limit: usize,
    max_bytes: usize,
) -> ApiResult<ReadOutcome> {
    let mut out = ReadOutcome {
        next_offset: offset,
        high_watermark: partition.last_stable_offset(),
        log_start_offset: partition.log_start_offset(),
        ..ReadOutcome::default()
    };
    let limits = partition.log().config().decode;
    // Bounded: each round either returns records or moves past at least one batch.
    for _ in 0..64 {
        if offset >= out.high_watermark || limit == 0 {
            break;
        }
        let fetch = partition.read(offset, max_bytes)?;
        out.log_start_offset = fetch.log_start_offset;
        let stable = strom_broker::partition_txn::stable_prefix(&fetch.records, out.high_watermark);
        if stable.is_empty() {
            break;
        }
        let batch_end = batches_end(&stable);
        let aborted = partition.aborted_transactions(offset, out.high_watermark);
        let committed =
            strom_broker::partition_txn::committed_batches(&stable, out.high_watermark, &aborted);
        if let Some(stop) = collect(&committed, offset, limit, max_bytes, limits, &mut out)? {
            out.next_offset = stop;
            return Ok(out);
        }
        let next = batch_end
            .or_else(|| out.records.last().map(|r| r.offset + 1))
            .unwrap_or(offset);
        if next <= offset {
            break;
        }
        offset = next;
        out.next_offset = next;
        if !out.records.is_empty() {
            break;
        }
    }
    Ok(out)
}

/// Adds the records at or after `offset` in `bytes` to `out`, one at a time through the
/// bounded reader, until `limit` records or `max_bytes` of record data (at least one record).
/// Returns where the next read starts if it stopped early.
///
/// Errors: `record-too-large` (422) naming the offset when the first record is above the
/// per-record limit (the client can read on from the next offset); `invalid-record` (422)
/// naming the batch's offsets for a stored batch that cannot be decoded.
fn collect(
    bytes: &[u8],
    offset: i64,
    limit: usize,
    max_bytes: usize,
    limits: strom_log::DecodeLimits,
    out: &mut ReadOutcome,
) -> ApiResult<Option<i64>> {
    let mut held: usize = out.records.iter().map(record_bytes).sum();
    let mut stop = None;
    let mut failed = None;
    for_each_record(bytes, limits, &mut |item| match item {
        Ok(r) if r.record.offset < offset => ControlFlow::Continue(()),
        Ok(r) => {
            if out.records.len() >= limit || (!out.records.is_empty() && held + r.size > max_bytes)
            {
                stop = Some(r.record.offset);
                return ControlFlow::Break(());
            }
            held += r.size;
            out.records.push(r.record);
            ControlFlow::Continue(())
        }
        Err(LogError::RecordTooLarge { offset: at, .. }) if at < offset => {
            ControlFlow::Continue(())
        }
        Err(err) => {
            if out.records.is_empty() {
                failed = Some(err);
            } else if let LogError::RecordTooLarge { offset: at, .. } = err {
                stop = Some(at);
            }
            ControlFlow::Break(())
        }
    })?;
    if let Some(err) = failed {
        return Err(err.into());
    }
    if stop.is_none() && out.records.len() >= limit {
        stop = out.records.last().map(|r| r.offset + 1);
    }
    Ok(stop)
}

fn record_bytes(r: &StoredRecord) -> usize {
    r.key.as_ref().map_or(0, |k| k.len()) + r.value.as_ref().map_or(0, |v| v.len())
}

/// One past the last offset of the last complete batch in `bytes` (from the v2 batch
/// header: base offset at byte 0, length at 8, last offset delta at 23).
pub fn batches_end(bytes: &[u8]) -> Option<i64> {
    let mut pos = 0usize;
    let mut end = None;
    while pos + 27 <= bytes.len() {
        let base = i64::from_be_bytes(bytes[pos..pos + 8].try_into().ok()?);
        let len = i32::from_be_bytes(bytes[pos + 8..pos + 12].try_into().ok()?);
        let delta = i32::from_be_bytes(bytes[pos + 23..pos + 27].try_into().ok()?);
        let total = 12usize.checked_add(usize::try_from(len).ok()?)?;
        if pos + total > bytes.len() {
            break;
        }
        end = Some(base + i64::from(delta) + 1);
        pos += total;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use strom_broker::{encode_records, NewRecord};

    fn batch(values: &[usize]) -> Vec<u8> {
        let records: Vec<NewRecord> = values
            .iter()
            .map(|len| NewRecord {
                value: Some(Bytes::from(vec![b'x'; *len])),
                timestamp: Some(1),
                ..NewRecord::default()
            })
            .collect();
        encode_records(&records).expect("encode").to_vec()
    }

    const LIMITS: strom_log::DecodeLimits = strom_log::DecodeLimits {
        max_batch_bytes: 1 << 20,
        max_record_bytes: 1024,
    };

    #[test]
    fn an_oversized_first_record_is_a_422_naming_its_offset() {
        let bytes = batch(&[4096, 10]);
        let mut out = ReadOutcome::default();
        let err = collect(&bytes, 0, 10, 1 << 20, LIMITS, &mut out).unwrap_err();
        assert_eq!((err.status.as_u16(), err.kind), (422, "record-too-large"));
        assert!(err.detail.contains("offset 0"), "{}", err.detail);
        // Reading on from the next offset works.
        let stop = collect(&bytes, 1, 10, 1 << 20, LIMITS, &mut out).expect("read on");
        assert_eq!((stop, out.records.len()), (None, 1));
    }

    #[test]
    fn a_read_stops_before_an_oversized_record_and_at_max_bytes() {
        let bytes = batch(&[10, 4096, 10]);
        let mut out = ReadOutcome::default();
        let stop = collect(&bytes, 0, 10, 1 << 20, LIMITS, &mut out).expect("read");
        assert_eq!((stop, out.records.len()), (Some(1), 1));
        let bytes = batch(&[600, 600, 600]);
        let mut out = ReadOutcome::default();
        let stop = collect(&bytes, 0, 10, 1000, LIMITS, &mut out).expect("read");
        assert_eq!(
            (stop, out.records.len()),
            (Some(1), 1),
            "max_bytes 1000 holds one record"
        );
    }

    #[test]
    fn batch_end_reads_header() {
        let mut b = vec![0u8; 61];
        b[0..8].copy_from_slice(&10i64.to_be_bytes());
        b[8..12].copy_from_slice(&49i32.to_be_bytes());
        b[23..27].copy_from_slice(&4i32.to_be_bytes());
        assert_eq!(batches_end(&b), Some(15));
        assert_eq!(batches_end(&b[..40]), None);
    }
}
