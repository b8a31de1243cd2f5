//! Reading decoded records from one partition at an exact offset. The log returns whole
//! batches and the first may start before the requested offset, so records below it are
//! skipped; batches emptied by compaction are stepped over using the batch header.

use std::sync::Arc;

use strom_broker::{decode_records, Partition, StoredRecord};

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
        high_watermark: partition.high_watermark(),
        log_start_offset: partition.log_start_offset(),
        ..ReadOutcome::default()
    };
    // Bounded: each round either returns records or moves past at least one batch.
    for _ in 0..64 {
        if offset >= out.high_watermark || limit == 0 {
            break;
        }
        let fetch = partition.read(offset, max_bytes)?;
        out.high_watermark = fetch.high_watermark;
        out.log_start_offset = fetch.log_start_offset;
        if fetch.records.is_empty() {
            break;
        }
        let batch_end = batches_end(&fetch.records);
        for record in decode_records(&fetch.records)? {
            if record.offset >= offset && out.records.len() < limit {
                out.records.push(record);
            }
        }
        if out.records.len() >= limit {
            if let Some(last) = out.records.last() {
                out.next_offset = last.offset + 1;
            }
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
