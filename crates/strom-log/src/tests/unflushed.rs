//! Segments rolled under `Durability::Never`: written back in the background, and recovery
//! of a segment whose write-back a crash cut short (its `.unflushed` marker still there).

use super::{batch, config, offsets_in};
use crate::{Durability, Log, LogError};

/// Segment files (`.log`) in `dir`, sorted.
fn log_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    v.sort();
    v
}

/// Base offset of a segment file, from its name.
fn base_of(path: &std::path::Path) -> i64 {
    path.file_stem()
        .and_then(|s| s.to_str())
        .and_then(|s| s.parse().ok())
        .expect("segment base offset")
}

/// The recovery point file's value.
fn recovery_point(dir: &std::path::Path) -> i64 {
    std::fs::read_to_string(dir.join("recovery-point"))
        .expect("recovery point")
        .trim()
        .parse()
        .expect("number")
}

/// Cuts `n` bytes off the end of a file, as a write that never reached the disk.
fn cut_tail(path: &std::path::Path, n: u64) {
    let len = std::fs::metadata(path).expect("stat").len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open");
    f.set_len(len - n).expect("tear");
}

/// A log of `batches` two-record batches in 600-byte segments under `never`.
fn rolled_log(dir: &std::path::Path, batches: i64) -> Log {
    let log = Log::open(dir, config(600, Durability::Never)).expect("open");
    for i in 0..batches {
        log.append(&mut batch(2, i, 50)).expect("append");
    }
    log
}

#[test]
fn rolls_under_never_are_written_back_in_the_background() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = rolled_log(dir.path(), 20);
    let segments = log.segment_count();
    assert!(segments > 3);
    log.close().expect("close");
    // Close waited for every rolled segment: no marker left, and the recovery point covers
    // every closed segment.
    let markers = std::fs::read_dir(dir.path())
        .expect("list")
        .filter(|e| {
            e.as_ref()
                .expect("entry")
                .path()
                .extension()
                .is_some_and(|x| x == "unflushed")
        })
        .count();
    assert_eq!(markers, 0, "markers left after close");
    let files = log_files(dir.path());
    let last_base = base_of(files.last().expect("segments"));
    assert_eq!(recovery_point(dir.path()), last_base);
    drop(log);
    let log = Log::open(dir.path(), config(600, Durability::Never)).expect("reopen");
    assert_eq!(log.log_end_offset(), 40);
    assert_eq!(log.segment_count(), segments);
}

#[test]
fn damaged_unflushed_segment_is_truncated_and_later_segments_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    drop(rolled_log(dir.path(), 20));
    let files = log_files(dir.path());
    assert!(files.len() > 3);
    // As after a power loss while the second segment was still being written back: its
    // marker is still there and its second half never reached the disk.
    let victim = &files[1];
    let base = base_of(victim);
    std::fs::write(victim.with_extension("unflushed"), b"").expect("marker");
    std::fs::write(dir.path().join("recovery-point"), base.to_string()).expect("rp");
    cut_tail(victim, 7);

    let log = Log::open(dir.path(), config(600, Durability::Never)).expect("recovered");
    assert_eq!(
        log.segment_count(),
        2,
        "segments after the damaged one dropped"
    );
    let end = log.log_end_offset();
    assert!(end > base && end < 40, "end {end}");
    assert_eq!(offsets_in(log.read(0, 1 << 20).expect("read").bytes)[0], 0);
    // The log goes on from the cut.
    assert_eq!(
        log.append(&mut batch(1, 0, 5)).expect("append").base_offset,
        end
    );
    assert!(
        !victim.with_extension("unflushed").exists(),
        "marker removed"
    );

    // The same damage without a marker is corruption, never silently cut.
    drop(log);
    let dir2 = tempfile::tempdir().expect("tempdir");
    drop(rolled_log(dir2.path(), 20));
    let files = log_files(dir2.path());
    std::fs::remove_file(dir2.path().join("recovery-point")).expect("force full rescan");
    cut_tail(&files[1], 7);
    match Log::open(dir2.path(), config(600, Durability::Never)) {
        Err(LogError::CorruptSegment { .. }) => {}
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("damage in a flushed segment must be reported"),
    }
}
