//! Writing record batches v2: the records section (KIP-98's varint layout), its compression
//! with a codec at a level, and the fixed header with a fresh CRC. The cleaner uses it to
//! rewrite a batch without the records it drops (and with a delete horizon, KIP-534); the
//! broker to recompress a produced batch to its topic's `compression.type`
//! ([`recompress`]). Reading stays in `decode/`, which bounds every decompression.

use std::io::{Read, Write};

use bytes::{BufMut, BytesMut};

use crate::batch::{BatchHeader, BATCH_HEADER_LEN, LOG_OVERHEAD};
use crate::decode::{body_reader, DecodeLimits, ZSTD_WINDOW_LOG_MAX};
use crate::{DecodedRecord, LogError};

const CODEC_MASK: i16 = 0x07;
/// Attribute bit: the base timestamp is the delete horizon (KIP-534).
pub(crate) const DELETE_HORIZON: i16 = 0x40;
const LOG_APPEND_TIME: i16 = 0x08;
/// Snappy-java's block size, which Kafka's broker compresses with.
const XERIAL_BLOCK: usize = 32 * 1024;
const XERIAL_HEADER: &[u8; 16] = b"\x82SNAPPY\x00\x00\x00\x00\x01\x00\x00\x00\x01";

/// A codec (Kafka's attribute value: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd) and its level
/// (`None`: the codec's default, as Kafka's -1 for gzip).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Codec {
    pub id: i16,
    pub level: Option<i32>,
}

/// The header fields a rewritten batch takes over from the stored one.
pub(crate) struct Rewritten<'a> {
    pub header: &'a BatchHeader,
    /// The delete horizon to write into the base timestamp (KIP-534), if any.
    pub delete_horizon: Option<i64>,
}

/// `records` (a non-empty subset of `w.header`'s batch, in offset order) as one batch with
/// the stored batch's codec, producer fields and attributes. The base offset is the first
/// kept record's, the base sequence moves with it; with a delete horizon the base timestamp
/// is the horizon and the attribute bit says so, otherwise the first record's timestamp.
pub(crate) fn rewrite_batch(
    w: &Rewritten<'_>,
    records: &[DecodedRecord],
) -> Result<BytesMut, LogError> {
    let h = w.header;
    let (Some(first), Some(last)) = (records.first(), records.last()) else {
        return Ok(BytesMut::new());
    };
    let base_offset = first.offset;
    let base_timestamp = match w.delete_horizon {
        Some(horizon) => horizon,
        None => records
            .iter()
            .map(|r| r.timestamp)
            .min()
            .unwrap_or(first.timestamp),
    };
    let mut raw = Vec::new();
    for r in records {
        write_record(&mut raw, r, base_offset, base_timestamp);
    }
    let body = compress(
        Codec {
            id: h.compression(),
            level: None,
        },
        &raw,
    )?;
    let mut attributes = h.attributes & !DELETE_HORIZON;
    if w.delete_horizon.is_some() {
        attributes |= DELETE_HORIZON;
    }
    let max_timestamp = if h.attributes & LOG_APPEND_TIME != 0 {
        h.max_timestamp
    } else {
        records
            .iter()
            .map(|r| r.timestamp)
            .max()
            .unwrap_or(first.timestamp)
    };
    let shift = i32::try_from(base_offset - h.base_offset).unwrap_or(0);
    let fields = BatchHeader {
        base_offset,
        attributes,
        last_offset_delta: i32::try_from(last.offset - base_offset).unwrap_or(i32::MAX),
        base_timestamp,
        max_timestamp,
        base_sequence: if h.has_producer_id() {
            h.base_sequence.wrapping_add(shift)
        } else {
            -1
        },
        record_count: i32::try_from(records.len()).unwrap_or(i32::MAX),
        ..*h
    };
    Ok(assemble(&fields, &body))
}

/// `batch` with its records section recompressed with `to`, every other field (offsets,
/// timestamps, producer id, epoch and sequence, transactional and control bits) as it was and
/// the CRC recomputed. `None` when the batch already uses `to`'s codec, is a control batch,
/// or is not a v2 batch. The decompressed section is bounded by `limits.max_batch_bytes`.
///
/// Errors: `CorruptBatch` (a codec that does not decode), `DecompressedTooLarge`.
pub fn recompress(
    batch: &[u8],
    to: Codec,
    limits: DecodeLimits,
) -> Result<Option<BytesMut>, LogError> {
    let Some(h) = BatchHeader::parse(batch) else {
        return Ok(None);
    };
    if h.magic != 2 || h.is_control() || h.compression() == to.id || batch.len() < h.total_len() {
        return Ok(None);
    }
    let budget = limits.max_batch_bytes;
    let body = &batch[BATCH_HEADER_LEN..h.total_len()];
    let mut raw = Vec::new();
    body_reader(h.compression(), body, budget)?
        .take(budget as u64 + 1)
        .read_to_end(&mut raw)
        .map_err(|e| LogError::CorruptBatch(format!("batch does not decompress: {e}")))?;
    if raw.len() > budget {
        return Err(LogError::DecompressedTooLarge { max: budget });
    }
    let compressed = compress(to, &raw)?;
    let fields = BatchHeader {
        attributes: (h.attributes & !CODEC_MASK) | to.id,
        ..h
    };
    Ok(Some(assemble(&fields, &compressed)))
}

