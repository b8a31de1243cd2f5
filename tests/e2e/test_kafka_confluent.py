"""confluent-kafka (librdkafka) against Strom: idempotent produce with every compression codec,
consume, offsets by timestamp, and the AdminClient topic/config/partition/record APIs."""

import time

import confluent_kafka as ck
import pytest
from confluent_kafka.admin import (
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
)

from kafka_support import admin, consume, create_topic


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_idempotent_produce_and_consume_with_compression(strom, codec):
    topic = f"codec-{codec}"
    create_topic(strom.bootstrap, topic, partitions=2)
    p = ck.Producer({
        "bootstrap.servers": strom.bootstrap,
        "enable.idempotence": True,
        "compression.type": codec,
        "linger.ms": 20,
    })
    sent = {}
    for i in range(300):
        key = f"key-{i % 17}".encode()
        value = (f"{codec} value {i} " * 20).encode()
        p.produce(topic, key=key, value=value, headers=[("n", str(i).encode())])
        sent[str(i)] = (key, value)
    assert p.flush(20) == 0
    got = consume(strom.bootstrap, topic, 300, partitions=(0, 1))
    seen = {}
    for m in got:
        n = dict(m.headers())["n"].decode()
        seen[n] = (m.key(), m.value())
    assert seen == sent
    # Same key, same partition (murmur2), and offsets are dense per partition.
    by_partition = {}
    for m in got:
        by_partition.setdefault(m.partition(), []).append(m.offset())
    for offsets in by_partition.values():
        assert sorted(offsets) == list(range(len(offsets)))


def test_offsets_for_times(strom):
    create_topic(strom.bootstrap, "times")
    p = ck.Producer({"bootstrap.servers": strom.bootstrap, "linger.ms": 0})
    base = int(time.time() * 1000) - 100_000
    for i in range(10):
        p.produce("times", value=str(i).encode(), timestamp=base + i * 1000)
        p.flush(10)
    c = ck.Consumer({"bootstrap.servers": strom.bootstrap, "group.id": "t"})
    try:
        found = c.offsets_for_times([ck.TopicPartition("times", 0, base + 4500)], timeout=10)
        assert found[0].offset == 5
        before = c.offsets_for_times([ck.TopicPartition("times", 0, base - 1)], timeout=10)
        assert before[0].offset == 0
        after = c.offsets_for_times([ck.TopicPartition("times", 0, base + 60_000)], timeout=10)
        assert after[0].offset in (-1, 10)  # "no such record": librdkafka reports the end
        low, high = c.get_watermark_offsets(ck.TopicPartition("times", 0), timeout=10)
        assert (low, high) == (0, 10)
    finally:
        c.close()


def test_consume_from_offset_and_end(strom):
    create_topic(strom.bootstrap, "positions")
    p = ck.Producer({"bootstrap.servers": strom.bootstrap})
    for i in range(10):
        p.produce("positions", value=f"m{i}".encode())
    p.flush(10)
    got = consume(strom.bootstrap, "positions", 3, offset=7)
    assert [m.value() for m in got] == [b"m7", b"m8", b"m9"]
    # From the end: only records produced after assignment arrive.
    c = ck.Consumer({"bootstrap.servers": strom.bootstrap, "group.id": "end",
                     "enable.auto.commit": False})
    try:
        c.assign([ck.TopicPartition("positions", 0, ck.OFFSET_END)])
        deadline = time.time() + 5
        while time.time() < deadline and not c.assignment():
            c.poll(0.1)
        c.poll(1.0)
        p.produce("positions", value=b"late")
        p.flush(10)
        m = None
        deadline = time.time() + 10
        while time.time() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                break
        assert m is not None and m.value() == b"late" and m.offset() == 10
    finally:
        c.close()


