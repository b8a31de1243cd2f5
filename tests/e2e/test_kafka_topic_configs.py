"""Kafka admin parity (issue 12): every standard topic config is accepted with Kafka's
validation; those meaningful on one node are honoured (LogAppendTime, timestamp bounds,
min.insync.replicas); DescribeConfigs returns synonyms and documentation; KIP-467 per-record
errors reach librdkafka. Clients: confluent-kafka (librdkafka) and kafka-python."""

import time

import confluent_kafka as ck
import pytest
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic
from kafka.protocol.api import Request, Response
from kafka.protocol.types import Array, Boolean, Int8, Int16, Int32, Schema, String

from kafka_support import Wire, admin, consume, create_topic

# Every topic config of Kafka 4.x with a non-default but valid value.
EVERY_CONFIG = {
    "cleanup.policy": "delete",
    "compression.gzip.level": "5",
    "compression.lz4.level": "10",
    "compression.type": "producer",
    "compression.zstd.level": "7",
    "delete.retention.ms": "1000",
    "file.delete.delay.ms": "1000",
    "flush.messages": "1000",
    "flush.ms": "1000",
    "follower.replication.throttled.replicas": "*",
    "index.interval.bytes": "8192",
    "leader.replication.throttled.replicas": "0:1",
    "local.retention.bytes": "-2",
    "local.retention.ms": "-2",
    "max.compaction.lag.ms": "100000",
    "max.message.bytes": "2000000",
    "message.timestamp.after.max.ms": "7200000",
    "message.timestamp.before.max.ms": "86400000000",
    "message.timestamp.type": "CreateTime",
    "min.cleanable.dirty.ratio": "0.25",
    "min.compaction.lag.ms": "10",
    "min.insync.replicas": "1",
    "preallocate": "true",
    "remote.log.copy.disable": "false",
    "remote.log.delete.on.disable": "false",
    "remote.storage.enable": "false",
    "retention.bytes": "100000000",
    "retention.ms": "100000000",
    "segment.bytes": "10000000",
    "segment.index.bytes": "100000",
    "segment.jitter.ms": "10",
    "segment.ms": "100000000",
    "unclean.leader.election.enable": "true",
}


def create_result(a, topic, config):
    futures = a.create_topics([NewTopic(topic, 1, 1, config=config)])
    try:
        futures[topic].result(timeout=15)
        return None
    except ck.KafkaException as e:
        return e.args[0]


def describe(a, topic):
    res = ConfigResource(ConfigResource.Type.TOPIC, topic)
    return a.describe_configs([res])[res].result(timeout=15)


def test_every_kafka_topic_config_is_accepted_and_described(strom):
    a = admin(strom.bootstrap)
    assert create_result(a, "every", EVERY_CONFIG) is None
    configs = describe(a, "every")
    for key, value in EVERY_CONFIG.items():
        assert configs[key].value == value, key
        assert not configs[key].is_default, key
    # Kafka 3.x's message.format.version is accepted and ignored.
    assert create_result(a, "legacy-format", {"message.format.version": "0.10.0"}) is None
    # Strom's reserved schema-validation extensions.
    assert create_result(a, "ext", {"confluent.value.schema.validation": "true"}) is None
    # Unknown names and values Kafka's validation refuses stay errors.
    for bad in [{"no.such.config": "1"}, {"compression.type": "brotli"},
                {"min.insync.replicas": "0"}, {"message.timestamp.type": "Wall"},
                {"preallocate": "maybe"}, {"compression.zstd.level": "99"},
                {"remote.storage.enable": "true"}]:
        err = create_result(a, "bad-config", bad)
        assert err is not None and err.code() == ck.KafkaError.INVALID_CONFIG, bad
    # IncrementalAlterConfigs takes the same names.
    res = ConfigResource(ConfigResource.Type.TOPIC, "every", incremental_configs=[
        ConfigEntry("compression.type", "zstd", incremental_operation=AlterConfigOpType.SET),
        ConfigEntry("preallocate", None, incremental_operation=AlterConfigOpType.DELETE),
    ])
    a.incremental_alter_configs([res])[res].result(timeout=15)
    configs = describe(a, "every")
    assert configs["compression.type"].value == "zstd"
    assert configs["preallocate"].is_default and configs["preallocate"].value == "false"


class DescribeConfigsResponse_v3(Response):
    """Written from Kafka's DescribeConfigsResponse.json (v3 adds type and documentation)."""
    API_KEY = 32
    API_VERSION = 3
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("results", Array(
            ("error_code", Int16), ("error_message", String("utf-8")),
            ("resource_type", Int8), ("resource_name", String("utf-8")),
            ("configs", Array(
                ("name", String("utf-8")), ("value", String("utf-8")), ("read_only", Boolean),
                ("config_source", Int8), ("is_sensitive", Boolean),
                ("synonyms", Array(("name", String("utf-8")), ("value", String("utf-8")),
                                   ("source", Int8))),
                ("config_type", Int8), ("documentation", String("utf-8")))))))


class DescribeConfigsRequest_v3(Request):
    API_KEY = 32
    API_VERSION = 3
    RESPONSE_TYPE = DescribeConfigsResponse_v3
    SCHEMA = Schema(
        ("resources", Array(("resource_type", Int8), ("resource_name", String("utf-8")),
                            ("configuration_keys", Array(String("utf-8"))))),
        ("include_synonyms", Boolean), ("include_documentation", Boolean))