/// A batch from its header fields (length, magic and CRC computed here) and records section.
fn assemble(h: &BatchHeader, body: &[u8]) -> BytesMut {
    let mut out = BytesMut::with_capacity(BATCH_HEADER_LEN + body.len());
    out.put_i64(h.base_offset);
    out.put_i32((BATCH_HEADER_LEN - LOG_OVERHEAD + body.len()) as i32);
    out.put_i32(h.partition_leader_epoch);
    out.put_i8(2);
    out.put_u32(0);
    out.put_i16(h.attributes);
    out.put_i32(h.last_offset_delta);
    out.put_i64(h.base_timestamp);
    out.put_i64(h.max_timestamp);
    out.put_i64(h.producer_id);
    out.put_i16(h.producer_epoch);
    out.put_i32(h.base_sequence);
    out.put_i32(h.record_count);
    out.put_slice(body);
    let crc = crc32c::crc32c(&out[21..]);
    out[17..21].copy_from_slice(&crc.to_be_bytes());
    out
}

/// The records section `raw` compressed with `codec`.
///
/// Errors: `CorruptBatch` for an unknown codec or a level the codec refuses.
pub(crate) fn compress(codec: Codec, raw: &[u8]) -> Result<Vec<u8>, LogError> {
    let fail = |e: std::io::Error| LogError::CorruptBatch(format!("cannot compress: {e}"));
    match codec.id {
        0 => Ok(raw.to_vec()),
        1 => {
            let level = codec.level.and_then(|l| u32::try_from(l).ok()).unwrap_or(6);
            let mut enc =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
            enc.write_all(raw).map_err(fail)?;
            enc.finish().map_err(fail)
        }
        2 => Ok(xerial_snappy(raw)),
        3 => {
            let level = codec.level.and_then(|l| u32::try_from(l).ok()).unwrap_or(9);
            let mut enc = lz4::EncoderBuilder::new()
                .level(level)
                .block_size(lz4::BlockSize::Max64KB)
                .build(Vec::new())
                .map_err(fail)?;
            enc.write_all(raw).map_err(fail)?;
            let (out, done) = enc.finish();
            done.map_err(fail)?;
            Ok(out)
        }
        4 => {
            let level = codec.level.unwrap_or(3);
            let mut c = zstd::bulk::Compressor::new(level).map_err(fail)?;
            // Readers refuse windows above this; levels 20+ would pick larger ones.
            c.set_parameter(zstd::stream::raw::CParameter::WindowLog(
                ZSTD_WINDOW_LOG_MAX,
            ))
            .map_err(fail)?;
            c.compress(raw).map_err(fail)
        }
        other => Err(LogError::CorruptBatch(format!(
            "unknown compression codec {other}"
        ))),
    }
}

/// Snappy in snappy-java's framing, as Kafka's broker writes it.
fn xerial_snappy(raw: &[u8]) -> Vec<u8> {
    let mut out = XERIAL_HEADER.to_vec();
    let mut enc = snap::raw::Encoder::new();
    for block in raw.chunks(XERIAL_BLOCK) {
        let mut buf = vec![0u8; snap::raw::max_compress_len(block.len())];
        // Compressing into a buffer of max_compress_len cannot fail.
        let n = enc.compress(block, &mut buf).unwrap_or(0);
        out.extend_from_slice(&(n as u32).to_be_bytes());
        out.extend_from_slice(&buf[..n]);
    }
    out
}

/// Appends one record (length-prefixed, KIP-98 layout) to `out`.
fn write_record(out: &mut Vec<u8>, r: &DecodedRecord, base_offset: i64, base_timestamp: i64) {
    let mut body = vec![0u8]; // attributes
    put_varlong(&mut body, r.timestamp.wrapping_sub(base_timestamp));
    put_varlong(&mut body, r.offset - base_offset);
    put_bytes(&mut body, r.key.as_deref());
    put_bytes(&mut body, r.value.as_deref());
    put_varlong(&mut body, r.headers.len() as i64);
    for (k, v) in &r.headers {
        put_bytes(&mut body, Some(k.as_bytes()));
        put_bytes(&mut body, v.as_deref());
    }
    put_varlong(out, body.len() as i64);
    out.extend_from_slice(&body);
}

fn put_bytes(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        None => put_varlong(out, -1),
        Some(b) => {
            put_varlong(out, b.len() as i64);
            out.extend_from_slice(b);
        }
    }
}

/// A zigzag varint (Kafka's varint and varlong share this encoding).
fn put_varlong(out: &mut Vec<u8>, v: i64) {
    let mut z = ((v << 1) ^ (v >> 63)) as u64;
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
}