def test_admin_create_list_delete_topics(strom):
    a = admin(strom.bootstrap)
    fs = a.create_topics([
        NewTopic("adm-a", 3, 1),
        NewTopic("adm-b", num_partitions=-1, replication_factor=-1),
        NewTopic("adm-c", 1, 1, config={"retention.ms": "3600000", "cleanup.policy": "delete"}),
    ])
    for f in fs.values():
        f.result(timeout=15)
    md = a.list_topics(timeout=10)
    assert len(md.topics["adm-a"].partitions) == 3
    assert len(md.topics["adm-b"].partitions) == 1  # broker default
    # Creating again fails with TOPIC_ALREADY_EXISTS; replication factor 3 is refused.
    again = a.create_topics([NewTopic("adm-a", 1, 1)])["adm-a"]
    with pytest.raises(ck.KafkaException) as err:
        again.result(timeout=15)
    assert err.value.args[0].code() == ck.KafkaError.TOPIC_ALREADY_EXISTS
    rf = a.create_topics([NewTopic("adm-rf", 1, 3)])["adm-rf"]
    with pytest.raises(ck.KafkaException) as err:
        rf.result(timeout=15)
    assert err.value.args[0].code() == ck.KafkaError.INVALID_REPLICATION_FACTOR
    # validate_only creates nothing.
    a.create_topics([NewTopic("adm-dry", 2, 1)], validate_only=True)["adm-dry"].result(timeout=15)
    assert "adm-dry" not in a.list_topics(timeout=10).topics
    for f in a.delete_topics(["adm-a", "adm-b"], operation_timeout=10).values():
        f.result(timeout=15)
    remaining = a.list_topics(timeout=10).topics
    assert "adm-a" not in remaining and "adm-b" not in remaining and "adm-c" in remaining
    missing = a.delete_topics(["never-was"])["never-was"]
    with pytest.raises(ck.KafkaException) as err:
        missing.result(timeout=15)
    assert err.value.args[0].code() == ck.KafkaError.UNKNOWN_TOPIC_OR_PART


def describe_topic_configs(a, topic):
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    return a.describe_configs([res])[res].result(timeout=15)


