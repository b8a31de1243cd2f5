//! Helpers for the disk tests: a private tmpfs (root only), a broker with a disk guard, and
//! appends and reads of numbered records that check every acknowledged record is there.
#![allow(dead_code)]

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use strom_broker::{
    decode_records, Broker, BrokerConfig, BrokerError, DiskConfig, NewRecord, Partition,
};
use strom_log::{Durability, LogConfig};

/// Whether root-only tests must run (CI): then a failed mount fails the test.
pub fn root_required() -> bool {
    std::env::var("STROM_REQUIRE_ROOT_TESTS").as_deref() == Ok("1")
}

/// A private tmpfs on a temporary directory, lazily unmounted on drop.
pub struct Tmpfs {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl Tmpfs {
    /// `None` (after saying why) when mounting is not permitted here and root tests are not
    /// required; a panic when they are.
    pub fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().to_path_buf();
        let t = Tmpfs { _dir: dir, path };
        if t.call(0, &format!("size={size}")) {
            return Some(t);
        }
        let err = std::io::Error::last_os_error();
        if root_required() {
            panic!("cannot mount a tmpfs ({err}) but STROM_REQUIRE_ROOT_TESTS=1");
        }
        eprintln!("NOT RUN: cannot mount a tmpfs ({err}); run as root to test a full disk");
        None
    }

    pub fn resize(&self, size: &str) {
        assert!(
            self.call(libc::MS_REMOUNT, &format!("size={size}")),
            "remount size={size}: {}",
            std::io::Error::last_os_error()
        );
    }

    pub fn call(&self, flags: libc::c_ulong, opts: &str) -> bool {
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

    /// Remounts read-only. A file still open for writing makes the kernel answer EBUSY; the
    /// broker's background threads let go of theirs shortly after it is dropped, so EBUSY is
    /// retried until a generous deadline.
    #[allow(dead_code)] // used by read_only.rs only
    pub fn remount_read_only(&self, opts: &str) -> bool {
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if self.call(libc::MS_REMOUNT | libc::MS_RDONLY, opts) {
                return true;
            }
            let busy = std::io::Error::last_os_error().raw_os_error() == Some(libc::EBUSY);
            if !busy || Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
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

pub fn broker_config(dir: &Path) -> BrokerConfig {
    BrokerConfig {
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
    }
}

pub fn disk_config(min_free_bytes: u64) -> DiskConfig {
    DiskConfig {
        min_free_bytes,
        min_free_percent: 0.0,
        check_interval: Duration::from_millis(50),
    }
}

/// A broker on `dir` (`fsync = always`, 256 KiB segments) whose disk check runs every 50 ms.
pub fn open(dir: &Path, min_free_bytes: u64) -> Arc<Broker> {
    open_with(broker_config(dir), disk_config(min_free_bytes)).expect("open broker")
}

/// `Broker::open_with_disk`, waiting while the data directory's lock is still held by this
/// process. The tests of one binary run on parallel threads and start `mount` and friends;
/// a child started between a broker's drop and the next open holds a copy of the lock's file
/// descriptor until it execs, which under load can take long enough for the reopen to see
/// the directory as in use. A real restart is a new process and never meets this.
pub fn open_with(config: BrokerConfig, disk: DiskConfig) -> Result<Arc<Broker>, BrokerError> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match Broker::open_with_disk(config.clone(), disk.clone()) {
            Err(BrokerError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::ResourceBusy
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20))
            }
            other => return other,
        }
    }
}

/// One record whose value starts with its sequence number, padded to 8 KiB.
pub fn append(p: &Partition, seq: u64) -> Result<i64, BrokerError> {
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
pub fn fill(p: &Partition, from: u64) -> (u64, BrokerError) {
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
pub fn read_seqs(p: &Partition) -> Vec<u64> {
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
pub fn assert_all_acked(p: &Partition, acked: u64) -> u64 {
    let seqs = read_seqs(p);
    let n = seqs.len() as u64;
    assert!(n == acked || n == acked + 1, "{n} records, {acked} acked");
    assert!(seqs.iter().copied().eq(0..n), "in order without gaps");
    n
}

/// Waits (generously) until `cond` holds.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}
