//! The cleaner's output for one segment, streamed to `<base>.log.cleaned` instead of being
//! built in memory (a cleaned 1 GiB segment would otherwise be 1 GiB of heap). Batches kept
//! unchanged before the first change are not copied at all until a change shows the segment
//! must be rewritten; then that prefix is copied from the segment file, so a segment that
//! loses nothing costs no write.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use crate::error::IoContext;
use crate::files::read_fresh;
use crate::segment::Segment;
use crate::LogError;

const COPY_CHUNK: u64 = 1 << 20;

pub(crate) struct CleanedOutput<'a> {
    segment: &'a Segment,
    path: PathBuf,
    /// Bytes at the start of the segment that are kept as they are and not yet written.
    unchanged_prefix: u64,
    file: Option<BufWriter<File>>,
    written: u64,
    finished: bool,
}

impl<'a> CleanedOutput<'a> {
    pub(crate) fn new(segment: &'a Segment, path: PathBuf) -> CleanedOutput<'a> {
        CleanedOutput {
            segment,
            path,
            unchanged_prefix: 0,
            file: None,
            written: 0,
            finished: false,
        }
    }

    /// Bytes identical to the segment's at this position (a batch kept as stored).
    pub(crate) fn keep(&mut self, bytes: &[u8]) -> Result<(), LogError> {
        match self.file.as_mut() {
            None => self.unchanged_prefix += bytes.len() as u64,
            Some(f) => {
                f.write_all(bytes).at(&self.path)?;
                self.written += bytes.len() as u64;
            }
        }
        Ok(())
    }

    /// Rewritten bytes in place of a stored batch (empty when nothing of it is kept).
    pub(crate) fn rewrite(&mut self, bytes: &[u8]) -> Result<(), LogError> {
        let path = self.path.clone();
        let f = self.start()?;
        f.write_all(bytes).at(&path)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// Creates the output file and copies the unchanged prefix into it.
    fn start(&mut self) -> Result<&mut BufWriter<File>, LogError> {
        if self.file.is_none() {
            let mut f = BufWriter::with_capacity(
                COPY_CHUNK as usize,
                File::create(&self.path).at(&self.path)?,
            );
            let mut pos = 0u64;
            while pos < self.unchanged_prefix {
                let n = COPY_CHUNK.min(self.unchanged_prefix - pos) as usize;
                let chunk = read_fresh(&*self.segment.file()?, self.segment.path(), pos, n)?;
                f.write_all(&chunk).at(&self.path)?;
                pos += n as u64;
            }
            self.written = self.unchanged_prefix;
            self.file = Some(f);
        }
        match self.file.as_mut() {
            Some(f) => Ok(f),
            None => Err(LogError::io(
                &self.path,
                std::io::Error::other("cleaned output not started"),
            )),
        }
    }

    /// Makes the output durable. `None` if the segment loses nothing (no file was written);
    /// otherwise the fsynced file's path and size.
    pub(crate) fn finish(mut self) -> Result<Option<(PathBuf, u64)>, LogError> {
        let Some(f) = self.file.take() else {
            self.finished = true;
            return Ok(None);
        };
        let file = f
            .into_inner()
            .map_err(|e| LogError::io(&self.path, e.into_error()))?;
        file.sync_all().at(&self.path)?;
        self.finished = true;
        Ok(Some((self.path.clone(), self.written)))
    }
}

impl Drop for CleanedOutput<'_> {
    /// A cleaning that failed half way leaves no stray file (recovery would remove it too).
    fn drop(&mut self) {
        if !self.finished && self.file.is_some() {
            self.file = None;
            let _ = std::fs::remove_file(&self.path);
        }
    }
}
