//! Disk errors: a directory that cannot be created, a read-only file system, a full disk and
//! a file-size limit. Each must surface as a typed `LogError::Io` naming a path under the log
//! directory (never a panic), poison the log for writes until it is reopened, and leave
//! every acknowledged batch readable after the reopen.
//!
//! Read-only and full-disk cases use a private tmpfs mount when the tests run as root (where
//! chmod does not stop anything); the file-size-limit case runs in a child process under
//! `RLIMIT_FSIZE` and needs no privileges.

mod common;

use std::ffi::CString;
use std::io::{BufRead, BufReader};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{split_batches, with_base_offset, writer_batch, writer_of};
use strom_log::{Durability, Log, LogConfig, LogError};

const CHILD: &str = env!("CARGO_BIN_EXE_strom-log-crash-child");

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

fn assert_io_under(err: &LogError, root: &Path) {
    match err {
        LogError::Io { path, .. } => assert!(
            path.starts_with(root),
            "Io error path {path:?} is not under {root:?}"
        ),
        other => panic!("expected LogError::Io under {root:?}, got {other:?}"),
    }
}

/// All batches from offset 0, checked to be writer-7 batches in sequence order.
fn read_checked(log: &Log) -> Vec<u64> {
    let hw = log.high_watermark();
    let mut at = log.log_start_offset();
    let mut seqs = Vec::new();
    while at < hw {
        let r = log.read(at, 1 << 20).expect("read acknowledged data");
        let batches = split_batches(&r.bytes).expect("whole batches");
        assert!(!batches.is_empty(), "empty read below HW");
        for p in &batches {
            assert_eq!(p.base_offset, at, "contiguous offsets");
            let bytes = &r.bytes[p.start..p.end];
            let (w, seq) = writer_of(bytes).expect("a generated batch");
            let want = with_base_offset(&writer_batch(w, seq), p.base_offset);
            assert!(bytes == &want[..], "batch at {at} intact");
            seqs.push(seq);
            at = p.last_offset() + 1;
        }
    }
    for (i, s) in seqs.iter().enumerate() {
        assert_eq!(*s, i as u64, "sequence without gaps");
    }
    seqs
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A private tmpfs mounted on a temporary directory, lazily unmounted on drop.
struct Tmpfs {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

impl Tmpfs {
    /// `None` when mounting is not permitted here (not root, or no CAP_SYS_ADMIN).
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().to_path_buf();
        let t = Tmpfs { _dir: dir, path };
        t.call(0, &format!("size={size}")).then_some(t)
    }
    fn remount(&self, opts: &str, read_only: bool) {
        let flags = libc::MS_REMOUNT | if read_only { libc::MS_RDONLY } else { 0 };
        assert!(self.call(flags, opts), "remount {opts} ro={read_only}");
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

#[test]
fn open_below_a_regular_file_is_a_typed_io_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("not-a-dir");
    std::fs::write(&file, b"x").expect("write file");
    let dir = file.join("p0");
    match Log::open(&dir, config(1 << 20)) {
        Err(e) => assert_io_under(&e, &file),
        Ok(_) => panic!("opened a log below a regular file"),
    }
}

#[test]
fn open_on_a_regular_file_is_a_typed_io_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("p0");
    std::fs::write(&file, b"x").expect("write file");
    match Log::open(&file, config(1 << 20)) {
        Err(e) => assert_io_under(&e, &file),
        Ok(_) => panic!("opened a log on a regular file"),
    }
    assert_eq!(std::fs::read(&file).expect("read"), b"x", "file untouched");
}

#[test]
fn open_in_proc_is_a_typed_io_error() {
    let dir = Path::new("/proc/strom-forbidden/p0");
    match Log::open(dir, config(1 << 20)) {
        Err(e) => assert_io_under(&e, Path::new("/proc")),
        Ok(_) => panic!("opened a log under /proc"),
    }
}

#[test]
fn read_only_directory_fails_cleanly_and_data_survives() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mount = if is_root() {
        match Tmpfs::mount("16m") {
            Some(m) => Some(m),
            None => {
                eprintln!("skipping: root but cannot mount tmpfs");
                return;
            }
        }
    } else {
        None
    };
    let root = mount
        .as_ref()
        .map(|m| m.path.clone())
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let dir = root.join("p0");
    {
        let log = Log::open(&dir, config(8 * 1024)).expect("open");
        for seq in 0..30 {
            log.append(&mut writer_batch(7, seq)).expect("append");
        }
        log.close().expect("close");
    }
    let set_read_only = |ro: bool| match &mount {
        Some(m) => m.remount("size=16m", ro),
        None => {
            use std::os::unix::fs::PermissionsExt;
            let mode = if ro { 0o555 } else { 0o755 };
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).expect("chmod");
            for e in std::fs::read_dir(&dir).expect("list") {
                let p = e.expect("entry").path();
                let mode = if ro { 0o444 } else { 0o644 };
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).expect("chmod");
            }
        }
    };
    set_read_only(true);
    // Either open refuses with a typed error, or it opens and refuses writes; reads of what
    // is there keep working in the second case.
    match Log::open(&dir, config(8 * 1024)) {
        Err(e) => {
            eprintln!("read-only: open refused: {e}");
            assert_io_under(&e, &dir)
        }
        Ok(log) => {
            eprintln!("read-only: opened, checking reads and a refused append");
            assert_eq!(read_checked(&log).len(), 30);
            match log.append(&mut writer_batch(7, 30)) {
                Err(e @ LogError::Io { .. }) => assert_io_under(&e, &dir),
                Err(LogError::Poisoned(_)) => {}
                other => panic!("append on a read-only fs: {other:?}"),
            }
            assert_eq!(read_checked(&log).len(), 30, "reads still work");
        }
    }
    set_read_only(false);
    let log = Log::open(&dir, config(8 * 1024)).expect("reopen when writable again");
    assert_eq!(read_checked(&log).len(), 30, "all data survived");
    let end = log.log_end_offset();
    let info = log
        .append(&mut writer_batch(7, 30))
        .expect("append works again");
    assert_eq!(info.base_offset, end, "appends continue at the old end");
}

