//! Internal topics (`__consumer_offsets`, `__transaction_state`, `__strom_*`) are the
//! broker's own state: clients cannot create, write, delete, trim, reconfigure or grow them,
//! while reads and the broker's own stores (the group coordinator) keep working.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::{config, record};
use strom_broker::group::{BrokerStorage, GroupStorage};
use strom_broker::{encode_records, Broker, BrokerError, ClientOperation, CONSUMER_OFFSETS};

fn refused<T>(result: Result<T, BrokerError>, operation: ClientOperation) {
    match result {
        Err(BrokerError::InternalTopic { operation: op, .. }) => assert_eq!(op, operation),
        Err(other) => panic!("expected a refused {operation}, got {other}"),
        Ok(_) => panic!("expected a refused {operation}, got success"),
    }
}

#[test]
fn clients_cannot_create_internal_topics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::open(config(dir.path())).expect("open");
    let none = BTreeMap::new();
    for name in ["__consumer_offsets", "__transaction_state", "__strom_users"] {
        refused(broker.create_topic(name, 1, &none), ClientOperation::Create);
        refused(
            broker.validate_new_topic(name, 1, &none),
            ClientOperation::Create,
        );
        assert!(broker.topic(name).is_none());
    }
    broker
        .create_topic("__not_reserved", 1, &none)
        .expect("a user topic");
}

#[test]
fn clients_cannot_change_the_offsets_topic_but_can_read_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let broker = Broker::open(config(dir.path())).expect("open");
    let storage = BrokerStorage::open(Arc::clone(&broker), 2).expect("offsets topic");
    storage
        .append(0, &[record("committed")])
        .expect("the coordinator writes");

    let p = broker.partition(CONSUMER_OFFSETS, 0).expect("partition");
    let mut batch = encode_records(&[record("x")]).expect("encode").to_vec();
    refused(p.append_batch(&mut batch), ClientOperation::Write);
    refused(p.append_records(&[record("x")]), ClientOperation::Write);
    refused(p.delete_records_before(1), ClientOperation::DeleteRecords);
    refused(
        broker.delete_topic(CONSUMER_OFFSETS),
        ClientOperation::Delete,
    );
    refused(
        broker.alter_topic_config(
            CONSUMER_OFFSETS,
            &[("retention.ms".into(), Some("1".into()))],
        ),
        ClientOperation::AlterConfig,
    );
    refused(
        broker.create_partitions(CONSUMER_OFFSETS, 5),
        ClientOperation::CreatePartitions,
    );

    assert_eq!(p.high_watermark(), 1, "only the coordinator's record");
    assert_eq!(p.log_start_offset(), 0);
    assert_eq!(
        broker
            .topic(CONSUMER_OFFSETS)
            .expect("kept")
            .partition_count(),
        2
    );
    let read = p.read(0, 1 << 20).expect("clients may read");
    assert!(!read.records.is_empty());
    assert_eq!(storage.read_all(0).expect("replay").len(), 1);
}
