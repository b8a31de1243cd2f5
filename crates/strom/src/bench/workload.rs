//! The data both sides of the benchmark write: a small ring of pre-encoded record batches
//! (kafka-protocol's encoder, uncompressed), reused round-robin so encoding cost stays out
//! of the measurement and the log and the baseline write exactly the same bytes.

use anyhow::Context;
use bytes::{Bytes, BytesMut};
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};
use rand::RngCore;

/// Distinct batches in the ring: enough that the payload is not one repeated page.
const RING: usize = 16;

pub struct Workload {
    pub batches: Vec<Vec<u8>>,
    pub batch_bytes: usize,
    pub records_per_batch: usize,
}

impl Workload {
    pub fn new(record_bytes: usize, records_per_batch: usize) -> anyhow::Result<Workload> {
        let mut rng = rand::thread_rng();
        let mut batches = Vec::with_capacity(RING);
        for _ in 0..RING {
            let records: Vec<Record> = (0..records_per_batch)
                .map(|i| {
                    let mut value = vec![0u8; record_bytes];
                    rng.fill_bytes(&mut value);
                    Record {
                        transactional: false,
                        control: false,
                        delete_horizon: false,
                        partition_leader_epoch: -1,
                        producer_id: -1,
                        producer_epoch: -1,
                        timestamp_type: TimestampType::Creation,
                        offset: i as i64,
                        // Constant offset - sequence keeps all records in one batch.
                        sequence: i as i32 - 1,
                        timestamp: 1_700_000_000_000 + i as i64,
                        key: None,
                        value: Some(Bytes::from(value)),
                        headers: Default::default(),
                    }
                })
                .collect();
            let mut buf = BytesMut::new();
            let options = RecordEncodeOptions {
                version: 2,
                compression: Compression::None,
            };
            RecordBatchEncoder::encode(&mut buf, records.iter(), &options)
                .context("encoding a benchmark batch")?;
            batches.push(buf.to_vec());
        }
        let batch_bytes = batches.first().map(Vec::len).unwrap_or(0);
        Ok(Workload {
            batches,
            batch_bytes,
            records_per_batch,
        })
    }

    /// Number of batches that make up `gib` GiB.
    pub fn batches_for(&self, gib: f64) -> u64 {
        ((gib * (1u64 << 30) as f64) / self.batch_bytes as f64).ceil() as u64
    }
}
