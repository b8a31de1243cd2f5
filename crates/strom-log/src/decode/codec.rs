//! Incremental decompression of a record batch's records section, for each codec Kafka uses.
//! Every codec is read as a stream (`std::io::Read`) so no decoder ever holds the whole
//! decompressed body; the only buffers are the codec's own (a zstd window of at most
//! [`ZSTD_WINDOW_LOG_MAX`], an LZ4 frame block of at most 4 MiB, one snappy block). This module
//! does not parse records and does not enforce the batch budget (the record reader does).

use std::io::{self, BufReader, Read};

use crate::LogError;

/// Largest zstd window a stored batch may ask for (2^24 = 16 MiB). zstd's own default (2^27)
/// would let a crafted frame make every reader allocate 128 MiB; producers compress batches of
/// at most a few MiB, for which zstd never picks a window this large below level 20.
pub const ZSTD_WINDOW_LOG_MAX: u32 = 24;

/// xerial snappy-java's stream header: magic, then version 1 and compatible version 1. Only
/// this exact header means xerial framing (as in kafka-protocol); anything else is raw.
const XERIAL_HEADER: &[u8; 16] = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01";

/// A streaming reader over the decompressed records section of a batch with codec `codec`
/// (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd). `budget` bounds what a snappy block may declare
/// before it is allocated; the other codecs are bounded by the reader that consumes them.
///
/// Errors: `CorruptBatch` for an unknown codec or a stream whose header is already invalid.
pub(crate) fn body_reader<'a>(
    codec: i16,
    body: &'a [u8],
    budget: usize,
) -> Result<Box<dyn Read + 'a>, LogError> {
    Ok(match codec {
        0 => Box::new(body),
        1 => Box::new(BufReader::new(flate2::read::MultiGzDecoder::new(body))),
        2 => snappy_reader(body, budget)?,
        3 => {
            let decoder = lz4::Decoder::new(body).map_err(|e| codec_error("lz4", &e))?;
            Box::new(BufReader::new(Lz4Frame(Some(decoder))))
        }
        4 => {
            let mut decoder = zstd::stream::read::Decoder::with_buffer(body)
                .map_err(|e| codec_error("zstd", &e))?;
            decoder
                .window_log_max(ZSTD_WINDOW_LOG_MAX)
                .map_err(|e| codec_error("zstd", &e))?;
            Box::new(BufReader::new(decoder))
        }
        other => {
            return Err(LogError::CorruptBatch(format!(
                "unknown compression codec {other}"
            )))
        }
    })
}

/// The error for a stream its codec cannot decode.
pub(crate) fn codec_error(codec: &str, err: &io::Error) -> LogError {
    LogError::CorruptBatch(format!("{codec} data does not decompress: {err}"))
}

/// Kafka's snappy is xerial-framed (what the Java client writes) or raw (librdkafka), told
/// apart by the xerial magic, as snappy-java's `SnappyInputStream` does.
fn snappy_reader<'a>(body: &'a [u8], budget: usize) -> Result<Box<dyn Read + 'a>, LogError> {
    if let Some(rest) = body.strip_prefix(XERIAL_HEADER) {
        return Ok(Box::new(XerialReader {
            rest,
            block: Vec::new(),
            pos: 0,
            budget,
        }));
    }
    // A raw snappy stream is one block whose length is declared up front: checked against the
    // budget before anything is allocated. Snappy cannot expand more than about 32 times,
    // so this block is also bounded by the compressed batch size.
    let len = snap::raw::decompress_len(body).map_err(|e| snappy_error(&e))?;
    if len > budget {
        return Err(LogError::DecompressedTooLarge { max: budget });
    }
    let out = snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| snappy_error(&e))?;
    Ok(Box::new(io::Cursor::new(out)))
}

fn snappy_error(err: &snap::Error) -> LogError {
    LogError::CorruptBatch(format!("snappy data does not decompress: {err}"))
}

/// Reads xerial-framed snappy: after the header, blocks of `[u32 BE length][raw snappy]`,
/// decompressed one at a time.
struct XerialReader<'a> {
    rest: &'a [u8],
    block: Vec<u8>,
    pos: usize,
    /// Bytes the remaining blocks may still decompress to.
    budget: usize,
}

impl XerialReader<'_> {
    /// Decompresses the next block; `Ok(false)` at the end of the stream.
    fn next_block(&mut self) -> io::Result<bool> {
        if self.rest.is_empty() {
            return Ok(false);
        }
        let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidData, msg);
        let Some((len, rest)) = self.rest.split_first_chunk::<4>() else {
            return Err(invalid("truncated xerial block length".into()));
        };
        let len = u32::from_be_bytes(*len) as usize;
        if len > rest.len() {
            return Err(invalid(format!("xerial block of {len} bytes is truncated")));
        }
        let (compressed, rest) = rest.split_at(len);
        let size = snap::raw::decompress_len(compressed).map_err(|e| invalid(e.to_string()))?;
        if size > self.budget {
            return Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                "snappy block over budget",
            ));
        }
        self.budget -= size;
        self.block.clear();
        self.block.resize(size, 0);
        snap::raw::Decoder::new()
            .decompress(compressed, &mut self.block)
            .map_err(|e| invalid(e.to_string()))?;
        self.pos = 0;
        self.rest = rest;
        Ok(true)
    }
}

impl Read for XerialReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.block.len() {
            if !self.next_block()? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.block.len() - self.pos);
        buf[..n].copy_from_slice(&self.block[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// An LZ4 frame that must be complete. The `lz4` crate's decoder reports a frame cut short (a
/// truncated body, a block size that runs past the end) as a plain end of stream; Kafka's
/// broker refuses such a frame at produce, and clients fail reading it. So at the end of the
/// stream the frame's end mark must have been read (block and content checksums and the
/// content size, when the frame flags them, are checked by liblz4 on the way) and no byte may
/// follow it.
struct Lz4Frame<'a>(Option<lz4::Decoder<&'a [u8]>>);

impl Read for Lz4Frame<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(decoder) = self.0.as_mut() else {
            return Ok(0);
        };
        let n = decoder.read(buf)?;
        if n > 0 || buf.is_empty() {
            return Ok(n);
        }
        let invalid = |msg: &str| io::Error::new(io::ErrorKind::InvalidData, msg.to_string());
        let Some(decoder) = self.0.take() else {
            return Ok(0);
        };
        let (rest, ended) = decoder.finish();
        if ended.is_err() {
            return Err(invalid("lz4 frame ends before its end mark"));
        }
        if !rest.is_empty() {
            return Err(invalid("bytes follow the lz4 frame's end mark"));
        }
        Ok(0)
    }
}
