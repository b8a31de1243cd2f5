//! Reads across the two tiers, for [`crate::Partition`]'s read entry points (every front end
//! reads through them: Kafka Fetch and ListOffsets, HTTP reads, feeds, SSE, WebSocket).
//! Offsets at or above the local log start are read locally, exactly as without tiering;
//! offsets below it and within the remote range come from the remote tier.

use strom_log::{Log, LogError};
use strom_tier::{RemoteReader, TierError};

use crate::{BrokerError, FetchResult};

/// Maps a remote failure to the retriable broker error, logging the store's detail.
pub(crate) fn remote_error(e: TierError) -> BrokerError {
    metrics::counter!("strom_tier_read_failures_total").increment(1);
    tracing::warn!(error = %e, "remote tier read failed");
    BrokerError::RemoteStorage
}

/// First readable offset: the remote start when the remote tier holds older data, never
/// below `floor` (the DeleteRecords floor, `floor.rs`).
pub(crate) fn log_start(log: &Log, remote: Option<&RemoteReader>, floor: i64) -> i64 {
    let local = log.log_start_offset();
    let start = match remote.and_then(RemoteReader::range) {
        // Only a remote range that reaches the local log makes the data before it readable.
        Some((start, end)) if end >= local => start.min(local),
        _ => local,
    };
    start.max(floor)
}

/// Whole batches from `offset`, from whichever tier holds it; `OffsetOutOfRange` below the
/// log start (DeleteRecords' `floor` included).
pub(crate) fn read(
    log: &Log,
    remote: Option<&RemoteReader>,
    floor: i64,
    offset: i64,
    max_bytes: usize,
) -> Result<FetchResult, BrokerError> {
    let start = log_start(log, remote, floor);
    if offset < start {
        return Err(BrokerError::Log(LogError::OffsetOutOfRange {
            offset,
            start,
            end: log.high_watermark(),
        }));
    }
    if let Some(remote) = remote {
        if offset < log.log_start_offset() && offset >= start {
            return read_remote(log, remote, offset, max_bytes, start);
        }
    }
    match log.read(offset, max_bytes) {
        Ok(r) => Ok(FetchResult {
            records: r.bytes,
            high_watermark: r.high_watermark,
            log_start_offset: start.min(r.log_start_offset),
        }),
        // Local retention moved the log start past `offset` meanwhile: the data is remote.
        Err(LogError::OffsetOutOfRange { .. })
            if remote.is_some() && offset >= start && offset < log.log_start_offset() =>
        {
            let remote = remote.ok_or(BrokerError::RemoteStorage)?;
            read_remote(log, remote, offset, max_bytes, start)
        }
        Err(LogError::OffsetOutOfRange { end, .. }) if offset < start || offset > end => {
            Err(BrokerError::Log(LogError::OffsetOutOfRange {
                offset,
                start,
                end,
            }))
        }
        Err(e) => Err(e.into()),
    }
}

fn read_remote(
    log: &Log,
    remote: &RemoteReader,
    offset: i64,
    max_bytes: usize,
    start: i64,
) -> Result<FetchResult, BrokerError> {
    let bytes = remote.read(offset, max_bytes).map_err(remote_error)?;
    metrics::counter!("strom_tier_remote_reads_total").increment(1);
    Ok(FetchResult {
        records: bytes.unwrap_or_default(),
        high_watermark: log.high_watermark(),
        log_start_offset: start,
    })
}

/// The earliest `(offset, timestamp)` with timestamp >= `ts`: the remote tier first (it holds
/// the older offsets), then the local log.
pub(crate) fn offset_for_timestamp(
    log: &Log,
    remote: Option<&RemoteReader>,
    floor: i64,
    ts: i64,
) -> Result<Option<(i64, i64)>, BrokerError> {
    if let Some(remote) = remote {
        let start = log_start(log, Some(remote), floor);
        if start < log.log_start_offset() {
            let found = remote
                .offset_for_timestamp(ts, start)
                .map_err(remote_error)?;
            if let Some((offset, t)) = found {
                if offset < log.log_start_offset() {
                    return Ok(Some((offset, t)));
                }
            }
        }
    }
    Ok(log.offset_for_timestamp(ts)?)
}
