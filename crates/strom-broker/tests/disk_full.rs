//! A full data directory at the broker level, on a small private tmpfs: appends are refused
//! early with `InsufficientSpace` (nothing written) once free space falls below the minimum;
//! a write that still hits `ENOSPC` poisons its partition, which the broker's disk check
//! reopens from disk by itself once space is back. Either way writes resume without a
//! restart, and every acknowledged record is readable, in order, before and after a restart.
//!
//! Mounting needs root (CI runs as root). Where it is not permitted the tests say so and
//! return, unless `STROM_REQUIRE_ROOT_TESTS=1`, which turns that into a failure.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use strom_broker::{
    decode_records, Broker, BrokerConfig, BrokerError, DiskConfig, NewRecord, Partition,
};
use strom_log::{Durability, LogConfig, LogError};

/// A private tmpfs on a temporary directory, lazily unmounted on drop.
struct Tmpfs {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Tmpfs {
    /// `None` (after saying why) when mounting is not permitted here and root tests are not
    /// required; a panic when they are.
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().to_path_buf();
        let t = Tmpfs { _dir: dir, path };
        if t.call(0, &format!("size={size}")) {
            return Some(t);
        }
        let err = std::io::Error::last_os_error();
        if std::env::var("STROM_REQUIRE_ROOT_TESTS").as_deref() == Ok("1") {
            panic!("cannot mount a tmpfs ({err}) but STROM_REQUIRE_ROOT_TESTS=1");
        }
        eprintln!("NOT RUN: cannot mount a tmpfs ({err}); run as root to test a full disk");
        None
    }

    fn resize(&self, size: &str) {
        assert!(
            self.call(libc::MS_REMOUNT, &format!("size={size}")),
            "remount size={size}: {}",
            std::io::Error::last_os_error()
        );
    }

    fn call(&self, flags: libc::c_ulong, opts: &str) -> bool {
        let target = CString::new(self.path.as_os_str().as_bytes()).expect("path");
        let opts = CString::new(opts).expect("opts");
        let fstype = CString::new("tmpfs").expect("fstype");
        // SAFETY: all pointers are valid NUL-terminated strings for the call's duration.
        unsafe {
            libc::mount(
                fstype.as_ptr(),
                target.as_ptr(),
                fstype.as_ptr(),
                flags,
                opts.as_ptr().cast(),
            ) == 0
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        if let Ok(target) = CString::new(self.path.as_os_str().as_bytes()) {
            // SAFETY: valid path string; MNT_DETACH so open files do not block cleanup.
            unsafe {
                libc::umount2(target.as_ptr(), libc::MNT_DETACH);
            }
        }
    }
}

fn open(dir: &Path, min_free_bytes: u64) -> Arc<Broker> {
    let config = BrokerConfig {
        data_dir: dir.to_path_buf(),
        node_id: 1,
        auto_create_topics: false,
        default_partitions: 1,
        durability: Durability::Always,
        log_defaults: LogConfig {
            durability: Durability::Always,
            segment_bytes: 256 * 1024,
            ..LogConfig::default()
        },
        retention_check_interval_ms: 3_600_000,
        cleaner_bytes_per_sec: 1 << 30,
        cleaner_dedupe_buffer_bytes: 1 << 20,
    };
    let disk = DiskConfig {
        min_free_bytes,
        min_free_percent: 0.0,
        check_interval: Duration::from_millis(50),
    };
    Broker::open_with_disk(config, disk).expect("open broker")
}

/// One record whose value starts with its sequence number, padded to 8 KiB.
fn append(p: &Partition, seq: u64) -> Result<i64, BrokerError> {
    let mut value = format!("{seq:08}").into_bytes();
    value.resize(8 * 1024, b'.');
    let record = NewRecord {
        key: Some(Bytes::from(format!("k{seq}"))),
        value: Some(Bytes::from(value)),
        ..Default::default()
    };
    p.append_records(&[record]).map(|r| r.base_offset)
}

/// Appends until the first error; returns how many were acknowledged and the error.
fn fill(p: &Partition, from: u64) -> (u64, BrokerError) {
    let mut seq = from;
    loop {
        match append(p, seq) {
            Ok(offset) => assert_eq!(offset, seq as i64, "offsets follow acknowledgements"),
            Err(e) => return (seq, e),
        }
        seq += 1;
        assert!(seq < 100_000, "the disk never filled");
    }
}

/// Sequence numbers of every record from offset 0 to the high watermark.
fn read_seqs(p: &Partition) -> Vec<u64> {
    let mut seqs = Vec::new();
    let mut at = 0;
    while at < p.high_watermark() {
        let r = p.read(at, 1 << 20).expect("read acknowledged data");
        let records = decode_records(&r.records).expect("decode");
        assert!(
            !records.is_empty(),
            "empty read below the high watermark at {at}"
        );
        let from = at;
        for rec in records.into_iter().filter(|r| r.offset >= from) {
            assert_eq!(rec.offset, at, "contiguous offsets");
            let value = rec.value.expect("a value");
            let seq = std::str::from_utf8(&value[..8])
                .expect("utf-8")
                .parse()
                .expect("seq");
            seqs.push(seq);
            at += 1;
        }
    }
    seqs
}

/// Every acknowledged record (0..acked) is there, in order; one more (the append that
/// failed part-way, never acknowledged) may follow.
fn assert_all_acked(p: &Partition, acked: u64) -> u64 {
    let seqs = read_seqs(p);
    let n = seqs.len() as u64;
    assert!(n == acked || n == acked + 1, "{n} records, {acked} acked");
    assert!(seqs.iter().copied().eq(0..n), "in order without gaps");
    n
}

/// Waits (generously) until `cond` holds.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn low_space_refuses_early_and_resumes_without_restart() {
    let Some(fs) = Tmpfs::mount("4m") else { return };
    let dir = fs.path.join("data");
    let broker = open(&dir, 1 << 20);
    broker
        .create_topic("t", 1, &Default::default())
        .expect("create");
    let p = broker.partition("t", 0).expect("partition");
    let (acked, err) = fill(&p, 0);
    match err {
        BrokerError::InsufficientSpace {
            free_bytes,
            min_free_bytes,
        } => assert!(free_bytes < min_free_bytes + 9000 && min_free_bytes == 1 << 20),
        other => panic!("expected an early InsufficientSpace refusal, got {other:?}"),
    }
    assert!(acked > 100, "only {acked} appends fit in 3 MiB");
    assert!(
        !p.is_poisoned(),
        "refused before writing: nothing to reopen"
    );
    let status = broker.storage_status();
    assert!(!status.accepts_writes());
    assert!(status
        .reason()
        .is_some_and(|r| r.contains("below the minimum")));
    assert!(status.refused_appends >= 1);
    assert!(matches!(
        append(&p, acked),
        Err(BrokerError::InsufficientSpace { .. })
    ));

