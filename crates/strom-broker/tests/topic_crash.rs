//! Topic create and delete are atomic across a crash: a child process is killed with SIGKILL
//! between each two steps of a create or a delete (the `STROM_TEST_CRASH_AT` hook), and the
//! reopened data directory must hold the topic either fully (every partition, its data, and
//! writable) or not at all, with nothing left in `staging/` or `deleted/`. Also: a create
//! that fails midway (out of open files) leaves nothing, and the broker restarts.

mod common;

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output};

use common::{config, entries, record};
use strom_broker::{decode_records, Broker};

const CHILD: &str = env!("CARGO_BIN_EXE_strom-topic-crash-child");

fn child(dir: &Path, args: &[&str], crash_at: Option<&str>) -> Output {
    let mut cmd = Command::new(CHILD);
    cmd.arg(args[0]).arg(dir).args(&args[1..]);
    cmd.env_remove("STROM_TEST_CRASH_AT");
    if let Some(point) = crash_at {
        cmd.env("STROM_TEST_CRASH_AT", point);
    }
    cmd.output().expect("run the child")
}

fn assert_killed(out: &Output, point: &str) {
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGKILL),
        "the child must die at {point}; stdout {:?} stderr {:?}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn assert_no_leftovers(dir: &Path) {
    assert_eq!(entries(dir, "staging"), Vec::<String>::new(), "staging/");
    assert_eq!(entries(dir, "deleted"), Vec::<String>::new(), "deleted/");
}

/// The topic `t` is fully there (`partitions`, each holding `values` and writable) or absent.
fn check(dir: &Path, present: bool, partitions: i32, values: &[&str], point: &str) {
    let broker = Broker::open(config(dir)).unwrap_or_else(|e| panic!("reopen after {point}: {e}"));
    assert_no_leftovers(dir);
    match broker.topic("t") {
        Some(topic) => {
            assert!(present, "after {point} the topic must be absent");
            assert_eq!(topic.partition_count(), partitions, "after {point}");
            for p in topic.partitions() {
                let read = p.read(0, 1 << 20).expect("read");
                let got: Vec<String> = decode_records(&read.records)
                    .expect("decode")
                    .iter()
                    .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into())
                    .collect();
                assert_eq!(got, values, "partition {} after {point}", p.index());
                p.append_records(&[record("after")]).expect("writable");
            }
        }
        None => {
            assert!(!present, "after {point} the topic must be there");
            assert_eq!(
                entries(dir, "topics"),
                Vec::<String>::new(),
                "after {point}"
            );
            broker
                .create_topic("t", partitions, &BTreeMap::new())
                .unwrap_or_else(|e| panic!("create again after {point}: {e}"));
        }
    }
    broker.shutdown().expect("shutdown");
}

#[test]
fn a_create_killed_at_any_step_leaves_the_topic_fully_there_or_absent() {
    let points = [
        ("create:partitions-staged", false),
        ("create:before-publish", false),
        ("create:published", true),
        ("create:opened", true),
    ];
    for (point, present) in points {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = child(dir.path(), &["create", "t", "3"], Some(point));
        assert_killed(&out, point);
        check(dir.path(), present, 3, &[], point);
    }
}

#[test]
fn a_delete_killed_at_any_step_leaves_the_topic_fully_there_or_absent() {
    for (point, present) in [("delete:before-retire", true), ("delete:retired", false)] {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let broker = Broker::open(config(dir.path())).expect("open");
            let topic = broker
                .create_topic("t", 2, &BTreeMap::new())
                .expect("create");
            for p in topic.partitions() {
                p.append_records(&[record("kept")]).expect("append");
            }
            broker.shutdown().expect("shutdown");
        }
        let out = child(dir.path(), &["delete", "t"], Some(point));
        assert_killed(&out, point);
        check(dir.path(), present, 2, &["kept"], point);
    }
}

#[test]
fn a_create_that_runs_out_of_open_files_leaves_nothing_and_the_broker_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = child(dir.path(), &["create-limited", "t", "2000"], None);
    let answer = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{answer} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // With open files bounded (lazy opening), the create may succeed; either way it is whole.
    let present = answer.starts_with("ok");
    assert!(present || answer.starts_with("error"), "{answer}");
    let broker = Broker::open(config(dir.path())).expect("the broker restarts");
    assert_no_leftovers(dir.path());
    assert_eq!(
        broker.topic("t").is_some(),
        present,
        "child answered {answer}"
    );
    if !present {
        assert_eq!(entries(dir.path(), "topics"), Vec::<String>::new());
        broker
            .create_topic("t", 20, &BTreeMap::new())
            .expect("the same name can be created afterwards");
    }
}
