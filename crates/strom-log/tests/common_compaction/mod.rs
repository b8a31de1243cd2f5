//! Helpers shared by the compaction and retention integration tests: encoding keyed records
//! into Kafka v2 batches, reading a whole log back record by record, and listing segment
//! files. Test-only code, so panics on unexpected errors are the point.

#![allow(dead_code)]

use std::path::Path;

use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use strom_log::{BatchHeader, Log, LogError, BATCH_HEADER_LEN};

/// One record to append: key (`None` = keyless), value (`None` = tombstone), timestamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Put {
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub ts: i64,
}

impl Put {
    pub fn value(key: &str, value: &str, ts: i64) -> Put {
        Put {
            key: Some(key.as_bytes().to_vec()),
            value: Some(value.as_bytes().to_vec()),
            ts,
        }
    }

    pub fn tombstone(key: &str, ts: i64) -> Put {
        Put {
            key: Some(key.as_bytes().to_vec()),
            value: None,
            ts,
        }
    }
}

/// Producer identity of a batch: `None` for a plain producer, `Some((id, epoch, base_seq))`
/// for an idempotent one.
pub type Producer = Option<(i64, i16, i32)>;

/// Encodes `puts` as exactly one v2 batch. The kafka-protocol encoder starts a new batch
/// whenever `offset - sequence` changes, so sequences must advance with the offsets; for a
/// plain producer `sequence = offset - 1` keeps the header's base sequence at -1.
pub fn encode_batch(puts: &[Put], producer: Producer, compression: Compression) -> Vec<u8> {
    assert!(!puts.is_empty());
    let (pid, epoch, base_seq) = producer.unwrap_or((-1, -1, -1));
    let records: Vec<Record> = puts
        .iter()
        .enumerate()
        .map(|(i, p)| Record {
            transactional: false,
            control: false,
            delete_horizon: false,
            partition_leader_epoch: 0,
            producer_id: pid,
            producer_epoch: epoch,
            timestamp_type: TimestampType::Creation,
            offset: i as i64,
            sequence: base_seq + i as i32,
            timestamp: p.ts,
            key: p.key.clone().map(Bytes::from),
            value: p.value.clone().map(Bytes::from),
            headers: Default::default(),
        })
        .collect();
    let mut buf = BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        records.iter(),
        &RecordEncodeOptions {
            version: 2,
            compression,
        },
    )
    .expect("encode test batch");
    buf.to_vec()
}

pub fn plain_batch(puts: &[Put]) -> Vec<u8> {
    encode_batch(puts, None, Compression::None)
}

/// A record as read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Got {
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub ts: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub sequence: i32,
}

/// A batch header as stored, with the records of that batch.
#[derive(Debug, Clone)]
pub struct GotBatch {
    pub header: BatchHeader,
    pub records: Vec<Got>,
}

/// Reads every batch from the log start offset to the high watermark.
pub fn read_batches(log: &Log) -> Result<Vec<GotBatch>, LogError> {
    let mut out = Vec::new();
    let mut offset = log.log_start_offset();
    let hw = log.high_watermark();
    while offset < hw {
        let r = log.read(offset, 64 * 1024)?;
        if r.bytes.is_empty() {
            panic!("read({offset}) returned nothing below the high watermark {hw}");
        }
        let mut pos = 0;
        let raw = r.bytes.clone();
        while pos + BATCH_HEADER_LEN <= raw.len() {
            let header = BatchHeader::parse(&raw[pos..]).expect("stored header parses");
            let len = header.total_len();
            let mut one = raw.slice(pos..pos + len);
            let set = RecordBatchDecoder::decode(&mut one).expect("stored batch decodes");
            let records = set
                .records
                .into_iter()
                .map(|r| Got {
                    offset: r.offset,
                    key: r.key.map(|k| k.to_vec()),
                    value: r.value.map(|v| v.to_vec()),
                    ts: r.timestamp,
                    producer_id: r.producer_id,
                    producer_epoch: r.producer_epoch,
                    sequence: r.sequence,
                })
                .collect();
            offset = offset.max(header.last_offset() + 1);
            out.push(GotBatch { header, records });
            pos += len;
        }
    }
    Ok(out)
}

/// Every record from the log start, in log order.
pub fn read_all(log: &Log) -> Vec<Got> {
    read_batches(log)
        .expect("read whole log")
        .into_iter()
        .flat_map(|b| b.records)
        .collect()
}

/// Base offsets of the `.log` files in `dir`, sorted.
pub fn segment_bases(dir: &Path) -> Vec<i64> {
    let mut bases: Vec<i64> = std::fs::read_dir(dir)
        .expect("list log dir")
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_suffix(".log")?.parse::<i64>().ok()
        })
        .collect();
    bases.sort_unstable();
    bases
}

/// Names of files in `dir` ending with `suffix`.
pub fn files_ending(dir: &Path, suffix: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("list log dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(suffix))
        .collect()
}

pub fn segment_file(dir: &Path, base: i64, ext: &str) -> std::path::PathBuf {
    dir.join(format!("{base:020}.{ext}"))
}
