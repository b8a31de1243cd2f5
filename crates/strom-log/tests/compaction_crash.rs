//! Compaction crash test: a real child process appends keyed records under
//! `Durability::Always` while compacting the same log in a loop, and is killed with SIGKILL at
//! random moments (including during its own recovery and in the middle of segment swaps).
//! After every kill the parent reopens the log and checks it:
//! - it opens (no `CorruptSegment`) and leaves no `.cleaned` file behind;
//! - offsets are strictly increasing and every record the parent knows of (acknowledged by
//!   the child or seen in an earlier check) reads back at its original offset unchanged;
//! - for every key, the newest known record is still the last one readable for that key
//!   (only a tombstone may vanish, and then the key is gone entirely);
//! - a known record that is gone has a newer record of its key, or is a tombstone.

mod common_compaction;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common_compaction::{files_ending, read_all};
use rand::{Rng, SeedableRng};
use strom_log::{CompactionConfig, Durability, Log, LogConfig};

const CHILD: &str = env!("CARGO_BIN_EXE_strom-compaction-crash-child");
const SEGMENT_BYTES: u64 = 1500;
const DELETE_RETENTION_MS: i64 = 150;

fn config() -> LogConfig {
    LogConfig {
        segment_bytes: SEGMENT_BYTES,
        segment_ms: None,
        index_interval_bytes: 256,
        durability: Durability::Always,
        retention_ms: None,
        retention_bytes: None,
        max_batch_bytes: 1 << 20,
        decode: Default::default(),
        compaction: Some(CompactionConfig {
            min_cleanable_dirty_ratio: 0.0,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: i64::MAX,
            delete_retention_ms: DELETE_RETENTION_MS,
        }),
    }
}

/// A record the parent knows was written: `value` `None` is a tombstone.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Known {
    key: String,
    value: Option<String>,
}

struct Round {
    acks: Vec<(i64, Known)>,
    compactions: usize,
    stray_cleaned_at_kill: bool,
}

fn parse_ack(line: &str) -> Option<(i64, Known)> {
    let mut it = line.split_whitespace();
    if it.next()? != "ack" {
        return None;
    }
    let offset = it.next()?.parse().ok()?;
    let key = it.next()?.to_string();
    let value = match it.next()? {
        "-" => None,
        v => Some(v.to_string()),
    };
    Some((offset, Known { key, value }))
}

fn run_child(dir: &Path, seed: u64, kill_after: Duration) -> Round {
    let mut child = Command::new(CHILD)
        .arg(dir)
        .arg(seed.to_string())
        .arg(SEGMENT_BYTES.to_string())
        .arg(DELETE_RETENTION_MS.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("piped stdout");
    let reader = std::thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stdout).lines() {
            match line {
                Ok(l) => lines.push(l),
                Err(_) => break,
            }
        }
        lines
    });
    std::thread::sleep(kill_after);
    // SIGKILL: no destructor, no flush, no clean-shutdown marker.
    let _ = child.kill();
    let status = child.wait().expect("wait child");
    let lines = reader.join().expect("reader thread");
    assert!(
        status.code().is_none() || lines.iter().any(|l| l.starts_with("ready")),
        "child exited on its own ({status}) before getting ready"
    );
    let stray_cleaned_at_kill = !files_ending(dir, ".cleaned").is_empty();
    Round {
        acks: lines.iter().filter_map(|l| parse_ack(l)).collect(),
        compactions: lines.iter().filter(|l| l.starts_with("compacted")).count(),
        stray_cleaned_at_kill,
    }
}

