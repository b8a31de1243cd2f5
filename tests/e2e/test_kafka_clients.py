"""kafka-python and kafkajs against Strom, and across clients: records produced by one client
(keys, values, headers) are read back identically by the others."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from kafka_support import consume, create_topic

NODE_DIR = Path(__file__).resolve().parent / "node"
needs_kafkajs = pytest.mark.skipif(
    shutil.which("node") is None or not (NODE_DIR / "node_modules" / "kafkajs").exists(),
    reason="kafkajs not installed (tests/install-deps.sh)",
)

RECORDS = [
    {"key": f"key-{i % 4}", "value": f"value {i} ünïcødé ✓", "headers": {"seq": str(i), "origin": "test"}}
    for i in range(25)
] + [{"key": None, "value": "no key", "headers": {}}]


def kafkajs(*args, stdin=None):
    result = subprocess.run(
        ["node", str(NODE_DIR / "kafkajs_client.js"), *args],
        input=stdin, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def kafka_python_produce(bootstrap, topic, records):
    p = KafkaProducer(bootstrap_servers=bootstrap, acks="all",
                      api_version_auto_timeout_ms=10000)
    for r in records:
        p.send(topic, partition=0,
               key=None if r["key"] is None else r["key"].encode(),
               value=r["value"].encode(),
               headers=[(k, v.encode()) for k, v in r["headers"].items()])
    p.flush(timeout=20)
    p.close()


def kafka_python_consume(bootstrap, topic, count):
    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                      consumer_timeout_ms=10000, api_version_auto_timeout_ms=10000)
    c.assign([TopicPartition(topic, 0)])
    c.seek_to_beginning()
    out = []
    for m in c:
        out.append({
            "offset": m.offset,
            "key": None if m.key is None else m.key.decode(),
            "value": m.value.decode(),
            "headers": {k: v.decode() for k, v in m.headers},
        })
        if len(out) == count:
            break
    c.close()
    return out


def confluent_produce(bootstrap, topic, records):
    import confluent_kafka as ck

    # gzip: the one codec every client here decodes without plugins (kafkajs has no zstd).
    p = ck.Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True,
                     "compression.type": "gzip"})
    for r in records:
        p.produce(topic, partition=0, key=r["key"], value=r["value"],
                  headers=list(r["headers"].items()))
    assert p.flush(20) == 0


def confluent_consume(bootstrap, topic, count):
    return [
        {
            "offset": m.offset(),
            "key": None if m.key() is None else m.key().decode(),
            "value": m.value().decode(),
            "headers": {k: v.decode() for k, v in (m.headers() or [])},
        }
        for m in consume(bootstrap, topic, count)
    ]


def strip_offsets(rows):
    return [{k: v for k, v in r.items() if k != "offset"} for r in rows]


def test_kafka_python_round_trip(strom):
    create_topic(strom.bootstrap, "kp")
    kafka_python_produce(strom.bootstrap, "kp", RECORDS)
    got = kafka_python_consume(strom.bootstrap, "kp", len(RECORDS))
    assert strip_offsets(got) == RECORDS
    assert [r["offset"] for r in got] == list(range(len(RECORDS)))


@needs_kafkajs
def test_kafkajs_round_trip(strom):
    create_topic(strom.bootstrap, "js")
    records = [dict(r, partition=0) for r in RECORDS]
    result = kafkajs("produce", strom.bootstrap, "js", stdin=json.dumps(records))
    assert result[0]["errorCode"] == 0
    got = kafkajs("consume", strom.bootstrap, "js", "0", str(len(RECORDS)))
    assert strip_offsets(got) == RECORDS


PRODUCERS = {
    "confluent": confluent_produce,
    "kafka-python": kafka_python_produce,
    "kafkajs": lambda bootstrap, topic, records: kafkajs(
        "produce", bootstrap, topic, stdin=json.dumps([dict(r, partition=0) for r in records])),
}
CONSUMERS = {
    "confluent": confluent_consume,
    "kafka-python": kafka_python_consume,
    "kafkajs": lambda bootstrap, topic, count: kafkajs("consume", bootstrap, topic, "0", str(count)),
}


@needs_kafkajs
@pytest.mark.parametrize("producer", sorted(PRODUCERS))
def test_cross_client(strom, producer):
    topic = f"cross-{producer}"
    create_topic(strom.bootstrap, topic)
    PRODUCERS[producer](strom.bootstrap, topic, RECORDS)
    reads = {name: read(strom.bootstrap, topic, len(RECORDS)) for name, read in CONSUMERS.items()}
    for name, rows in reads.items():
        assert strip_offsets(rows) == RECORDS, f"{producer} -> {name}"
        assert [r["offset"] for r in rows] == list(range(len(RECORDS))), f"{producer} -> {name}"
