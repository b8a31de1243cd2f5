//! Every legal Kafka topic name works through create, append, delete and restart, and no
//! topic name can reach the folders the broker uses for itself (`staging/`, `deleted/`).
//! Also: data directories of the previous layout (`topics/.creating-<name>`) still open, and
//! a delete whose rename fails leaves the topic fully there, in memory and on disk.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{config, entries, record};
use strom_broker::{decode_records, Broker, BrokerError};

fn names() -> Vec<String> {
    vec![
        ".creating-orders".to_string(),
        "orders".to_string(),
        ".creating-.creating-x".to_string(),
        "...".to_string(),
        ".hidden".to_string(),
        "staging".to_string(),
        "deleted".to_string(),
        "a".repeat(249),
        format!(".creating-{}", "b".repeat(239)),
        "Mixed.Case_name-1".to_string(),
    ]
}

fn values(broker: &Broker, topic: &str) -> Vec<String> {
    let p = broker.partition(topic, 0).expect("partition");
    let read = p.read(p.log_start_offset(), 1 << 20).expect("read");
    decode_records(&read.records)
        .expect("decode")
        .iter()
        .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
        .collect()
}

fn assert_no_leftovers(dir: &Path) {
    assert_eq!(entries(dir, "staging"), Vec::<String>::new());
    assert_eq!(entries(dir, "deleted"), Vec::<String>::new());
}

#[test]
fn every_legal_name_survives_create_append_restart_and_delete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::open(config(dir.path())).expect("open");
    for name in names() {
        broker
            .create_topic(&name, 2, &BTreeMap::new())
            .unwrap_or_else(|e| panic!("create {name}: {e}"));
        let p = broker.partition(&name, 0).expect("partition");
        p.append_records(&[record(&name)]).expect("append");
    }
    assert_no_leftovers(dir.path());
    broker.shutdown().expect("shutdown");
    drop(broker);

    let broker = Broker::open(config(dir.path())).expect("reopen");
    for name in names() {
        assert_eq!(
            values(&broker, &name),
            vec![name.clone()],
            "{name} after restart"
        );
        assert_eq!(broker.topic(&name).expect("topic").partition_count(), 2);
    }
    for name in names() {
        broker
            .delete_topic(&name)
            .unwrap_or_else(|e| panic!("delete {name}: {e}"));
        assert!(broker.topic(&name).is_none(), "{name} deleted");
    }
    assert_no_leftovers(dir.path());
    assert_eq!(entries(dir.path(), "topics"), Vec::<String>::new());
    broker.shutdown().expect("shutdown");
    drop(broker);

    let broker = Broker::open(config(dir.path())).expect("reopen");
    assert!(broker.topics().is_empty(), "deleted topics stay deleted");
}

#[test]
fn creating_a_topic_never_touches_one_named_like_its_staging_folder() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::open(config(dir.path())).expect("open");
    broker
        .create_topic(".creating-orders2", 1, &BTreeMap::new())
        .expect("create");
    let p = broker.partition(".creating-orders2", 0).expect("partition");
    p.append_records(&[record("kept")]).expect("append");
    broker
        .create_topic("orders2", 1, &BTreeMap::new())
        .expect("create orders2");
    p.append_records(&[record("still kept")])
        .expect("append after");
    broker.shutdown().expect("a clean shutdown");
    drop((p, broker));

    let broker = Broker::open(config(dir.path())).expect("reopen");
    assert_eq!(values(&broker, ".creating-orders2"), ["kept", "still kept"]);
    assert!(broker.topic("orders2").is_some());
}

/// Writes a topic folder as the previous layout did: `topic.json` naming `name`.
fn legacy_folder(dir: &Path, folder: &str, name: Option<&str>) {
    let path = dir.join("topics").join(folder);
    std::fs::create_dir_all(&path).expect("mkdir");
    if let Some(name) = name {
        let meta = serde_json::json!({
            "name": name, "id": "0".repeat(32), "partitions": 1,
            "config": {"overrides": {}},
        });
        std::fs::write(path.join("topic.json"), meta.to_string()).expect("write");
    }
}

#[test]
fn the_previous_layout_opens_and_loses_only_its_staging_leftovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    legacy_folder(dir.path(), ".creating-x", Some(".creating-x"));
    legacy_folder(dir.path(), ".creating-y", Some("y"));
    legacy_folder(dir.path(), ".creating-z", None);
    legacy_folder(dir.path(), "plain", Some("plain"));
    std::fs::create_dir_all(dir.path().join("deleted").join("old-0123")).expect("mkdir");
    let broker = Broker::open(config(dir.path())).expect("open");
    let names: Vec<String> = broker
        .topics()
        .iter()
        .map(|t| t.name().to_string())
        .collect();
    assert_eq!(names, [".creating-x", "plain"]);
    assert_eq!(entries(dir.path(), "topics"), [".creating-x", "plain"]);
    assert_no_leftovers(dir.path());
}

#[test]
fn a_delete_that_cannot_rename_leaves_the_topic_in_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::open(config(dir.path())).expect("open");
    broker
        .create_topic("t", 1, &BTreeMap::new())
        .expect("create");
    broker
        .partition("t", 0)
        .expect("p")
        .append_records(&[record("1")])
        .expect("append");
    // A file where `deleted/` should be: the rename into it fails (even as root).
    let deleted = dir.path().join("deleted");
    std::fs::remove_dir(&deleted).expect("rmdir");
    std::fs::write(&deleted, b"not a folder").expect("write");
    let err = broker.delete_topic("t").expect_err("the rename must fail");
    assert!(matches!(err, BrokerError::Io { .. }), "{err}");
    let p = broker
        .partition("t", 0)
        .expect("still there after a failed delete");
    p.append_records(&[record("2")]).expect("still writable");
    assert_eq!(values(&broker, "t"), ["1", "2"]);
    broker.shutdown().expect("shutdown");
    drop((p, broker));

    std::fs::remove_file(&deleted).expect("rm");
    let broker = Broker::open(config(dir.path())).expect("reopen");
    assert_eq!(values(&broker, "t"), ["1", "2"]);
}
