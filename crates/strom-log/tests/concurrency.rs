//! Concurrent appenders and tailing readers on one log, and the interval flusher.
//! Readers must only ever see whole, valid batches below a high watermark that never goes
//! backwards, while appenders race each other (and, under `Always`, share fsyncs).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{split_batches, with_base_offset, writer_batch, writer_of};
use strom_log::{Durability, Flusher, Log, LogConfig};

fn config(durability: Durability) -> LogConfig {
    LogConfig {
        segment_bytes: 64 * 1024,
        segment_ms: None,
        index_interval_bytes: 1024,
        durability,
        retention_ms: None,
        retention_bytes: None,
        max_batch_bytes: 1 << 20,
        decode: Default::default(),
        compaction: None,
    }
}

/// Tails the log from 0 until `stop` and the end is reached; returns batches seen.
/// `strict`: every returned batch lies below the high watermark reported with it;
/// otherwise only below the high watermark read after the call.
fn tail(log: &Log, stop: &AtomicBool, strict: bool) -> usize {
    let mut at = 0;
    let mut last_hw = 0;
    let mut seen = 0;
    loop {
        let done = stop.load(Ordering::Acquire);
        let r = log
            .read(at, 8 * 1024)
            .expect("read below the high watermark");
        assert!(r.high_watermark >= last_hw, "high watermark went backwards");
        last_hw = r.high_watermark;
        let batches = split_batches(&r.bytes).expect("only whole batches are visible");
        for p in &batches {
            assert_eq!(p.base_offset, at, "contiguous");
            let bytes = &r.bytes[p.start..p.end];
            let (w, s) = writer_of(bytes).expect("a generated batch");
            let want = with_base_offset(&writer_batch(w, s), p.base_offset);
            assert!(bytes == &want[..], "visible batch at {at} is intact");
            let hw = if strict {
                r.high_watermark
            } else {
                log.high_watermark()
            };
            assert!(
                p.last_offset() < hw,
                "read returned offset {} at or above its high watermark {hw}",
                p.last_offset()
            );
            at = p.last_offset() + 1;
            seen += 1;
        }
        if batches.is_empty() {
            if done && at == log.high_watermark() {
                return seen;
            }
            std::thread::yield_now();
        }
    }
}

fn appenders_and_tailers(durability: Durability, strict: bool) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let log = Arc::new(Log::open(&tmp.path().join("p0"), config(durability)).expect("open"));
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (log, stop) = (Arc::clone(&log), Arc::clone(&stop));
            std::thread::spawn(move || tail(&log, &stop, strict))
        })
        .collect();
    let per_writer = 150;
    let writers: Vec<_> = (0..4u32)
        .map(|w| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for seq in 0..per_writer {
                    let info = log.append(&mut writer_batch(w, seq)).expect("append");
                    if durability == Durability::Always {
                        // Acknowledged means durable means visible.
                        assert!(
                            log.high_watermark() > info.last_offset,
                            "acked but not visible"
                        );
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("writer");
    }
    stop.store(true, Ordering::Release);
    for r in readers {
        assert_eq!(r.join().expect("reader"), 4 * per_writer as usize);
    }
    assert_eq!(log.high_watermark(), log.log_end_offset());
}

#[test]
fn concurrent_always_appends_with_tailing_readers() {
    appenders_and_tailers(Durability::Always, false);
}

#[test]
fn concurrent_never_appends_with_tailing_readers() {
    appenders_and_tailers(Durability::Never, false);
}

/// `ReadResult::high_watermark` is documented as the offset up to which readers may read;
/// a read racing an append must not hand out batches at or beyond the value it reports.
#[test]
fn read_never_returns_batches_beyond_its_reported_high_watermark() {
    appenders_and_tailers(Durability::Always, true);
    appenders_and_tailers(Durability::Never, true);
}

#[test]
fn interval_flusher_syncs_dirty_logs() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let interval = Duration::from_millis(50);
    let log = Arc::new(
        Log::open(
            &tmp.path().join("p0"),
            config(Durability::Interval(interval)),
        )
        .expect("open"),
    );
    let mut flusher = Flusher::start(interval);
    flusher.register(&log);
    let info = log.append(&mut writer_batch(1, 0)).expect("append");
    assert_eq!(
        log.high_watermark(),
        info.last_offset + 1,
        "visible at once"
    );
    assert!(log.is_dirty(), "dirty until the flusher runs");
    let deadline = Instant::now() + Duration::from_secs(5);
    while log.is_dirty() {
        assert!(Instant::now() < deadline, "flusher never synced the log");
        std::thread::sleep(Duration::from_millis(10));
    }
    flusher.stop();
}
