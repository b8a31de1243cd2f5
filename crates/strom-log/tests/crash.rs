//! Crash tests: a real child process appends under `Durability::Always` from several threads
//! and is killed with SIGKILL at random moments (including during its own recovery); after
//! each kill the log is reopened and checked against what the child acknowledged.
//! Also: torn and bit-flipped tails are truncated on reopen, damage elsewhere is reported.
//!
//! The invariant checked after every kill: the log is a contiguous run of batches from
//! offset 0, each byte-for-byte one the child generated (same stamped offset), each
//! writer's batches appear once and in sequence order with no gaps (a writer only appends
//! seq n+1 after seq n was acknowledged), every acknowledged batch is there at the offset
//! reported to the child, and everything recovered in one round is still there in the next.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{fnv1a, split_batches, with_base_offset, writer_batch, writer_of, SplitMix};
use strom_log::{Durability, Log, LogConfig, LogError};

const CHILD: &str = env!("CARGO_BIN_EXE_strom-log-crash-child");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ack {
    writer: u32,
    seq: u64,
    base: i64,
    last: i64,
    fnv: u64,
}

fn parse_ack(line: &str) -> Option<Ack> {
    let mut it = line.split_whitespace();
    if it.next()? != "ack" {
        return None;
    }
    Some(Ack {
        writer: it.next()?.parse().ok()?,
        seq: it.next()?.parse().ok()?,
        base: it.next()?.parse().ok()?,
        last: it.next()?.parse().ok()?,
        fnv: u64::from_str_radix(it.next()?, 16).ok()?,
    })
}

fn config(segment_bytes: u64) -> LogConfig {
    LogConfig {
        segment_bytes,
        segment_ms: None,
        index_interval_bytes: 4096,
        durability: Durability::Always,
        retention_ms: None,
        retention_bytes: None,
        max_batch_bytes: 1 << 20,
        decode: Default::default(),
        compaction: None,
    }
}

/// Reads the whole log and returns its bytes, checking they are contiguous batches from 0.
fn read_all(log: &Log) -> Vec<u8> {
    assert_eq!(log.log_start_offset(), 0, "nothing was deleted");
    read_from_start(log)
}

/// Reads from the log start offset (the first batch may begin below it) to the high
/// watermark, checking contiguity.
fn read_from_start(log: &Log) -> Vec<u8> {
    let hw = log.high_watermark();
    assert_eq!(
        hw,
        log.log_end_offset(),
        "after recovery everything is durable"
    );
    let mut at = log.log_start_offset();
    let mut all = Vec::new();
    while at < hw {
        let r = log
            .read(at, 256 * 1024)
            .unwrap_or_else(|e| panic!("read at {at}: {e}"));
        let batches = split_batches(&r.bytes).expect("whole batches");
        assert!(!batches.is_empty(), "empty read at {at} below HW {hw}");
        if all.is_empty() {
            assert!(
                batches[0].base_offset <= at && at <= batches[0].last_offset(),
                "first read at {at} starts with the batch containing it"
            );
        } else {
            assert_eq!(
                batches[0].base_offset, at,
                "read at a batch boundary starts there"
            );
        }
        all.extend_from_slice(&r.bytes);
        at = batches.last().map(|b| b.last_offset() + 1).unwrap_or(at);
    }
    assert_eq!(at, hw, "batches end exactly at the high watermark");
    all
}

/// Checks the invariant in the module doc; returns the next sequence number of each writer.
fn verify(all: &[u8], acks: &[Ack]) -> HashMap<u32, u64> {
    verify_from(all, acks, 0)
}

/// `verify` for a log whose records below `start` were deleted: acknowledged batches ending
/// below it may be gone, and a writer's first surviving batch may have any sequence number.
fn verify_from(all: &[u8], acks: &[Ack], start: i64) -> HashMap<u32, u64> {
    let batches = split_batches(all).expect("whole batches");
    let mut next_seq: HashMap<u32, u64> = HashMap::new();
    let mut by_offset: HashMap<i64, (u32, u64, u64)> = HashMap::new();
    let mut expect_base = batches.first().map(|p| p.base_offset).unwrap_or(0);
    if start == 0 {
        assert_eq!(expect_base, 0, "the log starts at offset 0");
    }
    for p in &batches {
        let bytes = &all[p.start..p.end];
        assert_eq!(p.base_offset, expect_base, "offsets are contiguous");
        let (writer, seq) = writer_of(bytes)
            .unwrap_or_else(|| panic!("batch at {} is not one the child wrote", p.base_offset));
        let want = with_base_offset(&writer_batch(writer, seq), p.base_offset);
        assert!(
            bytes == &want[..],
            "batch at {} claims writer {writer} seq {seq} but its bytes differ",
            p.base_offset
        );
        let first_seen = if start == 0 { 0 } else { seq };
        let n = next_seq.entry(writer).or_insert(first_seen);
        assert_eq!(
            seq, *n,
            "writer {writer}: seq {seq} at offset {} but expected {n} (gap or duplicate)",
            p.base_offset
        );
        *n += 1;
        by_offset.insert(p.base_offset, (writer, seq, fnv1a(bytes)));
        expect_base = p.last_offset() + 1;
    }
    for a in acks.iter().filter(|a| a.last >= start) {
        let found = by_offset.get(&a.base);
        assert_eq!(
            found,
            Some(&(a.writer, a.seq, a.fnv)),
            "acknowledged {a:?} is missing or different"
        );
        let p = batches
            .iter()
            .find(|p| p.base_offset == a.base)
            .expect("found above");
        assert_eq!(p.last_offset(), a.last, "acknowledged last offset of {a:?}");
    }
    next_seq
}

