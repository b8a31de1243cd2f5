//! Open files are bounded by the process-wide budget, not by the number of logs or segments.
//!
//! Invariant checked: with `RLIMIT_NOFILE` lowered to 128 and a budget of 48 files, 150 logs
//! of three segments each (1,350 segment and index files) can be written (`always` and
//! `never`), read concurrently from several threads, closed, reopened cleanly and reopened
//! after a crash (dropped without closing), with every record read back each time; the
//! cache never holds more than the budget open. DeleteRecords then removes each log's first
//! segment while other threads read it: they see the record or `OffsetOutOfRange`, never a
//! vanished file. Before the budget, the first `Too many open
//! files` came after about 40 logs.
//!
//! One test in this binary on purpose: it lowers the limit of the whole process.

mod common;

use std::sync::Arc;

use common::{encode_batch, split_batches, TestRecord};
use kafka_protocol::records::Compression;
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
use strom_log::{open_file_stats, set_open_file_budget, Durability, Log, LogConfig, LogError};

const LOGS: usize = 150;
const BATCHES: i64 = 3;
const NOFILE: u64 = 128;
const BUDGET: usize = 48;

fn config(i: usize) -> LogConfig {
    LogConfig {
        // Every batch after the first rolls: three segments per log.
        segment_bytes: 1,
        segment_ms: None,
        index_interval_bytes: 4096,
        durability: if i.is_multiple_of(10) {
            Durability::Always
        } else {
            Durability::Never
        },
        retention_ms: None,
        retention_bytes: None,
        max_batch_bytes: 1 << 20,
        compaction: None,
        decode: strom_log::DecodeLimits::default(),
    }
}

fn value(log: usize, n: i64) -> Vec<u8> {
    format!("log-{log}-record-{n}").into_bytes()
}

fn batch(log: usize, n: i64) -> Vec<u8> {
    encode_batch(
        &[TestRecord {
            timestamp: 1_000 + n,
            key: None,
            value: value(log, n),
        }],
        Compression::None,
    )
}

fn open_all(dir: &std::path::Path) -> Vec<Arc<Log>> {
    (0..LOGS)
        .map(|i| {
            let log = Log::open(&dir.join(i.to_string()), config(i))
                .unwrap_or_else(|e| panic!("opening log {i}: {e}"));
            Arc::new(log)
        })
        .collect()
}

/// Reads every record of every log and checks its value.
fn check_all(logs: &[Arc<Log>]) {
    for (i, log) in logs.iter().enumerate() {
        assert_eq!(log.high_watermark(), BATCHES, "log {i}");
        assert_eq!(log.segment_count(), BATCHES as usize, "log {i}");
        for n in 0..BATCHES {
            let read = log
                .read(n, 1 << 16)
                .unwrap_or_else(|e| panic!("reading log {i} at {n}: {e}"));
            let batches = split_batches(&read.bytes).expect("stored batches parse");
            let first = batches.first().expect("one batch at least");
            assert_eq!(first.base_offset, n, "log {i}");
            let records = common::decode_records(&read.bytes);
            assert_eq!(
                records[0].value.as_deref(),
                Some(&value(i, n)[..]),
                "log {i} offset {n}"
            );
        }
    }
    let stats = open_file_stats();
    assert!(
        stats.open <= BUDGET,
        "{} files open in the cache, budget {BUDGET}",
        stats.open
    );
}

fn open_descriptors() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

#[test]
fn many_logs_work_under_a_small_file_limit() {
    let hard = getrlimit(Resource::Nofile).maximum;
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(NOFILE),
            maximum: hard,
        },
    )
    .expect("lowering RLIMIT_NOFILE");
    set_open_file_budget(BUDGET);
    let tmp = tempfile::tempdir().expect("tempdir");

    let logs = open_all(tmp.path());
    for n in 0..BATCHES {
        for (i, log) in logs.iter().enumerate() {
            let mut b = batch(i, n);
            let info = log
                .append(&mut b)
                .unwrap_or_else(|e| panic!("appending to log {i}: {e}"));
            assert_eq!(info.base_offset, n);
        }
    }
    for log in &logs {
        log.flush().expect("flush");
    }
    check_all(&logs);

    // Readers on several threads race the evictions of one another.
    std::thread::scope(|s| {
        for t in 0..4 {
            let logs = &logs;
            s.spawn(move || {
                for round in 0..3 {
                    for (i, log) in logs.iter().enumerate().skip((t + round) % 7) {
                        let n = (i as i64 + t as i64) % BATCHES;
                        let read = log.read(n, 1 << 16).expect("concurrent read");
                        let records = common::decode_records(&read.bytes);
                        assert_eq!(records[0].value.as_deref(), Some(&value(i, n)[..]));
                    }
                }
            });
        }
    });
    assert!(
        open_file_stats().evicted_total > 0,
        "the test must make the cache evict"
    );
    assert!(open_descriptors() < NOFILE as usize);

    for log in &logs {
        log.close().expect("clean close");
    }
    drop(logs);
    let logs = open_all(tmp.path());
    check_all(&logs);

    // A crash: dropped without closing, so the next open rescans the active segments.
    drop(logs);
    let logs = open_all(tmp.path());
    check_all(&logs);
    delete_first_segments_while_reading(&logs);
    for log in &logs {
        log.close().expect("clean close");
    }
}

/// DeleteRecords removes (retires) each log's first segment while readers read offset 0 from
/// every log: a read sees the record or `OffsetOutOfRange`, never a file that vanished.
fn delete_first_segments_while_reading(logs: &[Arc<Log>]) {
    std::thread::scope(|s| {
        let readers: Vec<_> = (0..3)
            .map(|_| {
                s.spawn(|| {
                    for _ in 0..3 {
                        for (i, log) in logs.iter().enumerate() {
                            match log.read(0, 1 << 16) {
                                Ok(read) => {
                                    let records = common::decode_records(&read.bytes);
                                    assert_eq!(records[0].value.as_deref(), Some(&value(i, 0)[..]));
                                }
                                Err(LogError::OffsetOutOfRange { .. }) => {}
                                Err(e) => panic!("reading log {i} during DeleteRecords: {e}"),
                            }
                        }
                    }
                })
            })
            .collect();
        for log in logs {
            assert_eq!(log.delete_records_before(1).expect("delete records"), 1);
        }
        for r in readers {
            r.join().expect("reader");
        }
    });
    for log in logs {
        assert_eq!(log.segment_count(), BATCHES as usize - 1);
        assert!(matches!(
            log.read(0, 1),
            Err(LogError::OffsetOutOfRange { .. })
        ));
    }
}
