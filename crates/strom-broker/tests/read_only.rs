//! A read-only data directory at the broker level. Linux refuses to remount a file system
//! read-only while files on it are open for writing (EBUSY), so a running server meets a
//! read-only disk in two ways, both tested here:
//! - remounted read-only while the server was stopped: the broker starts degraded — cleanly
//!   closed logs open read-only and serve reads, appends are refused with `ReadOnlyStorage`,
//!   a log that needs recovery leaves its topic closed — and once the file system is
//!   remounted read-write the disk check reopens everything from disk and writes resume;
//! - the kernel's emergency read-only (ext4 `errors=remount-ro`, triggered on a loop device):
//!   writes are refused with `ReadOnlyStorage`, the status says read-only, reads keep working,
//!   nothing panics, and after an unmount and remount every acknowledged record is there.
//!   (An emergency read-only mount ends only with an unmount, so a restart.)
//!
//! Needs root; see `common_disk` for `STROM_REQUIRE_ROOT_TESTS`.

mod common_disk;

use std::path::Path;
use std::process::Command;

use common_disk::{
    append, assert_all_acked, broker_config, disk_config, open, open_with, root_required, Tmpfs,
};
use strom_broker::{BrokerError, DiskState};
use strom_log::LogError;

fn os_error(err: &BrokerError) -> Option<i32> {
    match err {
        BrokerError::Io { source, .. } | BrokerError::Log(LogError::Io { source, .. }) => {
            source.raw_os_error()
        }
        _ => None,
    }
}

