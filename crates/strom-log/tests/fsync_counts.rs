//! `Durability::Always` really fsyncs: every acknowledged append is covered by a counted data
//! fsync (`Log::sync_stats`), readers never see past what a fsync covered, and concurrent
//! appenders share fsyncs (group commit), so there are fewer fsyncs than appends. Under `Never`
//! appends do not fsync at all. A SIGKILL keeps the page cache, so `crash.rs` cannot tell these
//! policies apart; these counts can.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};

use common::writer_batch;
use strom_log::{Durability, Log, LogConfig};

fn config(durability: Durability) -> LogConfig {
    LogConfig {
        segment_bytes: 64 * 1024,
        segment_ms: None,
        index_interval_bytes: 1024,
        durability,
        retention_ms: None,
        retention_bytes: None,
        max_batch_bytes: 1 << 20,
        compaction: None,
        decode: strom_log::DecodeLimits::default(),
    }
}

#[test]
fn always_acknowledges_an_append_only_after_a_fsync_covers_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let log = Log::open(&tmp.path().join("p0"), config(Durability::Always)).expect("open");
    for seq in 0..200 {
        let before = log.sync_stats().data_syncs;
        let info = log.append(&mut writer_batch(1, seq)).expect("append");
        let after = log.sync_stats();
        assert!(
            after.synced_end > info.last_offset,
            "append {seq} acknowledged up to {} but fsyncs cover only below {}",
            info.last_offset,
            after.synced_end
        );
        assert!(
            after.data_syncs > before,
            "append {seq} returned without a fsync ({before} -> {})",
            after.data_syncs
        );
    }
}

#[test]
fn always_concurrent_appenders_share_fsyncs_and_readers_see_only_synced_data() {
    const WRITERS: u32 = 8;
    const PER_WRITER: u64 = 250;
    let tmp = tempfile::tempdir().expect("tempdir");
    let log =
        Arc::new(Log::open(&tmp.path().join("p0"), config(Durability::Always)).expect("open"));
    let start = Arc::new(Barrier::new(WRITERS as usize + 1));
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (log, stop) = (Arc::clone(&log), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut checks = 0u64;
            while !stop.load(Ordering::Acquire) {
                // The high watermark first: `synced_end` only grows, so this order is safe.
                let hw = log.high_watermark();
                let synced = log.sync_stats().synced_end;
                assert!(
                    hw <= synced,
                    "readers see {hw}, fsyncs cover below {synced}"
                );
                checks += 1;
            }
            checks
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (log, start) = (Arc::clone(&log), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                for seq in 0..PER_WRITER {
                    let info = log.append(&mut writer_batch(w, seq)).expect("append");
                    let synced = log.sync_stats().synced_end;
                    assert!(
                        synced > info.last_offset,
                        "writer {w} acknowledged {} before a fsync covered it ({synced})",
                        info.last_offset
                    );
                }
            })
        })
        .collect();
    start.wait();
    for w in writers {
        w.join().expect("writer");
    }
    stop.store(true, Ordering::Release);
    assert!(reader.join().expect("reader") > 0, "the reader ran");
    let appends = u64::from(WRITERS) * PER_WRITER;
    let stats = log.sync_stats();
    assert!(stats.data_syncs >= 1, "no fsync at all");
    assert!(
        stats.data_syncs < appends,
        "{} fsyncs for {appends} concurrent appends: group commit shared none",
        stats.data_syncs
    );
    eprintln!(
        "{appends} appends by {WRITERS} writers: {} fsyncs",
        stats.data_syncs
    );
}

#[test]
fn never_appends_without_fsync_and_flush_counts_one() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let log = Log::open(&tmp.path().join("p0"), config(Durability::Never)).expect("open");
    for seq in 0..50 {
        log.append(&mut writer_batch(1, seq)).expect("append");
    }
    assert_eq!(log.sync_stats().data_syncs, 0, "`never` appends fsynced");
    log.flush().expect("flush");
    let stats = log.sync_stats();
    assert_eq!(stats.data_syncs, 1);
    assert_eq!(stats.synced_end, log.log_end_offset());
}
