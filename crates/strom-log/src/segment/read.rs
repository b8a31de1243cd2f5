//! Reads of one [`Segment`]: the batch header at a position, the batch holding an offset
//! (through the offset index, then a walk of at most one index interval), whole batches up
//! to a byte budget, the time index lookup and the walk over batch headers.

use std::os::unix::fs::FileExt;

use bytes::Bytes;

use super::Segment;
use crate::batch::{BatchHeader, BATCH_HEADER_LEN};
use crate::error::IoContext;
use crate::files::read_fresh;
use crate::index;
use crate::LogError;

impl Segment {
    /// Reads the batch header at `pos`, `None` if fewer than a header's bytes remain.
    pub(crate) fn header_at(&self, pos: u64) -> Result<Option<BatchHeader>, LogError> {
        let size = self.size();
        if pos + BATCH_HEADER_LEN as u64 > size {
            return Ok(None);
        }
        let mut buf = [0u8; BATCH_HEADER_LEN];
        self.file()?.read_exact_at(&mut buf, pos).at(&self.path)?;
        Ok(BatchHeader::parse(&buf))
    }

    /// Position of the first visible batch whose last offset is >= `offset`, with its header.
    pub(crate) fn find(&self, offset: i64) -> Result<Option<(u64, BatchHeader)>, LogError> {
        let limit = self.visible_size();
        let rel = (offset.max(self.base_offset) - self.base_offset).min(u32::MAX as i64) as u32;
        let start = {
            let idx = self.indexes.lock();
            idx.offsets
                .floor(|e| index::parse_offset_entry(e).0 <= rel)?
                .map(|e| u64::from(index::parse_offset_entry(&e).1))
                .unwrap_or(0)
        };
        self.scan_from(start, limit, |_, h| h.last_offset() >= offset)
    }

    /// Walks batch headers from `pos` up to `limit`, returning the first for which `stop` holds.
    fn scan_from(
        &self,
        mut pos: u64,
        limit: u64,
        stop: impl Fn(u64, &BatchHeader) -> bool,
    ) -> Result<Option<(u64, BatchHeader)>, LogError> {
        while pos + BATCH_HEADER_LEN as u64 <= limit {
            let Some(h) = self.header_at(pos)? else {
                return Ok(None);
            };
            if h.batch_length <= 0 {
                return Err(self.corrupt(pos, "non-positive batch length"));
            }
            if stop(pos, &h) {
                return Ok(Some((pos, h)));
            }
            pos += h.total_len() as u64;
        }
        Ok(None)
    }

    /// Reads whole batches from `pos`: as many as fit in `max_bytes`, but at least the first,
    /// and none that reaches `end_offset` (the high watermark the caller reports: visibility
    /// may advance between reading the watermark and reading the file).
    pub(crate) fn read(
        &self,
        pos: u64,
        max_bytes: usize,
        end_offset: i64,
    ) -> Result<Bytes, LogError> {
        let limit = self.visible_size();
        if pos + BATCH_HEADER_LEN as u64 > limit {
            return Ok(Bytes::new());
        }
        let available = (limit - pos) as usize;
        // One read in the common case; a second only when the first batch alone is larger
        // than `max_bytes` (KIP-74: it is still returned whole).
        let len = max_bytes.max(BATCH_HEADER_LEN).min(available);
        let file = self.file()?;
        let mut buf = read_fresh(&file, &self.path, pos, len)?;
        let first = BatchHeader::parse(&buf).map(|h| h.total_len()).unwrap_or(0);
        if first > buf.len() && first <= available {
            buf = read_fresh(&file, &self.path, pos, first)?;
        }
        // Trim to whole batches.
        let mut end = 0usize;
        while end + BATCH_HEADER_LEN <= buf.len() {
            let Some(h) = BatchHeader::parse(&buf[end..]) else {
                break;
            };
            if h.batch_length <= 0
                || end + h.total_len() > buf.len()
                || h.last_offset() >= end_offset
            {
                break;
            }
            end += h.total_len();
        }
        buf.truncate(end);
        Ok(buf.freeze())
    }

    /// The position to start scanning for the first record with timestamp >= `ts`.
    pub(crate) fn time_lookup(&self, ts: i64) -> Result<u64, LogError> {
        let idx = self.indexes.lock();
        // Entries hold the max timestamp *before* their batch; the last one still below `ts`
        // is a batch before which nothing can match.
        let rel = idx
            .times
            .floor(|e| index::parse_time_entry(e).0 < ts)?
            .map(|e| index::parse_time_entry(&e).1);
        let Some(rel) = rel else { return Ok(0) };
        Ok(idx
            .offsets
            .floor(|e| index::parse_offset_entry(e).0 <= rel)?
            .map(|e| u64::from(index::parse_offset_entry(&e).1))
            .unwrap_or(0))
    }

    /// First visible batch from `pos` whose max timestamp is >= `ts`.
    pub(crate) fn find_by_time(
        &self,
        pos: u64,
        ts: i64,
    ) -> Result<Option<(u64, BatchHeader)>, LogError> {
        self.scan_from(pos, self.visible_size(), |_, h| h.max_timestamp >= ts)
    }

    /// Reads exactly the batch at `pos` described by `header`.
    pub(crate) fn read_batch(&self, pos: u64, header: &BatchHeader) -> Result<Bytes, LogError> {
        let buf = read_fresh(&*self.file()?, &self.path, pos, header.total_len())?;
        Ok(buf.freeze())
    }

    /// Calls `f` for each visible batch header from the batch containing `from`.
    pub(crate) fn for_each_header(
        &self,
        from: i64,
        f: &mut dyn FnMut(&BatchHeader) -> bool,
    ) -> Result<bool, LogError> {
        let Some((mut pos, _)) = self.find(from)? else {
            return Ok(true);
        };
        let limit = self.visible_size();
        while let Some(h) = self.header_at(pos)? {
            if pos + h.total_len() as u64 > limit || h.batch_length <= 0 {
                break;
            }
            if !f(&h) {
                return Ok(false);
            }
            pos += h.total_len() as u64;
        }
        Ok(true)
    }
}
