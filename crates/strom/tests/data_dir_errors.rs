//! `strom serve` with a data directory it cannot use must stop at once with a message naming
//! the directory and exit code 74 (EX_IOERR, as documented in main.rs): no panic, no
//! half-started server.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const STROM: &str = env!("CARGO_BIN_EXE_strom");

/// Runs `strom serve --data-dir <dir>` on ephemeral ports; returns (exit code, stderr).
fn serve_with_data_dir(dir: &Path) -> (Option<i32>, String) {
    let mut child = Command::new(STROM)
        .arg("serve")
        .arg("--data-dir")
        .arg(dir)
        .args([
            "--kafka-listen",
            "127.0.0.1:0",
            "--http-listen",
            "127.0.0.1:0",
        ])
        .env_remove("STROM_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn strom");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().expect("poll strom") {
            let out = child.wait_with_output().expect("collect stderr");
            return (
                status.code(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            );
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collect stderr");
            panic!(
                "strom kept running with data dir {}: {}",
                dir.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn assert_clean_failure(dir: &Path, shown: &str) {
    let (code, stderr) = serve_with_data_dir(dir);
    // main.rs documents sysexits codes: 74 (EX_IOERR) for data directory and disk errors.
    assert_eq!(
        code,
        Some(74),
        "exit code 74 for data dir {shown}; stderr: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "no panic: {stderr}");
    assert!(
        stderr.contains("strom: error:") && stderr.contains(shown),
        "message names the directory {shown}: {stderr}"
    );
}

#[test]
fn data_dir_under_proc_is_refused_cleanly() {
    assert_clean_failure(
        Path::new("/proc/strom-forbidden/data"),
        "/proc/strom-forbidden/data",
    );
}

#[test]
fn data_dir_that_is_a_file_is_refused_cleanly() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("data");
    std::fs::write(&file, b"not a directory").expect("write file");
    assert_clean_failure(&file, &file.display().to_string());
    assert_eq!(
        std::fs::read(&file).expect("read"),
        b"not a directory",
        "file untouched"
    );
}

#[test]
fn data_dir_below_a_file_is_refused_cleanly() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("data");
    std::fs::write(&file, b"x").expect("write file");
    let dir = file.join("sub");
    assert_clean_failure(&dir, &dir.display().to_string());
}
