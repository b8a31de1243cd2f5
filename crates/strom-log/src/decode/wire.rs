//! Primitive reads from a decompressed record stream: bytes, zig-zag varints, skipped or
//! UTF-8-checked runs. Each maps an I/O failure to the log's typed error, telling a stream
//! that ended early apart from a codec that failed. Knows nothing of record structure.

use std::io::{self, Read};

use crate::LogError;

/// Maps an I/O error from the decompressing stream (`what` names the field being read).
pub(crate) fn stream_error(err: io::Error, what: &str, budget: usize) -> LogError {
    match err.kind() {
        io::ErrorKind::UnexpectedEof => {
            LogError::CorruptBatch(format!("record data ends inside the {what}"))
        }
        io::ErrorKind::OutOfMemory => LogError::DecompressedTooLarge { max: budget },
        _ => LogError::CorruptBatch(format!("compressed data does not decompress: {err}")),
    }
}

/// Reads a zig-zag varint of at most `max_bytes` bytes (5 for an int, 10 for a long).
/// Returns the value and the number of bytes it took.
pub(crate) fn varint(
    input: &mut dyn Read,
    max_bytes: usize,
    what: &str,
    budget: usize,
) -> Result<(i64, usize), LogError> {
    let mut value: u64 = 0;
    for i in 0..max_bytes {
        let mut byte = [0u8; 1];
        input
            .read_exact(&mut byte)
            .map_err(|e| stream_error(e, what, budget))?;
        value |= u64::from(byte[0] & 0x7f) << (7 * i);
        if byte[0] & 0x80 == 0 {
            return Ok((((value >> 1) as i64) ^ -((value & 1) as i64), i + 1));
        }
    }
    Err(LogError::CorruptBatch(format!(
        "the {what} is a varint longer than {max_bytes} bytes"
    )))
}

/// A record length varint, or `None` if the stream ends cleanly before it (fewer records
/// than the batch declares, rather than a record cut short).
pub(crate) fn varint_or_end(
    input: &mut dyn Read,
    budget: usize,
) -> Result<Option<(i64, usize)>, LogError> {
    let mut first = [0u8; 1];
    loop {
        match input.read(&mut first) {
            Ok(0) => return Ok(None),
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(stream_error(e, "record length", budget)),
        }
    }
    let mut rest = io::Cursor::new(first).chain(input);
    varint(&mut rest, 5, "record length", budget).map(Some)
}

/// A varint that must fit an `i32` (Kafka's `varint`).
pub(crate) fn varint_i32(input: &mut dyn Read, what: &str, budget: usize) -> Result<i32, LogError> {
    let (v, _) = varint(input, 5, what, budget)?;
    i32::try_from(v).map_err(|_| LogError::CorruptBatch(format!("the {what} {v} overflows")))
}

/// Reads exactly `len` bytes into a fresh buffer (the caller has bounded `len`).
pub(crate) fn bytes(
    input: &mut dyn Read,
    len: usize,
    what: &str,
    budget: usize,
) -> Result<bytes::Bytes, LogError> {
    let mut buf = vec![0u8; len];
    input
        .read_exact(&mut buf)
        .map_err(|e| stream_error(e, what, budget))?;
    Ok(buf.into())
}

/// Reads and discards exactly `len` bytes through a small stack buffer.
pub(crate) fn skip(
    input: &mut dyn Read,
    len: usize,
    what: &str,
    budget: usize,
) -> Result<(), LogError> {
    let copied = io::copy(&mut input.take(len as u64), &mut io::sink())
        .map_err(|e| stream_error(e, what, budget))?;
    if copied != len as u64 {
        return Err(stream_error(
            io::ErrorKind::UnexpectedEof.into(),
            what,
            budget,
        ));
    }
    Ok(())
}

/// Reads `len` bytes that must be UTF-8 (a header key) without holding more than a small
/// buffer at a time; a character split between two chunks is carried over.
pub(crate) fn skip_utf8(
    input: &mut dyn Read,
    len: usize,
    what: &str,
    budget: usize,
) -> Result<(), LogError> {
    let mut buf = [0u8; 4096];
    let mut carried = 0usize;
    let mut left = len;
    while left > 0 {
        let n = (buf.len() - carried).min(left);
        input
            .read_exact(&mut buf[carried..carried + n])
            .map_err(|e| stream_error(e, what, budget))?;
        left -= n;
        let filled = carried + n;
        carried = match std::str::from_utf8(&buf[..filled]) {
            Ok(_) => 0,
            // An incomplete character at the end of the chunk continues in the next one.
            Err(e) if e.error_len().is_none() && left > 0 => {
                let valid = e.valid_up_to();
                buf.copy_within(valid..filled, 0);
                filled - valid
            }
            Err(_) => {
                return Err(LogError::InvalidRecord {
                    reason: format!("the {what} is not UTF-8"),
                })
            }
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_split_across_chunks_is_accepted_and_invalid_is_not() {
        let mut text = "a".repeat(4095).into_bytes();
        text.extend("é".as_bytes()); // straddles the 4096-byte chunk boundary
        let mut r: &[u8] = &text;
        skip_utf8(&mut r, text.len(), "key", 1).expect("valid");
        let bad = [b'a', 0xff];
        let mut r: &[u8] = &bad;
        assert!(matches!(
            skip_utf8(&mut r, 2, "key", 1),
            Err(LogError::InvalidRecord { .. })
        ));
    }

    #[test]
    fn overlong_varint_is_corrupt() {
        let mut r: &[u8] = &[0xff; 6];
        assert!(matches!(
            varint_i32(&mut r, "length", 1),
            Err(LogError::CorruptBatch(_))
        ));
    }
}