/// Appends until the first failure; returns (acknowledged count, first error, next result).
fn fill(log: &Log) -> (u64, LogError, Result<strom_log::AppendInfo, LogError>) {
    let mut seq = 0;
    loop {
        match log.append(&mut writer_batch(7, seq)) {
            Ok(_) => seq += 1,
            Err(e) => {
                let next = log.append(&mut writer_batch(7, seq));
                return (seq, e, next);
            }
        }
        assert!(seq < 100_000, "the disk never filled");
    }
}

#[test]
fn full_disk_poisons_the_log_until_reopen_and_loses_nothing() {
    if !is_root() {
        eprintln!(
            "skipping: needs root for a tmpfs; see file_size_limit_* for the unprivileged case"
        );
        return;
    }
    let Some(mount) = Tmpfs::mount("256k") else {
        eprintln!("skipping: cannot mount tmpfs");
        return;
    };
    let dir = mount.path.join("p0");
    let log = match Log::open(&dir, config(48 * 1024)) {
        Ok(log) => log,
        Err(e) => panic!("open on a 256 KiB tmpfs: {e:?} (are index files preallocated huge?)"),
    };
    let (acked, first, next) = fill(&log);
    assert!(
        acked > 10,
        "some appends fit before the disk filled: {acked}"
    );
    assert_io_under(&first, &dir);
    if let LogError::Io { source, .. } = &first {
        assert_eq!(
            source.raw_os_error(),
            Some(libc::ENOSPC),
            "ENOSPC: {source}"
        );
    }
    match next {
        Err(LogError::Poisoned(p)) => assert_eq!(p, dir, "Poisoned names the log dir"),
        other => panic!("append after a failed write: expected Poisoned, got {other:?}"),
    }
    // Making room does not un-poison a live log: the kernel may have dropped pages.
    mount.remount("size=16m", false);
    match log.append(&mut writer_batch(7, acked)) {
        Err(LogError::Poisoned(_)) => {}
        other => panic!("append with room again but not reopened: {other:?}"),
    }
    drop(log);
    let log = Log::open(&dir, config(48 * 1024)).expect("reopen after the disk was freed");
    let seqs = read_checked(&log);
    // The failed append may have reached the file completely (e.g. only its index entry
    // failed); then it is a valid batch that was never acknowledged, allowed at the end.
    assert!(
        seqs.len() as u64 == acked || seqs.len() as u64 == acked + 1,
        "{} batches after reopen, {acked} acknowledged",
        seqs.len()
    );
    let n = seqs.len() as u64;
    log.append(&mut writer_batch(7, n))
        .expect("appends work after reopen");
    assert_eq!(read_checked(&log).len() as u64, n + 1);
}

#[test]
fn file_size_limit_poisons_the_log_until_reopen_and_loses_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("p0");
    let out = Command::new(CHILD)
        .args([
            "fill",
            &dir.display().to_string(),
            &(300 * 1024).to_string(),
        ])
        .arg((1u64 << 30).to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("run child");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "child failed ({}): {stderr}",
        out.status
    );
    let lines: Vec<String> = BufReader::new(&out.stdout[..])
        .lines()
        .map(|l| l.expect("utf-8 line"))
        .collect();
    let acked = lines.iter().filter(|l| l.starts_with("ack ")).count() as u64;
    let line = |p: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(p))
            .cloned()
            .unwrap_or_else(|| panic!("no {p} line in {lines:?}\n{stderr}"))
    };
    let err1 = line("err1 ");
    let err2 = line("err2 ");
    let read = line("read ");
    assert!(acked > 10, "some appends fit under the limit: {acked}");
    assert!(
        err1.starts_with("err1 Io") && err1.contains(&dir.display().to_string()),
        "first failure is Io naming a file in the log: {err1}"
    );
    assert!(
        err1.contains("File too large") || err1.contains("27"),
        "EFBIG: {err1}"
    );
    assert!(err2.starts_with("err2 Poisoned"), "then Poisoned: {err2}");
    assert!(read.starts_with("read ok"), "reads still work: {read}");

    let log = Log::open(&dir, config(1 << 30)).expect("reopen without the limit");
    let seqs = read_checked(&log);
    assert!(
        seqs.len() as u64 == acked || seqs.len() as u64 == acked + 1,
        "{} batches after reopen, {acked} acknowledged",
        seqs.len()
    );
    let n = seqs.len() as u64;
    log.append(&mut writer_batch(7, n))
        .expect("append after reopen");
}
