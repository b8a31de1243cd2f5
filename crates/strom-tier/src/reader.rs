//! [`RemoteReader`]: reads of one partition's remote segments, as [`strom_log::Log::read`]
//! reads local ones: the uploaded offset index gives the position of the nearest indexed
//! batch, batch headers are walked from there, and whole batches are returned (at least one,
//! as Kafka clients expect). Every byte comes through the shared [`ChunkCache`] in ranged GETs
//! of its chunk size; a reader moving sequentially gets the next chunk fetched ahead
//! (`readahead.rs`).

use std::ops::Range;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use parking_lot::RwLock;
use strom_log::{BatchHeader, DecodeLimits, Fields, RecordReader, BATCH_HEADER_LEN};

use crate::readahead::{ahead_chunks, prefetch, Sequential};
use crate::{ChunkCache, Manifest, RemoteSegment, RemoteStore, TierError};

/// Offset index entry: relative offset u32, position u32 (big-endian), as `strom-log` writes.
const OFFSET_ENTRY: usize = 8;
/// Time index entry: max timestamp before the batch i64, relative offset u32.
const TIME_ENTRY: usize = 12;

/// One partition's remote log as its newest manifest describes it.
pub struct RemoteReader {
    store: Arc<dyn RemoteStore>,
    cache: Arc<ChunkCache>,
    manifest: RwLock<Arc<Manifest>>,
    sequential: Sequential,
}

impl RemoteReader {
    pub fn new(store: Arc<dyn RemoteStore>, cache: Arc<ChunkCache>, manifest: Manifest) -> Self {
        RemoteReader {
            store,
            cache,
            manifest: RwLock::new(Arc::new(manifest)),
            sequential: Sequential::default(),
        }
    }

    /// The manifest reads use.
    pub fn manifest(&self) -> Arc<Manifest> {
        Arc::clone(&self.manifest.read())
    }

    /// Publishes a newer manifest (after the writer committed it).
    pub fn set_manifest(&self, manifest: Manifest) {
        *self.manifest.write() = Arc::new(manifest);
    }

    /// `(start, end)` of the remote offsets; `None` when nothing is remote.
    pub fn range(&self) -> Option<(i64, i64)> {
        let m = self.manifest.read();
        (!m.segments.is_empty()).then(|| (m.log_start_offset, m.end_offset()))
    }

    /// Whole batches from the one containing `offset`, up to `max_bytes` (at least one);
    /// `None` if `offset` is not in a remote segment.
    /// Errors: `Unavailable` (retriable), `NotFound`/`Corrupt` for damaged remote data.
    pub fn read(&self, offset: i64, max_bytes: usize) -> Result<Option<Bytes>, TierError> {
        let m = self.manifest();
        let Some(seg) = m.segment_for(offset) else {
            return Ok(None);
        };
        let start = self.index_lookup(seg, offset)?;
        let Some((pos, _)) = self.walk_to(seg, start, |h| h.last_offset() >= offset)? else {
            return Ok(None);
        };
        let mut end = pos;
        let mut next_offset = offset;
        while end < seg.size {
            let h = self.header_at(seg, end)?;
            let next = end + h.total_len() as u64;
            if end > pos && next - pos > max_bytes as u64 {
                break;
            }
            end = next;
            next_offset = h.last_offset() + 1;
        }
        let end = end.min(seg.size);
        let bytes = self.read_range(&log_key(seg), seg.size, pos..end)?;
        if self.sequential.advance(offset, next_offset) && end > pos {
            self.read_ahead(&m, seg, end, end - pos);
        }
        Ok(Some(bytes))
    }

    /// Fetches in the background what a reader continuing from byte `end` of `seg` reads
    /// next: as many bytes as it just read (`len`, at least one chunk, within the cache), on
    /// into the next remote segment when this one ends.
    fn read_ahead(&self, m: &Manifest, seg: &RemoteSegment, end: u64, len: u64) {
        let chunk = self.cache.chunk_bytes();
        let mut left = ahead_chunks(&self.cache, len);
        let (mut seg, mut at) = (seg, end.div_ceil(chunk) * chunk);
        while left > 0 {
            if at >= seg.size {
                let next = m
                    .segments
                    .partition_point(|s| s.base_offset <= seg.base_offset);
                let Some(s) = m.segments.get(next) else {
                    return;
                };
                (seg, at) = (s, 0);
            }
            prefetch(
                &self.store,
                &self.cache,
                &log_key(seg),
                at / chunk,
                seg.size,
            );
            at += chunk;
            left -= 1;
        }
    }

    /// The earliest `(offset, timestamp)` at or after `min_offset` with timestamp >= `ts` in
    /// the remote segments; `None` if every remote record is older.
    pub fn offset_for_timestamp(
        &self,
        ts: i64,
        min_offset: i64,
    ) -> Result<Option<(i64, i64)>, TierError> {
        let m = self.manifest();
        for seg in m
            .segments
            .iter()
            .filter(|s| s.max_timestamp >= ts && s.end_offset > min_offset)
        {
            let start = self.time_lookup(seg, ts)?;
            let mut at = start;
            while let Some((pos, h)) = self.walk_to(seg, at, |h| {
                h.max_timestamp >= ts && h.last_offset() >= min_offset
            })? {
                let bytes =
                    self.read_range(&log_key(seg), seg.size, pos..pos + h.total_len() as u64)?;
                if let Some(found) = first_at_or_after(&bytes, ts, min_offset)? {
                    return Ok(Some(found));
                }
                at = pos + h.total_len() as u64;
            }
        }
        Ok(None)
    }