def test_describe_and_incrementally_alter_topic_configs(strom):
    create_topic(strom.bootstrap, "cfg", config={"retention.ms": "86400000"})
    a = admin(strom.bootstrap)
    configs = describe_topic_configs(a, "cfg")
    for key in ("retention.ms", "retention.bytes", "segment.bytes", "cleanup.policy",
                "max.message.bytes"):
        assert key in configs, key
    assert configs["retention.ms"].value == "86400000"
    assert not configs["retention.ms"].is_default
    assert configs["segment.bytes"].is_default

    res = ConfigResource(ConfigResource.Type.TOPIC, "cfg", incremental_configs=[
        ConfigEntry("retention.ms", "1000", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("retention.bytes", "1048576", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.APPEND),
    ])
    a.incremental_alter_configs([res])[res].result(timeout=15)
    configs = describe_topic_configs(a, "cfg")
    assert configs["retention.ms"].value == "1000"
    assert configs["retention.bytes"].value == "1048576"
    assert set(configs["cleanup.policy"].value.split(",")) == {"delete", "compact"}

    res = ConfigResource(ConfigResource.Type.TOPIC, "cfg", incremental_configs=[
        ConfigEntry("retention.ms", None, incremental_operation=AlterConfigOpType.DELETE),
        ConfigEntry("cleanup.policy", "compact", incremental_operation=AlterConfigOpType.SUBTRACT),
    ])
    a.incremental_alter_configs([res])[res].result(timeout=15)
    configs = describe_topic_configs(a, "cfg")
    assert configs["retention.ms"].is_default
    assert configs["cleanup.policy"].value == "delete"

    bad = ConfigResource(ConfigResource.Type.TOPIC, "cfg", incremental_configs=[
        ConfigEntry("retention.ms", "not-a-number", incremental_operation=AlterConfigOpType.SET),
    ])
    with pytest.raises(ck.KafkaException) as err:
        a.incremental_alter_configs([bad])[bad].result(timeout=15)
    assert err.value.args[0].code() == ck.KafkaError.INVALID_CONFIG


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # AlterConfigs is what is tested
def test_legacy_alter_configs_replaces_overrides(strom):
    create_topic(strom.bootstrap, "legacy", config={"retention.ms": "5000"})
    a = admin(strom.bootstrap)
    res = ConfigResource(ConfigResource.Type.TOPIC, "legacy", set_config={"retention.bytes": "2048"})
    a.alter_configs([res])[res].result(timeout=15)
    configs = describe_topic_configs(a, "legacy")
    assert configs["retention.bytes"].value == "2048"
    assert configs["retention.ms"].is_default


def test_describe_broker_configs_and_cluster(strom):
    a = admin(strom.bootstrap)
    res = ConfigResource(ConfigResource.Type.BROKER, "1")
    configs = a.describe_configs([res])[res].result(timeout=15)
    assert configs["node.id"].value == "1"
    assert configs["num.partitions"].is_read_only
    cluster = a.describe_cluster().result(timeout=15)
    assert [n.id for n in cluster.nodes] == [1]
    assert cluster.controller.id == 1


def test_create_partitions(strom):
    create_topic(strom.bootstrap, "grow", partitions=1)
    a = admin(strom.bootstrap)
    a.create_partitions([NewPartitions("grow", 4)])["grow"].result(timeout=15)
    md = a.list_topics("grow", timeout=10)
    assert len(md.topics["grow"].partitions) == 4
    p = ck.Producer({"bootstrap.servers": strom.bootstrap})
    p.produce("grow", value=b"in three", partition=3)
    assert p.flush(10) == 0
    assert consume(strom.bootstrap, "grow", 1, partitions=(3,))[0].value() == b"in three"
    shrink = a.create_partitions([NewPartitions("grow", 2)])["grow"]
    with pytest.raises(ck.KafkaException) as err:
        shrink.result(timeout=15)
    assert err.value.args[0].code() == ck.KafkaError.INVALID_PARTITIONS


def test_delete_records(strom):
    create_topic(strom.bootstrap, "trim")
    p = ck.Producer({"bootstrap.servers": strom.bootstrap, "linger.ms": 0})
    for i in range(10):
        p.produce("trim", value=f"r{i}".encode())
        p.flush(10)  # one batch per record, so the trim point is exact
    a = admin(strom.bootstrap)
    futs = a.delete_records([ck.TopicPartition("trim", 0, 6)])
    result = list(futs.values())[0].result(timeout=15)
    assert result.low_watermark == 6
    c = ck.Consumer({"bootstrap.servers": strom.bootstrap, "group.id": "trim"})
    try:
        assert c.get_watermark_offsets(ck.TopicPartition("trim", 0), timeout=10) == (6, 10)
    finally:
        c.close()
    got = consume(strom.bootstrap, "trim", 4)
    assert [m.value() for m in got] == [b"r6", b"r7", b"r8", b"r9"]


def test_list_offsets_earliest_latest_and_max_timestamp(strom):
    from confluent_kafka.admin import OffsetSpec

    create_topic(strom.bootstrap, "maxts")
    p = ck.Producer({"bootstrap.servers": strom.bootstrap, "linger.ms": 50})
    base = int(time.time() * 1000) - 100_000
    for i in range(10):
        # Record 6 carries the largest timestamp; all ten share one or two batches.
        p.produce("maxts", value=str(i).encode(), timestamp=base + (50_000 if i == 6 else i))
    assert p.flush(10) == 0
    a = admin(strom.bootstrap)
    tp = ck.TopicPartition("maxts", 0)
    results = {}
    for name, spec in (("earliest", OffsetSpec.earliest()), ("latest", OffsetSpec.latest()),
                       ("max", OffsetSpec.max_timestamp())):
        results[name] = list(a.list_offsets({tp: spec}).values())[0].result(timeout=15)
    assert results["earliest"].offset == 0
    assert results["latest"].offset == 10
    assert results["max"].offset == 6
    assert results["max"].timestamp == base + 50_000