/// Reopens the log after a kill and checks it against everything known; returns the records
/// read so they become known too.
fn check(dir: &Path, known: &HashMap<i64, Known>, round: usize) -> Vec<(i64, Known)> {
    let log = match Log::open(dir, config()) {
        Ok(l) => l,
        Err(e) => panic!("round {round}: the log does not open after a kill: {e}"),
    };
    assert!(
        files_ending(dir, ".cleaned").is_empty(),
        "round {round}: .cleaned leftovers after open"
    );
    let got = read_all(&log);
    for w in got.windows(2) {
        assert!(
            w[0].offset < w[1].offset,
            "round {round}: offsets not increasing: {} then {}",
            w[0].offset,
            w[1].offset
        );
    }
    let records: Vec<(i64, Known)> = got
        .iter()
        .map(|g| {
            let key = String::from_utf8(g.key.clone().expect("every record has a key"))
                .expect("utf-8 key");
            let value = g
                .value
                .as_ref()
                .map(|v| String::from_utf8(v.clone()).expect("utf-8 value"));
            (g.offset, Known { key, value })
        })
        .collect();
    let in_log: HashMap<i64, &Known> = records.iter().map(|(o, k)| (*o, k)).collect();
    for (offset, k) in &records {
        if let Some(expected) = known.get(offset) {
            assert_eq!(
                k, expected,
                "round {round}: offset {offset} holds something else than was written there"
            );
        }
    }
    if let Some(max_known) = known.keys().max() {
        assert!(
            log.log_end_offset() > *max_known,
            "round {round}: log end {} but offset {max_known} was acknowledged",
            log.log_end_offset()
        );
    }
    // Newest known record per key, and the last readable one.
    let mut newest: HashMap<&str, (i64, &Known)> = HashMap::new();
    for (o, k) in known.iter() {
        let e = newest.entry(k.key.as_str()).or_insert((*o, k));
        if *o > e.0 {
            *e = (*o, k);
        }
    }
    let mut last_readable: HashMap<&str, i64> = HashMap::new();
    for (o, k) in &records {
        last_readable.insert(k.key.as_str(), *o);
    }
    for (key, (offset, k)) in &newest {
        match last_readable.get(key) {
            Some(last) => assert!(
                last >= offset,
                "round {round}: key {key}: newest known record at {offset} but the last readable is at {last}"
            ),
            None => assert!(
                k.value.is_none(),
                "round {round}: key {key} is gone although its newest known record at {offset} is a value"
            ),
        }
    }
    for (o, k) in known.iter() {
        if in_log.contains_key(o) {
            continue;
        }
        let superseded = records.iter().any(|(p, r)| p > o && r.key == k.key)
            || known.iter().any(|(p, r)| p > o && r.key == k.key);
        assert!(
            superseded || k.value.is_none(),
            "round {round}: {k:?} at {o} vanished without a newer record of its key"
        );
    }
    log.close().expect("close");
    records
}

#[test]
fn kill_during_append_and_compaction() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("log");
    let seed: u64 = rand::random();
    eprintln!("compaction crash test seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut known: HashMap<i64, Known> = HashMap::new();
    let started = Instant::now();
    let (mut rounds, mut acks, mut compactions, mut mid_swap) = (0, 0, 0, 0);
    while rounds < 40 && started.elapsed() < Duration::from_secs(50) {
        let kill_after = Duration::from_millis(rng.gen_range(5..350));
        let round = run_child(&dir, seed.wrapping_add(rounds as u64), kill_after);
        acks += round.acks.len();
        compactions += round.compactions;
        mid_swap += usize::from(round.stray_cleaned_at_kill);
        for (o, k) in round.acks {
            if let Some(prev) = known.insert(o, k.clone()) {
                assert_eq!(
                    prev, k,
                    "offset {o} acknowledged twice with different records"
                );
            }
        }
        for (o, k) in check(&dir, &known, rounds) {
            known.insert(o, k);
        }
        rounds += 1;
    }
    eprintln!(
        "{rounds} rounds, {acks} acks, {compactions} compactions that rewrote segments, \
         {mid_swap} kills left a .cleaned file"
    );
    assert!(rounds >= 10, "only {rounds} rounds in the time budget");
    assert!(acks > 100, "the child acknowledged only {acks} appends");
    assert!(compactions > 0, "no compaction ever rewrote a segment");
}