/// Runs one child until it is killed `delay` after it reports ready (or `delay` after spawn
/// when `during_recovery`); returns its acknowledgements.
fn run_child(
    dir: &Path,
    first_writer: u32,
    delay: Duration,
    during_recovery: bool,
    durability: &str,
) -> (Vec<Ack>, i64) {
    let mut child = Command::new(CHILD)
        .args(["append", &dir.display().to_string(), "4"])
        .arg(first_writer.to_string())
        .arg((48 * 1024).to_string())
        .arg(durability)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn crash child");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let start = Instant::now();
    let mut lines = Vec::new();
    if !during_recovery {
        // Wait for "ready" so the kill lands while appending.
        loop {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    let ready = line.starts_with("ready");
                    lines.push(line);
                    if ready {
                        break;
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let out = child.wait_with_output().expect("wait");
                    panic!(
                        "child never got ready: {}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            }
        }
    }
    std::thread::sleep(delay);
    // std's kill() is SIGKILL: no destructor, no close, no flush runs in the child.
    child.kill().expect("SIGKILL the child");
    let status = child.wait().expect("reap child");
    reader.join().expect("reader thread");
    lines.extend(rx.try_iter());
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        use std::io::Read;
        let _ = e.read_to_string(&mut stderr);
    }
    assert!(
        status.code().is_none(),
        "child exited by itself ({status}) after {:?}: {stderr}",
        start.elapsed()
    );
    let acked_start = lines
        .iter()
        .filter_map(|l| l.strip_prefix("start ")?.trim().parse::<i64>().ok())
        .max()
        .unwrap_or(0);
    (
        lines.iter().filter_map(|l| parse_ack(l)).collect(),
        acked_start,
    )
}

#[test]
fn sigkill_during_concurrent_always_appends_loses_nothing_acknowledged() {
    crash_rounds("always", 30, 40, Duration::from_secs(45));
}

/// A process crash leaves the page cache alone, so even without any fsync every append
/// that returned (the bytes reached the kernel) must be there after recovery.
#[test]
fn sigkill_during_concurrent_never_appends_loses_nothing_written() {
    crash_rounds("never", 10, 15, Duration::from_secs(20));
}

/// A third thread keeps deleting records (and segments) while appenders run: a kill during
/// `delete_records_before` must neither resurrect records below an acknowledged log start
/// nor lose anything above it.
#[test]
fn sigkill_during_appends_and_delete_records_keeps_log_start_and_data() {
    crash_rounds("always-trim", 15, 25, Duration::from_secs(25));
}

fn crash_rounds(durability: &str, min_rounds: u32, max_rounds: u32, budget: Duration) {
    let trim = durability.ends_with("-trim");
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("p0");
    let seed = std::env::var("STROM_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    eprintln!("crash test seed {seed} (STROM_CRASH_SEED to repeat)");
    let mut rng = SplitMix(seed);
    let started = Instant::now();
    let mut all_acks: Vec<Ack> = Vec::new();
    let mut previous: Vec<u8> = Vec::new();
    let mut rounds = 0;
    let mut total_acks = 0;
    let mut acked_start = 0;
    while rounds < max_rounds && (rounds < min_rounds || started.elapsed() < budget) {
        let during_recovery = rounds > 0 && rng.below(5) == 0;
        let delay = if during_recovery {
            Duration::from_millis(rng.below(40))
        } else {
            Duration::from_millis(5 + rng.below(250))
        };
        // Fresh writer ids per round: sequence numbers restart at 0 for each writer.
        let (acks, start) = run_child(&dir, rounds * 10, delay, during_recovery, durability);
        total_acks += acks.len();
        all_acks.extend_from_slice(&acks);
        acked_start = acked_start.max(start);

        let log = Log::open(&dir, config(48 * 1024))
            .unwrap_or_else(|e| panic!("round {rounds}: reopen after SIGKILL: {e}"));
        if trim {
            let now_start = log.log_start_offset();
            assert!(
                now_start >= acked_start,
                "round {rounds}: log start {now_start} went back below the acknowledged {acked_start}"
            );
            let all = read_from_start(&log);
            verify_from(&all, &all_acks, now_start);
            acked_start = now_start;
            previous = all;
        } else {
            let all = read_all(&log);
            assert!(
                all.starts_with(&previous),
                "round {rounds}: data recovered in the previous round changed or vanished"
            );
            verify(&all, &all_acks);
            previous = all;
        }
        // Alternate how the parent leaves the log, so the child sees both a clean
        // shutdown marker and a second unclean open.
        if rounds % 2 == 0 {
            log.close().expect("clean close");
        }
        drop(log);
        rounds += 1;
    }
    eprintln!(
        "{durability}: {rounds} rounds, {total_acks} acknowledged batches, {} bytes in {:?}",
        previous.len(),
        started.elapsed()
    );
    assert!(total_acks > 0, "the child acknowledged something");
}

/// Appends `n` deterministic batches and drops the log without `close` (a crash).
fn write_batches(dir: &Path, n: u64, segment_bytes: u64) -> Vec<u8> {
    let log = Log::open(dir, config(segment_bytes)).expect("open");
    for seq in 0..n {
        let mut b = writer_batch(7, seq);
        log.append(&mut b).expect("append");
    }
    let all = read_all(&log);
    drop(log);
    all
}

fn segment_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .expect("list")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    v.sort();
    v
}

/// Reopens after the tail segment's last batch was damaged by `damage`; expects the last
/// batch gone, everything before intact, and appends to continue at its offset.
fn check_tail_repair(damage: impl Fn(&Path, u64, u64)) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("p0");
    let all = write_batches(&dir, 40, 16 * 1024);
    let batches = split_batches(&all).expect("batches");
    let last = batches.last().expect("some batches").clone();
    let segs = segment_files(&dir);
    let tail = segs.last().expect("a segment");
    let tail_len = std::fs::metadata(tail).expect("stat").len();
    let batch_len = (last.end - last.start) as u64;
    damage(tail, tail_len - batch_len, batch_len);

    let log = Log::open(&dir, config(16 * 1024)).expect("reopen repairs a damaged tail");
    assert_eq!(
        log.log_end_offset(),
        last.base_offset,
        "the damaged last batch is dropped"
    );
    let again = read_all(&log);
    assert!(again == all[..last.start], "earlier batches intact");
    assert_eq!(
        std::fs::metadata(tail).expect("stat").len(),
        tail_len - batch_len,
        "the tail file is truncated to the last good batch"
    );
    let mut b = writer_batch(7, 1000);
    let info = log.append(&mut b).expect("append after repair");
    assert_eq!(info.base_offset, last.base_offset);
    drop(log);
    let log = Log::open(&dir, config(16 * 1024)).expect("reopen");
    assert_eq!(log.log_end_offset(), info.last_offset + 1);
}

