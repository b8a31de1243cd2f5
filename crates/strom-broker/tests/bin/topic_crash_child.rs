//! Child process of `tests/topic_crash.rs`: opens a broker on a data directory and creates or
//! deletes one topic. Run with `STROM_TEST_CRASH_AT=<point>` it kills itself with SIGKILL at
//! that step; `create-limited` first lowers its open-file limit so the create fails midway.
//!
//! Usage: `strom-topic-crash-child create|create-limited|delete <dir> <topic> [partitions]`
//! Prints `ok` or `error <message>` on success or failure of the operation.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use strom_broker::{Broker, BrokerConfig};

fn config(dir: PathBuf) -> BrokerConfig {
    BrokerConfig {
        data_dir: dir,
        node_id: 1,
        auto_create_topics: false,
        default_partitions: 1,
        durability: strom_log::Durability::Always,
        log_defaults: strom_log::LogConfig {
            durability: strom_log::Durability::Always,
            ..Default::default()
        },
        retention_check_interval_ms: 60_000,
        cleaner_bytes_per_sec: 100 << 20,
        cleaner_dedupe_buffer_bytes: 1 << 20,
    }
}

fn limit_open_files(max: u64) -> Result<(), String> {
    let limit = libc::rlimit {
        rlim_cur: max,
        rlim_max: max,
    };
    // SAFETY: setrlimit with a valid, initialised struct has no memory-safety preconditions.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(format!("setrlimit: {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

fn run(args: &[String]) -> Result<String, String> {
    let (op, dir, topic) = match args {
        [_, op, dir, topic, ..] => (op.as_str(), PathBuf::from(dir), topic.as_str()),
        _ => return Err("usage: create|create-limited|delete <dir> <topic> [partitions]".into()),
    };
    let partitions = args
        .get(4)
        .map(|p| p.parse::<i32>().map_err(|e| e.to_string()))
        .transpose()?
        .unwrap_or(1);
    let broker = Broker::open(config(dir)).map_err(|e| format!("open: {e}"))?;
    let result = match op {
        "create" => broker
            .create_topic(topic, partitions, &BTreeMap::new())
            .map(|_| ()),
        "create-limited" => {
            limit_open_files(64)?;
            broker
                .create_topic(topic, partitions, &BTreeMap::new())
                .map(|_| ())
        }
        "delete" => broker.delete_topic(topic),
        other => return Err(format!("unknown operation {other}")),
    };
    let answer = match result {
        Ok(()) => "ok".to_string(),
        Err(e) => format!("error {e}"),
    };
    broker.shutdown().map_err(|e| format!("shutdown: {e}"))?;
    Ok(answer)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    match run(&args) {
        Ok(answer) => {
            println!("{answer}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("topic-crash-child: {e}");
            ExitCode::from(2)
        }
    }
}
