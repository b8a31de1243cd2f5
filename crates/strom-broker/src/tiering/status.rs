//! [`TierStatus`]: where one partition's data is, tier by tier (local and remote offsets,
//! bytes and segments, upload lag), for `strom topic describe` and the HTTP partition
//! description. Read from the log and the remote manifest as they are; nothing is fetched.

use serde::Serialize;

use crate::Partition;

/// One partition's two tiers. Served as it is by the HTTP partition description (its OpenAPI
/// schema, `TierInfo`, comes with the `openapi` feature).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = TierInfo))]
pub struct TierStatus {
    /// First offset on local disk.
    pub local_start_offset: i64,
    /// One past the last local offset (the high watermark).
    pub local_end_offset: i64,
    pub local_bytes: u64,
    pub local_segments: u64,
    /// First remote offset; equal to `remote_end_offset` when nothing is remote.
    pub remote_start_offset: i64,
    /// One past the last remote offset.
    pub remote_end_offset: i64,
    pub remote_bytes: u64,
    pub remote_segments: u64,
    /// Closed local segments not yet recorded in the remote manifest.
    pub upload_lag_bytes: u64,
    pub upload_lag_segments: u64,
}

impl Partition {
    /// The partition's tiers, once tiering manages it (`None` for a partition that is not
    /// tiered, or before the uploader's first pass over it).
    pub fn tier_status(&self) -> Option<TierStatus> {
        let remote = self.remote()?;
        let m = remote.manifest();
        let log = self.log();
        let end = m.end_offset();
        let (lag_bytes, lag_segments) = log
            .closed_segments()
            .iter()
            .filter(|s| s.end_offset > end)
            .fold((0, 0), |(b, n), s| (b + s.size, n + 1));
        Some(TierStatus {
            local_start_offset: log.log_start_offset(),
            local_end_offset: log.high_watermark(),
            local_bytes: log.size_bytes(),
            local_segments: log.segment_count() as u64,
            remote_start_offset: if m.segments.is_empty() {
                end
            } else {
                m.log_start_offset
            },
            remote_end_offset: end,
            remote_bytes: m.size_bytes(),
            remote_segments: m.segments.len() as u64,
            upload_lag_bytes: lag_bytes,
            upload_lag_segments: lag_segments,
        })
    }
}