def test_describe_configs_synonyms_and_documentation(strom):
    create_topic(strom.bootstrap, "syn", config={"retention.ms": "5000"})
    wire = Wire(int(strom.bootstrap.rsplit(":", 1)[1]))
    try:
        request = DescribeConfigsRequest_v3(
            resources=[(2, "syn", ["retention.ms", "compression.type"])],
            include_synonyms=True, include_documentation=True)
        wire.send(request)
        _, response = wire.recv(request)
    finally:
        wire.close()
    (_code, _msg, _type, _name, entries), = response.results
    by_name = {e[0]: e for e in entries}
    # name, value, read_only, source, sensitive, synonyms, type, documentation
    retention = by_name["retention.ms"]
    assert retention[1] == "5000"
    synonyms = [(s[0], s[1], s[2]) for s in retention[5]]
    assert synonyms[0] == ("retention.ms", "5000", 1)  # TOPIC_CONFIG
    assert synonyms[1][0] == "log.retention.ms" and synonyms[1][2] == 5  # DEFAULT_CONFIG
    assert retention[6] == 5  # LONG
    assert "segments are deleted" in retention[7]
    compression = by_name["compression.type"]
    assert compression[1] == "producer" and compression[6] == 2  # STRING
    assert compression[7]


def produce_one(bootstrap, topic, acks="all", timestamp=None, value=b"v"):
    p = ck.Producer({"bootstrap.servers": bootstrap, "acks": acks,
                     "enable.idempotence": False, "retries": 0, "message.timeout.ms": 15000})
    results = []
    kwargs = {"timestamp": timestamp} if timestamp is not None else {}
    p.produce(topic, value=value, on_delivery=lambda err, msg: results.append(err), **kwargs)
    assert p.flush(20) == 0
    return results[0]


def test_log_append_time_stamps_the_broker_time(strom):
    create_topic(strom.bootstrap, "lat", config={"message.timestamp.type": "LogAppendTime"})
    old = 1_500_000_000_000
    before = int(time.time() * 1000)
    assert produce_one(strom.bootstrap, "lat", timestamp=old) is None
    after = int(time.time() * 1000)
    (m,) = consume(strom.bootstrap, "lat", 1)
    kind, ts = m.timestamp()
    assert kind == ck.TIMESTAMP_LOG_APPEND_TIME
    assert before - 1000 <= ts <= after + 1000, (before, ts, after)


def test_timestamp_bounds_refuse_out_of_range_create_times(strom):
    create_topic(strom.bootstrap, "bounds", config={
        "message.timestamp.before.max.ms": "60000", "message.timestamp.after.max.ms": "60000"})
    now = int(time.time() * 1000)
    err = produce_one(strom.bootstrap, "bounds", timestamp=now - 3_600_000)
    assert err is not None and err.code() == ck.KafkaError.INVALID_TIMESTAMP, err
    err = produce_one(strom.bootstrap, "bounds", timestamp=now + 3_600_000)
    assert err is not None and err.code() == ck.KafkaError.INVALID_TIMESTAMP, err
    assert produce_one(strom.bootstrap, "bounds", timestamp=now) is None


def test_min_insync_replicas_fails_acks_all_only(strom):
    create_topic(strom.bootstrap, "isr", config={"min.insync.replicas": "2"})
    err = produce_one(strom.bootstrap, "isr", acks="all")
    assert err is not None and err.code() == ck.KafkaError.NOT_ENOUGH_REPLICAS, err
    assert produce_one(strom.bootstrap, "isr", acks="1") is None
    a = admin(strom.bootstrap)
    res = ConfigResource(ConfigResource.Type.TOPIC, "isr", incremental_configs=[
        ConfigEntry("min.insync.replicas", None, incremental_operation=AlterConfigOpType.DELETE)])
    a.incremental_alter_configs([res])[res].result(timeout=15)
    assert produce_one(strom.bootstrap, "isr", acks="all") is None


def test_per_record_errors_kip467(strom):
    """librdkafka 0011's case: a batch of 100 with 10 keyless records on a compacted topic is
    refused whole; the keyless ones fail with INVALID_RECORD, the others with the
    "different record" error that record_errors make librdkafka report."""
    create_topic(strom.bootstrap, "kip467", config={"cleanup.policy": "compact"})
    p = ck.Producer({"bootstrap.servers": strom.bootstrap, "linger.ms": 2000,
                     "batch.num.messages": 1000, "enable.idempotence": False, "retries": 0})
    errors = {}
    for i in range(100):
        key = None if i % 10 == 0 else f"k{i}".encode()
        p.produce("kip467", key=key, value=b"v", partition=0,
                  on_delivery=lambda err, msg, i=i: errors.__setitem__(i, err))
    assert p.flush(30) == 0
    assert len(errors) == 100
    invalid = sorted(i for i, e in errors.items() if e and e.code() == ck.KafkaError.INVALID_RECORD)
    assert invalid == list(range(0, 100, 10)), errors
    others = {e.code() for i, e in errors.items() if i % 10}
    assert others == {ck.KafkaError._INVALID_DIFFERENT_RECORD}, errors
