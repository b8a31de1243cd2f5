//! Compaction and idempotent producers: the broker rebuilds producer state from batch headers
//! after an unclean stop, so compaction must not remove the only batch that records where a
//! producer's sequence stands. Kafka keeps each producer's last batch (header) for exactly
//! this reason. Also: the broker's cleaner honours the topic's compaction configs.

#[path = "../../strom-log/tests/common_compaction/mod.rs"]
mod common_compaction;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use common_compaction::{encode_batch, plain_batch, read_all, Put};
use kafka_protocol::records::Compression;
use strom_broker::{Broker, BrokerConfig};
use strom_log::{Durability, LogConfig};

fn open(dir: &Path) -> Arc<Broker> {
    Broker::open(BrokerConfig {
        data_dir: dir.to_path_buf(),
        node_id: 1,
        auto_create_topics: false,
        default_partitions: 1,
        durability: Durability::Never,
        log_defaults: LogConfig {
            durability: Durability::Never,
            ..LogConfig::default()
        },
        // The test drives the cleaner itself.
        retention_check_interval_ms: 3_600_000,
        cleaner_bytes_per_sec: 1 << 30,
        cleaner_dedupe_buffer_bytes: 128 << 20,
    })
    .expect("open broker")
}

fn compacted_topic(broker: &Broker, name: &str) {
    let configs: BTreeMap<String, String> = [
        ("cleanup.policy", "compact"),
        ("segment.bytes", "1024"),
        ("min.cleanable.dirty.ratio", "0.01"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    broker
        .create_topic(name, 1, &configs)
        .expect("create topic");
}

/// Producer P writes key `k` (sequence 0), producer Q overwrites `k`, the segment is closed
/// and cleaned, so P's only batch is gone. After a crash P's next batch (sequence 1) must
/// still be accepted, as Kafka does.
fn run(clean_restart: bool) -> Result<(), String> {
    let tmp = tempfile::tempdir().expect("tempdir");
    let broker = open(tmp.path());
    compacted_topic(&broker, "t");
    let p = broker.allocate_producer_id().expect("pid");
    let q = broker.allocate_producer_id().expect("pid");
    let part = broker.partition("t", 0).expect("partition");
    let ts = 1_000;
    part.append_batch(&mut encode_batch(
        &[Put::value("k", "from-p", ts)],
        Some((p, 0, 0)),
        Compression::None,
    ))
    .expect("P seq 0");
    part.append_batch(&mut encode_batch(
        &[Put::value("k", "from-q", ts)],
        Some((q, 0, 0)),
        Compression::None,
    ))
    .expect("Q seq 0");
    // Roll past the records above with filler keys.
    for i in 0..20 {
        part.append_batch(&mut plain_batch(&[Put::value(
            &format!("filler-{i}"),
            &"f".repeat(100),
            ts,
        )]))
        .expect("filler");
    }
    assert!(part.log().segment_count() > 1);
    assert_eq!(broker.clean_logs(None), 1, "the topic is due for cleaning");
    let offsets: Vec<i64> = read_all(&part.log()).iter().map(|g| g.offset).collect();
    assert!(
        !offsets.contains(&0),
        "P's record was compacted away: {offsets:?}"
    );
    drop(part);
    if clean_restart {
        broker.shutdown().expect("shutdown");
    }
    // Without shutdown this is a crash: no producer snapshot, state rebuilt from the log.
    drop(broker);
    let broker = open(tmp.path());
    let part = broker.partition("t", 0).expect("partition");
    let result = part.append_batch(&mut encode_batch(
        &[Put::value("k2", "from-p-again", ts)],
        Some((p, 0, 1)),
        Compression::None,
    ));
    broker.shutdown().expect("shutdown");
    result.map(|_| ()).map_err(|e| e.to_string())
}

#[test]
fn producer_sequence_survives_compaction_and_clean_restart() {
    run(true).expect("P's next sequence after a clean restart");
}

/// Compaction may remove a producer's last batch; the broker snapshots producer state before
/// compacting, so a crash afterwards still knows the producer's last sequence.
#[test]
fn producer_sequence_survives_compaction_and_crash() {
    run(false).expect("P's next sequence after a crash");
}