    fs.resize("16m");
    wait_until("the disk check sees the space", || {
        broker.storage_status().accepts_writes()
    });
    append(&p, acked).expect("append after space came back, without a restart");
    assert_eq!(assert_all_acked(&p, acked + 1), acked + 1);

    broker.shutdown().expect("clean shutdown");
    drop((p, broker));
    let broker = open(&dir, 1 << 20);
    let p = broker.partition("t", 0).expect("partition");
    assert_eq!(
        assert_all_acked(&p, acked + 1),
        acked + 1,
        "after a restart"
    );
    broker.shutdown().expect("clean shutdown");
}

#[test]
fn enospc_poisons_then_the_partition_reopens_by_itself() {
    let Some(fs) = Tmpfs::mount("2m") else { return };
    let dir = fs.path.join("data");
    // No early refusal: the disk really fills and a write fails with ENOSPC.
    let broker = open(&dir, 0);
    broker
        .create_topic("t", 1, &Default::default())
        .expect("create");
    let p = broker.partition("t", 0).expect("partition");
    let (acked, err) = fill(&p, 0);
    match &err {
        BrokerError::Log(LogError::Io { source, .. }) => {
            assert_eq!(source.raw_os_error(), Some(libc::ENOSPC), "{source}")
        }
        other => panic!("expected ENOSPC, got {other:?}"),
    }
    assert!(acked > 50, "only {acked} appends fit in 2 MiB");
    // (With a minimum of 0 the check may reopen the log on the still-full disk; nothing is
    // appended meanwhile, so the state in between is not asserted.)
    fs.resize("16m");
    wait_until("the poisoned partition is reopened", || {
        let s = broker.storage_status();
        s.accepts_writes() && s.poisoned_partitions == 0 && s.reopened_partitions >= 1
    });
    let n = assert_all_acked(&p, acked);
    let offset = append(&p, n).expect("append after the reopen, without a restart");
    assert_eq!(offset, n as i64, "appends continue at the recovered end");
    assert_eq!(assert_all_acked(&p, n + 1), n + 1);

    broker.shutdown().expect("clean shutdown");
    drop((p, broker));
    let broker = open(&dir, 0);
    let p = broker.partition("t", 0).expect("partition");
    assert_eq!(assert_all_acked(&p, n + 1), n + 1, "after a restart");
    broker.shutdown().expect("clean shutdown");
}