    /// Position of the last indexed batch at or before `offset` (0 if none).
    fn index_lookup(&self, seg: &RemoteSegment, offset: i64) -> Result<u64, TierError> {
        let index = self.read_range(
            &format!("{}.index", seg.key),
            seg.index_size,
            0..seg.index_size,
        )?;
        let rel = offset - seg.base_offset;
        let mut best = 0u64;
        for e in index.chunks_exact(OFFSET_ENTRY) {
            let r = u32::from_be_bytes([e[0], e[1], e[2], e[3]]) as i64;
            if r > rel {
                break;
            }
            best = u32::from_be_bytes([e[4], e[5], e[6], e[7]]) as u64;
        }
        Ok(best)
    }

    /// A position at or before the first batch with a record at or after `ts`.
    fn time_lookup(&self, seg: &RemoteSegment, ts: i64) -> Result<u64, TierError> {
        let times = self.read_range(
            &format!("{}.timeindex", seg.key),
            seg.timeindex_size,
            0..seg.timeindex_size,
        )?;
        let mut rel = None;
        for e in times.chunks_exact(TIME_ENTRY) {
            let before = i64::from_be_bytes([e[0], e[1], e[2], e[3], e[4], e[5], e[6], e[7]]);
            if before >= ts {
                break;
            }
            rel = Some(u32::from_be_bytes([e[8], e[9], e[10], e[11]]) as i64);
        }
        match rel {
            Some(r) => self.index_lookup(seg, seg.base_offset + r),
            None => Ok(0),
        }
    }

    /// Walks batch headers from `pos` to the first one `want` accepts.
    fn walk_to(
        &self,
        seg: &RemoteSegment,
        mut pos: u64,
        want: impl Fn(&BatchHeader) -> bool,
    ) -> Result<Option<(u64, BatchHeader)>, TierError> {
        while pos + BATCH_HEADER_LEN as u64 <= seg.size {
            let h = self.header_at(seg, pos)?;
            if want(&h) {
                return Ok(Some((pos, h)));
            }
            pos += h.total_len() as u64;
        }
        Ok(None)
    }

    fn header_at(&self, seg: &RemoteSegment, pos: u64) -> Result<BatchHeader, TierError> {
        let end = (pos + BATCH_HEADER_LEN as u64).min(seg.size);
        let bytes = self.read_range(&log_key(seg), seg.size, pos..end)?;
        match BatchHeader::parse(&bytes) {
            Some(h) if h.batch_length > 0 => Ok(h),
            _ => Err(TierError::Corrupt(format!(
                "{}: no batch header at byte {pos}",
                seg.key
            ))),
        }
    }

    /// Bytes `range` of `object` (of `size` bytes), assembled from cached chunks.
    fn read_range(&self, object: &str, size: u64, range: Range<u64>) -> Result<Bytes, TierError> {
        if range.start >= range.end {
            return Ok(Bytes::new());
        }
        let chunk_bytes = self.cache.chunk_bytes();
        let first = range.start / chunk_bytes;
        let last = (range.end - 1) / chunk_bytes;
        let mut out = BytesMut::with_capacity((range.end - range.start) as usize);
        for n in first..=last {
            let chunk_start = n * chunk_bytes;
            let chunk = self.cache.get_or_load(object, n, || {
                let r = chunk_start..(chunk_start + chunk_bytes).min(size);
                self.store.get_range(object, r).inspect_err(|_| {
                    metrics::counter!("strom_tier_read_errors_total").increment(1);
                })
            })?;
            let from = range.start.max(chunk_start) - chunk_start;
            let to = (range.end.min(chunk_start + chunk.len() as u64)).saturating_sub(chunk_start);
            if from >= to {
                return Err(TierError::Corrupt(format!(
                    "{object}: shorter than the manifest says"
                )));
            }
            out.extend_from_slice(&chunk[from as usize..to as usize]);
        }
        Ok(out.freeze())
    }
}

fn log_key(seg: &RemoteSegment) -> String {
    format!("{}.log", seg.key)
}

/// The first record of `batch` with timestamp >= `ts` and offset >= `min`.
fn first_at_or_after(batch: &[u8], ts: i64, min: i64) -> Result<Option<(i64, i64)>, TierError> {
    let walk = || -> Result<Option<(i64, i64)>, strom_log::LogError> {
        let mut reader = RecordReader::new(batch, Fields::Skip, DecodeLimits::default())?;
        while let Some(r) = reader.next_record()? {
            if r.timestamp >= ts && r.offset >= min {
                return Ok(Some((r.offset, r.timestamp)));
            }
        }
        Ok(None)
    };
    match walk() {
        Ok(found) => Ok(found),
        // Answered by the header, as the local lookup does for an undecodable batch.
        Err(_) => Ok(BatchHeader::parse(batch).map(|h| (h.base_offset.max(min), h.max_timestamp))),
    }
}