#[test]
fn torn_tail_is_truncated_on_reopen() {
    check_tail_repair(|file, batch_start, batch_len| {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(file)
            .expect("open segment");
        f.set_len(batch_start + batch_len / 2)
            .expect("cut the last batch in half");
    });
}

#[test]
fn torn_tail_header_is_truncated_on_reopen() {
    check_tail_repair(|file, batch_start, _| {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(file)
            .expect("open segment");
        f.set_len(batch_start + 7)
            .expect("leave 7 bytes of the last header");
    });
}

#[test]
fn bit_flipped_tail_is_truncated_on_reopen() {
    check_tail_repair(|file, batch_start, batch_len| {
        let mut bytes = std::fs::read(file).expect("read segment");
        let at = (batch_start + batch_len - 5) as usize;
        bytes[at] ^= 0x10;
        std::fs::write(file, bytes).expect("write segment");
    });
}

#[test]
fn zeroed_tail_is_truncated_on_reopen() {
    // What a filesystem can leave after a crash: the file length grew, the data did not.
    check_tail_repair(|file, batch_start, batch_len| {
        let mut bytes = std::fs::read(file).expect("read segment");
        for b in &mut bytes[batch_start as usize..(batch_start + batch_len) as usize] {
            *b = 0;
        }
        std::fs::write(file, bytes).expect("write segment");
    });
}

