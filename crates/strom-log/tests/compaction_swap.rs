//! Deterministic crash tests of the segment swap in `Log::compact`: each on-disk state a crash
//! can leave between "cleaned file written" and "swap complete" is built by hand, and the
//! reopened log must hold either the old segment or the cleaned one, completely, with working
//! indexes and no leftovers. Also covers a crash while writing the cleaner checkpoint.

mod common_compaction;

use std::path::Path;

use common_compaction::*;
use strom_log::{CompactionConfig, Durability, Log, LogConfig};

const NOW: i64 = 10_000_000;

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: 600,
        segment_ms: None,
        index_interval_bytes: 100,
        durability: Durability::Never,
        retention_ms: None,
        compaction: Some(CompactionConfig {
            min_cleanable_dirty_ratio: 0.0,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
            delete_retention_ms: 1000,
        }),
        ..LogConfig::default()
    }
}

/// Writes several segments with many versions of four keys (and a tombstone) and closes it
/// cleanly if `clean`.
fn build(dir: &Path, clean: bool) {
    let log = Log::open(dir, config()).expect("open");
    for i in 0..60i64 {
        let key = format!("k{}", i % 4);
        let put = if i == 41 {
            Put::tombstone(&key, 1000 + i)
        } else {
            Put::value(&key, &format!("v{i}"), 1000 + i)
        };
        let other = Put::value(&format!("k{}", (i + 1) % 4), &format!("w{i}"), 1000 + i);
        log.append(&mut plain_batch(&[put, other])).expect("append");
    }
    assert!(
        log.segment_count() >= 5,
        "segments: {}",
        log.segment_count()
    );
    if clean {
        log.close().expect("close");
    } else {
        log.flush().expect("flush");
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("list") {
        let e = e.expect("entry");
        std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
    }
}

/// (records before compaction, records after, bytes of the first rewritten segment, its base).
struct Fixture {
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
    before: Vec<Got>,
    cleaned_bytes: Vec<u8>,
    base: i64,
}

/// Builds a log in `dir`, and in a copy compacts it to learn what the first rewritten segment
/// looks like once cleaned.
fn fixture(clean: bool) -> Fixture {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("log");
    let copy = tmp.path().join("copy");
    build(&dir, clean);
    let before = {
        copy_dir(&dir, &copy);
        let log = Log::open(&copy, config()).expect("open copy");
        let before = read_all(&log);
        let stats = log.compact(NOW, None).expect("compact");
        assert!(stats.segments_cleaned >= 2, "{stats:?}");
        log.close().expect("close copy");
        before
    };
    let base = segment_bases(&dir)
        .into_iter()
        .find(|b| {
            std::fs::read(segment_file(&dir, *b, "log")).ok()
                != std::fs::read(segment_file(&copy, *b, "log")).ok()
        })
        .expect("some segment was rewritten");
    let cleaned_bytes = std::fs::read(segment_file(&copy, base, "log")).expect("cleaned");
    Fixture {
        _tmp: tmp,
        dir,
        before,
        cleaned_bytes,
        base,
    }
}

/// Opens the log, checks it is whole and still usable (append, read, compact), returns its
/// records as read right after opening.
fn reopen_and_check(dir: &Path) -> Vec<Got> {
    let log = Log::open(dir, config()).expect("the log opens after the crash");
    assert!(
        files_ending(dir, ".cleaned").is_empty(),
        "stray .cleaned files remain after open"
    );
    assert!(files_ending(dir, ".tmp").is_empty(), "stray .tmp files");
    for base in segment_bases(dir) {
        assert!(segment_file(dir, base, "index").exists(), "index of {base}");
        assert!(
            segment_file(dir, base, "timeindex").exists(),
            "timeindex of {base}"
        );
    }
    let got = read_all(&log);
    for w in got.windows(2) {
        assert!(w[0].offset < w[1].offset);
    }
    // Point reads go through the rebuilt indexes.
    for g in &got {
        let r = log.read(g.offset, 1).expect("read");
        let mut b = r.bytes;
        let first = kafka_protocol::records::RecordBatchDecoder::decode_all(&mut b)
            .expect("decode")
            .into_iter()
            .flat_map(|s| s.records)
            .find(|r| r.offset >= g.offset)
            .map(|r| r.offset);
        assert_eq!(first, Some(g.offset));
    }
    let leo = log.log_end_offset();
    let info = log
        .append(&mut plain_batch(&[Put::value("k9", "after", NOW)]))
        .expect("append after recovery");
    assert_eq!(info.base_offset, leo);
    log.compact(NOW, None)
        .expect("compaction works after recovery");
    log.close().expect("close");
    got
}

/// The crash left the old segment: the log reads exactly as before compaction.
fn assert_old_segment(f: &Fixture, got: &[Got]) {
    assert_eq!(got, &f.before[..], "the old segment must be intact");
}

/// The crash left the cleaned segment: it reads as the cleaned file, the rest as before.
fn assert_new_segment(f: &Fixture, got: &[Got]) {
    // Outside the swapped segment nothing changed; inside, exactly the cleaned records.
    let next_base = segment_bases(&f.dir)
        .into_iter()
        .find(|b| *b > f.base)
        .expect("a later segment");
    let outside: Vec<&Got> = f
        .before
        .iter()
        .filter(|g| g.offset < f.base || g.offset >= next_base)
        .collect();
    let got_outside: Vec<&Got> = got
        .iter()
        .filter(|g| g.offset < f.base || g.offset >= next_base)
        .collect();
    assert_eq!(got_outside, outside);
    let inside: Vec<&Got> = got
        .iter()
        .filter(|g| g.offset >= f.base && g.offset < next_base)
        .collect();
    let mut bytes = bytes::Bytes::from(f.cleaned_bytes.clone());
    let cleaned: Vec<i64> = kafka_protocol::records::RecordBatchDecoder::decode_all(&mut bytes)
        .expect("decode cleaned")
        .into_iter()
        .flat_map(|s| s.records.into_iter().map(|r| r.offset))
        .collect();
    assert_eq!(inside.iter().map(|g| g.offset).collect::<Vec<_>>(), cleaned);
    assert!(
        inside.len()
            < f.before
                .iter()
                .filter(|g| g.offset >= f.base && g.offset < next_base)
                .count()
    );
}

/// The cleaner writes its checkpoint before the first swap (recovery reads it as "offset gaps
/// between segments are legitimate"), so every state after a rename has one.
fn checkpoint_written_before_swap(dir: &Path) {
    if !dir.join("cleaner-checkpoint").exists() {
        std::fs::write(dir.join("cleaner-checkpoint"), b"0").expect("checkpoint");
    }
}

fn remove_indexes(dir: &Path, base: i64) {
    for ext in ["index", "timeindex"] {
        std::fs::remove_file(segment_file(dir, base, ext)).expect("remove index");
    }
}

/// Crash after the cleaned file was written (maybe partially) but before anything else.
#[test]
fn stray_cleaned_file_with_old_segment_intact() {
    for clean in [true, false] {
        for partial in [false, true] {
            let f = fixture(clean);
            let mut bytes = f.cleaned_bytes.clone();
            if partial {
                bytes.truncate(bytes.len() / 2);
            }
            let stray = f.dir.join(format!("{:020}.log.cleaned", f.base));
            std::fs::write(&stray, &bytes).expect("write stray");
            let got = reopen_and_check(&f.dir);
            assert_old_segment(&f, &got);
        }
    }
}

/// Crash after the old segment's indexes were removed, before the rename.
#[test]
fn indexes_removed_before_rename() {
    for clean in [true, false] {
        let f = fixture(clean);
        remove_indexes(&f.dir, f.base);
        std::fs::write(
            f.dir.join(format!("{:020}.log.cleaned", f.base)),
            &f.cleaned_bytes,
        )
        .expect("write stray");
        let got = reopen_and_check(&f.dir);
        assert_old_segment(&f, &got);
    }
}

/// Crash right after the rename: the cleaned file is in place, without index files.
#[test]
fn cleaned_file_renamed_in_with_indexes_missing() {
    for clean in [true, false] {
        let f = fixture(clean);
        checkpoint_written_before_swap(&f.dir);
        remove_indexes(&f.dir, f.base);
        std::fs::write(segment_file(&f.dir, f.base, "log"), &f.cleaned_bytes).expect("rename");
        let got = reopen_and_check(&f.dir);
        assert_new_segment(&f, &got);
    }
}

/// Crash after the rename while the fresh indexes were being written: they exist but are
/// empty (their data never reached the disk).
#[test]
fn cleaned_file_renamed_in_with_empty_indexes() {
    for clean in [true, false] {
        let f = fixture(clean);
        checkpoint_written_before_swap(&f.dir);
        for ext in ["index", "timeindex"] {
            std::fs::write(segment_file(&f.dir, f.base, ext), b"").expect("truncate index");
        }
        std::fs::write(segment_file(&f.dir, f.base, "log"), &f.cleaned_bytes).expect("rename");
        let got = reopen_and_check(&f.dir);
        assert_new_segment(&f, &got);
    }
}

/// Crash while replacing the cleaner checkpoint: a stray temporary file.
#[test]
fn stray_checkpoint_tmp_is_ignored() {
    let f = fixture(true);
    std::fs::write(f.dir.join("cleaner-checkpoint.tmp"), b"12").expect("write tmp");
    let got = reopen_and_check(&f.dir);
    assert_old_segment(&f, &got);
}
