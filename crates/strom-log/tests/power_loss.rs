//! Power loss, not just SIGKILL: a SIGKILL keeps the page cache, so only a test that drops what
//! was never fsynced can tell `always` from `never`. The crash child appends under an
//! `LD_PRELOAD` shim (`power_loss_shim.c`, compiled here with `cc`) that records, for every
//! successful `fsync`/`fdatasync`, the file's size when the sync began. After a SIGKILL the
//! test "loses power": every segment file is cut to the size its last fsync covered (zero if
//! none), as a machine that lost its page cache would leave it. Then the log is reopened.
//! Under `always` every acknowledged batch must survive; under `never` the same cut loses
//! acknowledged batches, which shows the cut really drops unsynced data.

mod common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{split_batches, writer_of};
use strom_log::{Durability, Log, LogConfig};

const CHILD: &str = env!("CARGO_BIN_EXE_strom-log-crash-child");
const SHIM_SOURCE: &str = include_str!("power_loss_shim.c");
const SEGMENT_BYTES: u64 = 64 * 1024;
const ACKS: usize = 300;

/// Compiles the shim; a missing C compiler is a failure, not a skip.
fn build_shim(dir: &Path) -> PathBuf {
    let source = dir.join("shim.c");
    let lib = dir.join("shim.so");
    std::fs::write(&source, SHIM_SOURCE).expect("write shim source");
    let out = Command::new("cc")
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&lib)
        .arg(&source)
        .arg("-ldl")
        .output()
        .expect("run cc (a C compiler is needed to build the fsync shim)");
    assert!(
        out.status.success(),
        "cc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    lib
}

/// Runs the child under the shim until it has acknowledged `ACKS` batches, then SIGKILLs it.
/// Returns the acknowledged (seq, last offset) pairs.
fn append_then_kill(shim: &Path, sync_log: &Path, dir: &Path, durability: &str) -> Vec<(u64, i64)> {
    let mut child = Command::new(CHILD)
        .args(["append", &dir.display().to_string(), "1", "0"])
        .arg(SEGMENT_BYTES.to_string())
        .arg(durability)
        .env("LD_PRELOAD", shim)
        .env("POWER_LOSS_SYNC_LOG", sync_log)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn crash child");
    let stdout = child.stdout.take().expect("child stdout");
    let mut acks = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("child output");
        let mut it = line.split_whitespace();
        if it.next() != Some("ack") {
            continue;
        }
        let fields: Vec<&str> = it.collect();
        assert_eq!(fields[0], "0", "one writer");
        acks.push((
            fields[1].parse().expect("seq"),
            fields[3].parse().expect("last offset"),
        ));
        if acks.len() == ACKS {
            break;
        }
    }
    child.kill().expect("SIGKILL the child");
    child.wait().expect("reap the child");
    assert_eq!(acks.len(), ACKS, "the child stopped early");
    acks
}

/// Cuts every segment file to the size its last fsync covered, as after a power loss.
fn lose_power(sync_log: &Path, dir: &Path) {
    let mut synced: HashMap<PathBuf, u64> = HashMap::new();
    if let Ok(text) = std::fs::read_to_string(sync_log) {
        for line in text.lines() {
            let (size, path) = line.split_once(' ').expect("size and path");
            let size: u64 = size.parse().expect("size");
            let entry = synced.entry(PathBuf::from(path)).or_default();
            *entry = (*entry).max(size);
        }
    }
    let dir = dir.canonicalize().expect("log dir");
    for entry in std::fs::read_dir(&dir).expect("list log dir") {
        let path = entry.expect("entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("log") {
            continue;
        }
        let keep = synced.get(&path).copied().unwrap_or(0);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open segment");
        let len = file.metadata().expect("stat").len();
        file.set_len(len.min(keep)).expect("cut segment");
    }
}

/// The writer-0 sequence numbers found in the reopened log, in offset order.
fn recovered(dir: &Path) -> Vec<u64> {
    let log = Log::open(
        dir,
        LogConfig {
            segment_bytes: SEGMENT_BYTES,
            durability: Durability::Always,
            ..LogConfig::default()
        },
    )
    .expect("reopen after the power loss");
    let (mut at, hw, mut seqs) = (log.log_start_offset(), log.high_watermark(), Vec::new());
    while at < hw {
        let r = log.read(at, 1 << 20).expect("read");
        for p in split_batches(&r.bytes).expect("whole batches") {
            let (writer, seq) = writer_of(&r.bytes[p.start..p.end]).expect("a child batch");
            assert_eq!(writer, 0);
            seqs.push(seq);
            at = p.last_offset() + 1;
        }
    }
    seqs
}

/// (acknowledged, recovered) sequence numbers after a power loss under `durability`.
fn run(durability: &str) -> (Vec<u64>, Vec<u64>) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let shim = build_shim(tmp.path());
    let sync_log = tmp.path().join("syncs.txt");
    let dir = tmp.path().join("p0");
    let acks = append_then_kill(&shim, &sync_log, &dir, durability);
    assert!(
        sync_log.exists() || durability == "never",
        "the shim recorded no fsync at all: is LD_PRELOAD honoured?"
    );
    lose_power(&sync_log, &dir);
    let seqs = recovered(&dir);
    for (i, s) in seqs.iter().enumerate() {
        assert_eq!(*s, i as u64, "recovered batches are a prefix, in order");
    }
    (acks.iter().map(|(s, _)| *s).collect(), seqs)
}

#[test]
fn always_loses_no_acknowledged_append_when_unsynced_data_is_dropped() {
    let (acked, seqs) = run("always");
    let lost: Vec<u64> = acked
        .iter()
        .copied()
        .filter(|s| *s >= seqs.len() as u64)
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged batches lost in a power loss under `always` (first {:?})",
        lost.len(),
        acked.len(),
        lost.first()
    );
}

#[test]
fn never_can_lose_acknowledged_appends_when_unsynced_data_is_dropped() {
    let (acked, seqs) = run("never");
    assert!(
        (seqs.len() as u64) < acked.len() as u64,
        "under `never` the power loss kept all {} acknowledged batches: the cut drops nothing",
        acked.len()
    );
}