/// Damage in a segment that is not the tail must never be skipped silently: either open
/// refuses with `CorruptSegment` naming the file, or reading the damaged range does.
fn check_middle_damage(damage: impl Fn(&Path)) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("p0");
    let all = write_batches(&dir, 60, 8 * 1024);
    let segs = segment_files(&dir);
    assert!(segs.len() >= 4, "enough segments: {}", segs.len());
    let victim = segs[1].clone();
    damage(&victim);
    let log = match Log::open(&dir, config(8 * 1024)) {
        Err(LogError::CorruptSegment { file, .. }) => {
            assert_eq!(file, victim, "CorruptSegment names the damaged file");
            eprintln!("damage reported by open");
            return;
        }
        Err(e) => panic!("open failed with {e:?}, expected CorruptSegment for {victim:?}"),
        Ok(log) => log,
    };
    // Opened: reading everything must either fail with CorruptSegment or return the
    // damaged bytes as they are (a client's CRC check catches them) -- never skip offsets.
    let hw = log.high_watermark();
    let mut at = 0;
    let mut got = Vec::new();
    while at < hw {
        match log.read(at, 4096) {
            Ok(r) => {
                let batches = match split_batches(&r.bytes) {
                    Ok(b) if !b.is_empty() => b,
                    _ => panic!("read at {at} returned broken framing without an error"),
                };
                assert_eq!(batches[0].base_offset, at, "read at {at} skipped offsets");
                got.extend_from_slice(&r.bytes);
                at = batches.last().map(|b| b.last_offset() + 1).unwrap_or(at);
            }
            Err(LogError::CorruptSegment { file, .. }) => {
                assert_eq!(file, victim, "CorruptSegment names the damaged file");
                eprintln!("damage reported by read at {at}");
                return;
            }
            Err(e) => panic!("read at {at}: {e:?}, expected CorruptSegment"),
        }
    }
    assert_eq!(got.len(), all.len(), "nothing skipped and nothing lost");
    eprintln!("damage passed through to the reader unchanged (its CRC check catches it)");
}

/// Leaves only segment and index files, as after losing every piece of log metadata
/// (or a directory copied from elsewhere): nothing is trusted, everything is rescanned.
fn strip_metadata(dir: &Path) {
    for e in std::fs::read_dir(dir).expect("list") {
        let p = e.expect("entry").path();
        let keep = p
            .extension()
            .is_some_and(|x| x == "log" || x == "index" || x == "timeindex");
        if !keep {
            std::fs::remove_file(&p).expect("remove metadata file");
        }
    }
}

#[test]
fn bit_flipped_middle_segment_found_by_full_rescan_is_corrupt_segment() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("p0");
    write_batches(&dir, 60, 8 * 1024);
    strip_metadata(&dir);
    let segs = segment_files(&dir);
    let victim = segs[1].clone();
    let mut bytes = std::fs::read(&victim).expect("read");
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&victim, bytes).expect("write");
    match Log::open(&dir, config(8 * 1024)) {
        Err(LogError::CorruptSegment { file, .. }) => assert_eq!(file, victim),
        Err(e) => panic!("expected CorruptSegment for {victim:?}, got {e:?}"),
        Ok(log) => panic!(
            "a full rescan skipped the damage in {victim:?}: opened with end offset {}",
            log.log_end_offset()
        ),
    }
    // Nothing was "repaired" away: the damaged segment and the ones after it are all there.
    assert_eq!(segment_files(&dir), segs, "no segment deleted or renamed");
}

#[test]
fn torn_tail_after_clean_close_is_repaired_or_reported() {
    // The clean-shutdown marker promises the files are complete; if the tail is cut anyway
    // (a copy, a broken disk) the log must not serve garbage or panic.
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("p0");
    let all = {
        let log = Log::open(&dir, config(16 * 1024)).expect("open");
        for seq in 0..40 {
            log.append(&mut writer_batch(7, seq)).expect("append");
        }
        let all = read_all(&log);
        log.close().expect("close");
        all
    };
    let batches = split_batches(&all).expect("batches");
    let last = batches.last().expect("batches").clone();
    let segs = segment_files(&dir);
    let tail = segs.last().expect("segment");
    let len = std::fs::metadata(tail).expect("stat").len();
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(tail)
        .expect("open");
    f.set_len(len - 10).expect("truncate");
    drop(f);
    match Log::open(&dir, config(16 * 1024)) {
        Err(LogError::CorruptSegment { file, .. }) => assert_eq!(&file, tail),
        Err(e) => panic!("expected repair or CorruptSegment, got {e:?}"),
        Ok(log) => {
            assert_eq!(log.log_end_offset(), last.base_offset, "torn batch dropped");
            let again = read_all(&log);
            assert!(again == all[..last.start], "earlier batches intact");
        }
    }
}

#[test]
fn truncated_middle_segment_is_reported() {
    check_middle_damage(|file| {
        let len = std::fs::metadata(file).expect("stat").len();
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(file)
            .expect("open");
        f.set_len(len - 100).expect("truncate");
    });
}

#[test]
fn bit_flipped_middle_segment_is_reported() {
    check_middle_damage(|file| {
        let mut bytes = std::fs::read(file).expect("read");
        let at = bytes.len() / 2;
        bytes[at] ^= 0x01;
        std::fs::write(file, bytes).expect("write");
    });
}
