//! Child process for the log's crash and disk-error tests; never used by the server.
//!
//! `append <dir> <threads> <first_writer> <segment_bytes> [always|never|always-trim]`: opens
//! the log with that durability (default `always`) and appends from `threads` threads until killed. Each thread is one
//! writer with its own sequence numbers; the batch for (writer, seq) is a pure function of
//! the two (see `common::writer_batch`), so the parent can regenerate every byte. A line
//! `ack <writer> <seq> <base> <last> <fnv>` is printed only after `append` returned Ok.
//! With `always-trim` one more thread keeps advancing the log start offset
//! (`delete_records_before`, deleting segments) and prints `start <n>` once that returned.
//!
//! `fill <dir> <fsize_limit> <segment_bytes>`: same single writer, but under
//! `RLIMIT_FSIZE` with SIGXFSZ ignored, so a write past the limit fails with EFBIG like a
//! full disk would. Prints acks, then `err1 <error>` for the first failure, `err2 <error>`
//! for the append after it, `read <ok|error>` for a read of acknowledged data, and exits 0.

#[path = "../common/mod.rs"]
mod common;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use strom_log::{Durability, Log, LogConfig};

fn config(segment_bytes: u64, durability: Durability) -> LogConfig {
    LogConfig {
        segment_bytes,
        segment_ms: None,
        index_interval_bytes: 4096,
        durability,
        retention_ms: None,
        retention_bytes: None,
        max_batch_bytes: 1 << 20,
        decode: Default::default(),
        compaction: None,
    }
}

/// Prints one line atomically and pushes it into the pipe before returning, so a line the
/// parent reads is never ahead of what the log acknowledged.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    // A closed pipe means the parent is gone; nothing useful is left to do but exit.
    if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
        std::process::exit(3);
    }
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> Result<T, String> {
    args.get(i)
        .ok_or_else(|| format!("missing {what}"))?
        .parse()
        .map_err(|_| format!("bad {what}"))
}

fn append_forever(log: &Log, writer: u32) -> Result<(), String> {
    for seq in 0u64.. {
        let mut batch = common::writer_batch(writer, seq);
        let info = log
            .append(&mut batch)
            .map_err(|e| format!("writer {writer} seq {seq}: {e}"))?;
        say(&format!(
            "ack {writer} {seq} {} {} {:016x}",
            info.base_offset,
            info.last_offset,
            common::fnv1a(&batch)
        ));
    }
    Ok(())
}

fn run_append(args: &[String]) -> Result<(), String> {
    let dir: PathBuf = arg(args, 2, "dir")?;
    let threads: u32 = arg(args, 3, "threads")?;
    let first_writer: u32 = arg(args, 4, "first_writer")?;
    let segment_bytes: u64 = arg(args, 5, "segment_bytes")?;
    let mode = args.get(6).map(String::as_str).unwrap_or("always");
    let (durability, trim) = match mode {
        "always" => (Durability::Always, false),
        "always-trim" => (Durability::Always, true),
        "never" => (Durability::Never, false),
        other => return Err(format!("bad durability {other}")),
    };
    let log = Arc::new(
        Log::open(&dir, config(segment_bytes, durability)).map_err(|e| format!("open: {e}"))?,
    );
    say(&format!("ready {}", log.log_end_offset()));
    if trim {
        let log = Arc::clone(&log);
        std::thread::spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_millis(10));
            // Keep roughly the newest 40 records; the target may fall inside a batch.
            let target = (log.high_watermark() - 40).max(0);
            match log.delete_records_before(target) {
                Ok(start) => say(&format!("start {start}")),
                Err(e) => {
                    eprintln!("crash-child: delete_records_before({target}): {e}");
                    std::process::exit(4);
                }
            }
        });
    }
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || append_forever(&log, first_writer + t))
        })
        .collect();
    for h in handles {
        h.join().map_err(|_| "appender panicked".to_string())??;
    }
    Ok(())
}

fn run_fill(args: &[String]) -> Result<(), String> {
    let dir: PathBuf = arg(args, 2, "dir")?;
    let limit: u64 = arg(args, 3, "fsize_limit")?;
    let segment_bytes: u64 = arg(args, 4, "segment_bytes")?;
    // SAFETY: plain libc calls on this process's own signal disposition and limits,
    // made before any other thread exists.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let lim = libc::rlimit {
            rlim_cur: limit,
            rlim_max: libc::RLIM_INFINITY,
        };
        if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
            return Err("setrlimit failed".into());
        }
    }
    let log = Log::open(&dir, config(segment_bytes, Durability::Always))
        .map_err(|e| format!("open: {e}"))?;
    say(&format!("ready {}", log.log_end_offset()));
    let writer = 1;
    let mut seq = 0u64;
    let first_error = loop {
        let mut batch = common::writer_batch(writer, seq);
        match log.append(&mut batch) {
            Ok(info) => say(&format!(
                "ack {writer} {seq} {} {} {:016x}",
                info.base_offset,
                info.last_offset,
                common::fnv1a(&batch)
            )),
            Err(e) => break e,
        }
        seq += 1;
        if seq > 1_000_000 {
            return Err("the file-size limit never hit".into());
        }
    };
    say(&format!("err1 {first_error:?}"));
    let mut batch = common::writer_batch(writer, seq + 1);
    match log.append(&mut batch) {
        Ok(info) => say(&format!("err2 none: appended at {}", info.base_offset)),
        Err(e) => say(&format!("err2 {e:?}")),
    }
    match log.read(0, 1024) {
        Ok(r) => say(&format!("read ok {}", r.bytes.len())),
        Err(e) => say(&format!("read error {e:?}")),
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("append") => run_append(&args),
        Some("fill") => run_fill(&args),
        _ => Err("usage: strom-log-crash-child append|fill ...".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("crash-child: {e}");
            ExitCode::from(2)
        }
    }
}
