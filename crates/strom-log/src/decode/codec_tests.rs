//! Tests that every codec refuses an incomplete or padded stream at produce, as Kafka's broker
//! does: a compressed body cut short at any byte, an LZ4 frame whose block size or end mark
//! has a bit flipped, bytes after the end of the compressed stream. (An LZ4 frame missing only
//! its end mark used to be stored, and clients then failed reading it: `Frame incomplete`.)

use kafka_protocol::records::Compression;

use super::tests::{encode, records, validate, with_body};
use crate::batch::BATCH_HEADER_LEN;
use crate::LogError;

const RECORDS: i32 = 6;

/// A template batch and its compressed records section, as kafka-protocol encodes them.
fn compressed(codec: Compression) -> (Vec<u8>, Vec<u8>) {
    let batch = encode(&records(RECORDS as usize, 50), codec);
    let body = batch[BATCH_HEADER_LEN..].to_vec();
    (batch, body)
}

/// `body` under the template's header must be refused (`what` names the case): as corrupt,
/// or, where the cut leaves a complete but shorter stream (xerial snappy cut at a block
/// boundary), as holding fewer records than the header declares.
fn assert_corrupt(template: &[u8], body: &[u8], what: &str) {
    match validate(&with_body(template, body, RECORDS)) {
        Err(LogError::CorruptBatch(_)) => {}
        Err(LogError::InvalidRecord { reason }) if reason.contains("declares 6 records but") => {}
        other => panic!("{what}: expected a corrupt batch, got {other:?}"),
    }
}

/// Where an LZ4 frame's first block size starts: after magic, FLG, BD, the optional content
/// size and dictionary id, and the header checksum.
fn lz4_first_block_at(frame: &[u8]) -> usize {
    let flg = frame[4];
    7 + if flg & 0x08 != 0 { 8 } else { 0 } + if flg & 0x01 != 0 { 4 } else { 0 }
}

#[test]
fn a_compressed_body_cut_short_anywhere_is_corrupt() {
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let (template, body) = compressed(codec);
        validate(&with_body(&template, &body, RECORDS)).expect("the whole body is valid");
        for cut in 0..body.len() {
            assert_corrupt(
                &template,
                &body[..cut],
                &format!("{codec:?} cut to {cut} bytes"),
            );
        }
    }
}

#[test]
fn a_raw_snappy_body_cut_short_anywhere_is_corrupt() {
    let (template, _) = compressed(Compression::Snappy);
    let plain = encode(&records(RECORDS as usize, 50), Compression::None);
    let body = snap::raw::Encoder::new()
        .compress_vec(&plain[BATCH_HEADER_LEN..])
        .expect("snappy");
    validate(&with_body(&template, &body, RECORDS)).expect("the whole body is valid");
    for cut in 0..body.len() {
        assert_corrupt(&template, &body[..cut], &format!("raw snappy cut to {cut}"));
    }
}

#[test]
fn an_lz4_frame_missing_its_end_mark_is_corrupt() {
    let (template, body) = compressed(Compression::Lz4);
    let checksum = if body[4] & 0x04 != 0 { 4 } else { 0 };
    let end_mark = body.len() - checksum - 4;
    assert_eq!(body[end_mark..end_mark + 4], [0, 0, 0, 0], "end mark");
    assert_corrupt(&template, &body[..end_mark], "lz4 without its end mark");
    let mut spliced = body[..end_mark].to_vec();
    spliced.extend_from_slice(&body[end_mark + 4..]);
    assert_corrupt(&template, &spliced, "lz4 with the end mark cut out");
}

#[test]
fn an_lz4_block_size_or_end_mark_with_a_bit_flipped_is_corrupt() {
    let (template, body) = compressed(Compression::Lz4);
    let first = lz4_first_block_at(&body);
    let checksum = if body[4] & 0x04 != 0 { 4 } else { 0 };
    let end_mark = body.len() - checksum - 4;
    for at in (first..first + 4).chain(end_mark..body.len()) {
        for bit in 0..8 {
            let mut flipped = body.clone();
            flipped[at] ^= 1 << bit;
            match validate(&with_body(&template, &flipped, RECORDS)) {
                Err(LogError::CorruptBatch(_) | LogError::InvalidRecord { .. }) => {}
                other => panic!("lz4 byte {at} bit {bit} flipped: {other:?}"),
            }
        }
    }
}

#[test]
fn bytes_after_the_compressed_stream_are_refused() {
    for codec in [
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let (template, mut body) = compressed(codec);
        body.push(0);
        assert!(
            validate(&with_body(&template, &body, RECORDS)).is_err(),
            "{codec:?} with a byte after its stream"
        );
    }
}