#[test]
fn read_only_at_start_serves_reads_refuses_writes_and_resumes_when_writable() {
    let Some(fs) = Tmpfs::mount("16m") else {
        return;
    };
    let dir = fs.path.join("data");
    let broker = open(&dir, 0);
    broker
        .create_topic("t", 1, &Default::default())
        .expect("create");
    let p = broker.partition("t", 0).expect("partition");
    for seq in 0..20 {
        append(&p, seq).expect("append");
    }
    broker.shutdown().expect("clean shutdown");
    drop((p, broker));

    assert!(fs.remount_read_only("size=16m"), "remount ro");
    let broker = open_with(broker_config(&dir), disk_config(0))
        .expect("a read-only data directory starts degraded");
    let status = broker.storage_status();
    assert_eq!(status.state, DiskState::ReadOnly, "{status:?}");
    assert!(status.reason().is_some_and(|r| r.contains("read-only")));
    let p = broker.partition("t", 0).expect("partition");
    assert_eq!(assert_all_acked(&p, 20), 20, "reads are served");
    match append(&p, 20) {
        Err(BrokerError::ReadOnlyStorage) => {}
        other => panic!("append on a read-only data directory: {other:?}"),
    }
    // Writable again: the disk check reopens the partition from disk, writes resume.
    fs.resize("16m");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let offset = loop {
        match append(&p, 20) {
            Ok(offset) => break offset,
            Err(e) => assert!(
                std::time::Instant::now() < deadline,
                "writes never resumed: {e}"
            ),
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(offset, 20);
    assert_eq!(assert_all_acked(&p, 21), 21);
    broker.shutdown().expect("clean shutdown");
    drop((p, broker));
    let broker = open(&dir, 0);
    let p = broker.partition("t", 0).expect("partition");
    assert_eq!(
        assert_all_acked(&p, 21),
        21,
        "nothing lost across the restart"
    );
    broker.shutdown().expect("clean shutdown");
}

/// A read-only directory that never held Strom's layout (an empty volume mounted read-only):
/// the broker starts with no topics instead of exiting, refuses topic creation clearly, and
/// once writable creates its folders, keeps the cluster id it announced, and takes topics.
#[test]
fn fresh_read_only_directory_starts_empty_and_sets_up_when_writable() {
    let Some(fs) = Tmpfs::mount("16m") else {
        return;
    };
    let dir = fs.path.join("data");
    std::fs::create_dir_all(&dir).expect("data dir");
    assert!(fs.remount_read_only("size=16m"), "remount ro");
    let broker = open_with(broker_config(&dir), disk_config(0))
        .expect("an empty read-only data directory starts degraded");
    assert!(broker.topics().is_empty());
    assert_eq!(broker.storage_status().state, DiskState::ReadOnly);
    match broker.create_topic("t", 1, &Default::default()) {
        Err(BrokerError::ReadOnlyStorage) => {}
        other => panic!(
            "create on a read-only data directory: {:?}",
            other.map(|_| ())
        ),
    }
    let announced = broker.cluster_id().to_string();
    fs.resize("16m");
    assert_eq!(broker.check_storage().state, DiskState::Writable);
    broker
        .create_topic("t", 1, &Default::default())
        .expect("create once writable");
    let p = broker.partition("t", 0).expect("partition");
    append(&p, 0).expect("append");
    broker.shutdown().expect("clean shutdown");
    drop((p, broker));
    let broker = open(&dir, 0);
    assert_eq!(
        broker.cluster_id(),
        announced,
        "the announced cluster id stays"
    );
    let p = broker.partition("t", 0).expect("partition");
    assert_eq!(assert_all_acked(&p, 1), 1);
    broker.shutdown().expect("clean shutdown");
}

#[test]
fn read_only_start_leaves_a_log_needing_recovery_closed_until_writable() {
    let Some(fs) = Tmpfs::mount("16m") else {
        return;
    };
    let dir = fs.path.join("data");
    let broker = open(&dir, 0);
    broker
        .create_topic("clean", 1, &Default::default())
        .expect("create");
    broker
        .create_topic("crashed", 1, &Default::default())
        .expect("create");
    for name in ["clean", "crashed"] {
        let p = broker.partition(name, 0).expect("partition");
        for seq in 0..5 {
            append(&p, seq).expect("append");
        }
    }
    broker.shutdown().expect("clean shutdown");
    drop(broker);
    // As after a crash: no clean-shutdown marker, so opening needs a rescan that writes.
    let marker = dir.join("topics/crashed/0/.clean-shutdown");
    std::fs::remove_file(&marker).expect("remove the marker");

    assert!(fs.remount_read_only("size=16m"), "remount ro");
    let broker = open_with(broker_config(&dir), disk_config(0))
        .expect("a read-only data directory starts degraded");
    assert!(broker.partition("crashed", 0).is_err(), "needs recovery");
    let p = broker
        .partition("clean", 0)
        .expect("clean partition served");
    assert_eq!(assert_all_acked(&p, 5), 5);
    let status = broker.storage_status();
    assert_eq!(status.unavailable_topics, 1, "{status:?}");
    assert!(status
        .reason()
        .is_some_and(|r| r.contains("1 topic(s) unavailable")));

    fs.resize("16m");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let crashed = loop {
        if let Ok(p) = broker.partition("crashed", 0) {
            break p;
        }
        assert!(std::time::Instant::now() < deadline, "never opened");
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(assert_all_acked(&crashed, 5), 5);
    assert_eq!(append(&crashed, 5).expect("append"), 5);
    assert_eq!(broker.storage_status().unavailable_topics, 0);
    broker.shutdown().expect("clean shutdown");
}

/// A 32 MiB ext4 image mounted on a loop device with `errors=remount-ro`; unmounted on drop.
struct Ext4 {
    _dir: tempfile::TempDir,
    image: std::path::PathBuf,
    path: std::path::PathBuf,
}

fn run(cmd: &str, args: &[&str]) -> bool {
    match Command::new(cmd).args(args).output() {
        Ok(out) if out.status.success() => true,
        Ok(out) => {
            eprintln!("{cmd} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            false
        }
        Err(e) => {
            eprintln!("{cmd}: {e}");
            false
        }
    }
}

impl Ext4 {
    fn mount() -> Option<Ext4> {
        let dir = tempfile::tempdir().expect("tempdir");
        let image = dir.path().join("fs.img");
        let path = dir.path().join("mnt");
        std::fs::create_dir(&path).expect("mkdir");
        let file = std::fs::File::create(&image).expect("image");
        file.set_len(32 << 20).expect("size image");
        let s = |p: &Path| p.display().to_string();
        let ok = run("mkfs.ext4", &["-q", "-F", &s(&image)])
            && run(
                "mount",
                &["-o", "loop,errors=remount-ro", &s(&image), &s(&path)],
            );
        if ok {
            return Some(Ext4 {
                _dir: dir,
                image,
                path,
            });
        }
        assert!(
            !root_required(),
            "cannot mount ext4 on a loop device (STROM_REQUIRE_ROOT_TESTS=1)"
        );
        eprintln!("NOT RUN: cannot mount ext4 on a loop device; run as root to test it");
        None
    }

    /// Makes ext4 report an error, which remounts it read-only at once (files stay open).
    fn trigger_error(&self) {
        let out = Command::new("findmnt")
            .args(["-n", "-o", "SOURCE", &self.path.display().to_string()])
            .output()
            .expect("findmnt");
        let source = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let dev = Path::new(&source)
            .file_name()
            .expect("a device")
            .to_string_lossy()
            .to_string();
        std::fs::write(format!("/sys/fs/ext4/{dev}/trigger_fs_error"), "1")
            .expect("trigger an ext4 error");
    }

    fn remount_fresh(&self) {
        let (img, mnt) = (
            self.image.display().to_string(),
            self.path.display().to_string(),
        );
        assert!(run("umount", &[&mnt]), "umount");
        // Clears the error flag ext4 left in the superblock (exit 1 means "fixed").
        let _ = run("e2fsck", &["-fy", &img]);
        assert!(
            run("mount", &["-o", "loop,errors=remount-ro", &img, &mnt]),
            "mount again"
        );
    }
}

impl Drop for Ext4 {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).output();
    }
}

#[test]
fn emergency_read_only_refuses_writes_clearly_and_keeps_reads() {
    let Some(fs) = Ext4::mount() else { return };
    let dir = fs.path.join("data");
    let broker = open(&dir, 0);
    broker
        .create_topic("t", 1, &Default::default())
        .expect("create");
    let p = broker.partition("t", 0).expect("partition");
    for seq in 0..20 {
        append(&p, seq).expect("append");
    }
    fs.trigger_error();
    // The first write may fail with EROFS itself (poisoning the log); from then on the
    // guard refuses every write up front.
    if let Err(e) = append(&p, 20) {
        assert!(
            matches!(e, BrokerError::ReadOnlyStorage) || os_error(&e) == Some(libc::EROFS),
            "{e:?}"
        );
    } else {
        panic!("append on a read-only file system succeeded");
    }
    assert!(matches!(append(&p, 20), Err(BrokerError::ReadOnlyStorage)));
    let status = broker.storage_status();
    assert_eq!(status.state, DiskState::ReadOnly);
    assert!(status.reason().is_some_and(|r| r.contains("read-only")));
    // A disk check keeps it that way: the mount flags may still say read-write (ext4's
    // emergency read-only), but its probe file cannot be created.
    assert_eq!(broker.check_storage().state, DiskState::ReadOnly);
    assert!(matches!(append(&p, 20), Err(BrokerError::ReadOnlyStorage)));
    assert_eq!(assert_all_acked(&p, 20), 20, "reads keep working");
    // A clean shutdown cannot write its marker: an error, not a panic.
    let _ = broker.shutdown();
    drop((p, broker));

    fs.remount_fresh();
    let broker = open(&dir, 0);
    let p = broker.partition("t", 0).expect("partition");
    assert_eq!(assert_all_acked(&p, 20), 20, "every acknowledged record");
    let n = assert_all_acked(&p, 20);
    assert_eq!(append(&p, n).expect("append after the remount"), n as i64);
    broker.shutdown().expect("clean shutdown");
}
