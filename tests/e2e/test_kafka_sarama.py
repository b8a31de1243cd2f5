"""A Go client against Strom: Debian's Sarama 1.22.1 (golang-github-shopify-sarama-dev), built
with GO111MODULE=off against the packaged sources and `Version = V2_1_0_0`, so it speaks v2
record batches. Produce (every codec Sarama has), consume every partition from the oldest offset,
and a consumer group whose commits (OffsetCommit v2: Sarama 1.22 sends v1 without a retention,
and Kafka 4.0 dropped v0-v1 as Strom does) are read back by another client. Sarama 1.22 writes
-1 as each batch's max timestamp; Strom raises it to the records' highest, as Kafka does. The client is
tests/e2e/go/sarama_client.go; its binary is cached by source hash under ~/.cache/strom/go."""

import json
import subprocess
import time
from pathlib import Path

import confluent_kafka as ck
import pytest

from go_build import build, sarama_available
from kafka_support import consume, create_topic

SOURCE = Path(__file__).parent / "go" / "sarama_client.go"

pytestmark = pytest.mark.skipif(
    not sarama_available(), reason="go or Debian's Sarama missing (tests/install-deps.sh)"
)


@pytest.fixture(scope="module")
def sarama_bin():
    return build(SOURCE)


def run(sarama_bin, *args, timeout=120):
    result = subprocess.run(
        [sarama_bin, *map(str, args)], capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def expected(count):
    return {(f"k-{i}", f"v-{i}") for i in range(count)}


@pytest.mark.parametrize("codec", ["none", "gzip", "snappy", "lz4", "zstd"])
def test_sarama_produce_then_consume(strom, sarama_bin, codec):
    topic = f"sarama-{codec}"
    create_topic(strom.bootstrap, topic, partitions=3)
    acks = run(sarama_bin, "produce", strom.bootstrap, topic, 300, codec)
    assert len(acks) == 300
    # Every acknowledged (partition, offset) is distinct: offsets come back from the broker.
    assert len({(a["p"], a["o"]) for a in acks}) == 300
    assert {a["p"] for a in acks} == {0, 1, 2}
    records = run(sarama_bin, "consume", strom.bootstrap, topic, 300)
    assert {(r["k"], r["v"]) for r in records} == expected(300)
    assert {(r["p"], r["o"]) for r in records} == {(a["p"], a["o"]) for a in acks}
    # The stored max timestamps are the records' (Sarama sent -1): a time lookup an hour back
    # finds every partition's first record, not its end.
    an_hour_ago = int(time.time() * 1000) - 3_600_000
    c = ck.Consumer({"bootstrap.servers": strom.bootstrap, "group.id": "sarama-times"})
    try:
        found = c.offsets_for_times(
            [ck.TopicPartition(topic, p, an_hour_ago) for p in (0, 1, 2)], timeout=20
        )
    finally:
        c.close()
    assert [tp.offset for tp in found] == [0, 0, 0]
    # And another client reads what Sarama wrote, key for key.
    by_partition = {p: sum(1 for a in acks if a["p"] == p) for p in (0, 1, 2)}
    for p, n in by_partition.items():
        msgs = consume(strom.bootstrap, topic, n, partitions=(p,))
        assert all(m.key().decode().replace("k-", "v-") == m.value().decode() for m in msgs)


def test_sarama_reads_what_librdkafka_wrote(strom, sarama_bin):
    create_topic(strom.bootstrap, "from-rdkafka", partitions=2)
    producer = ck.Producer({"bootstrap.servers": strom.bootstrap, "compression.type": "zstd"})
    for i in range(200):
        producer.produce("from-rdkafka", key=f"k-{i}", value=f"v-{i}", partition=i % 2)
    assert producer.flush(30) == 0
    records = run(sarama_bin, "consume", strom.bootstrap, "from-rdkafka", 200)
    assert {(r["k"], r["v"]) for r in records} == expected(200)


def test_sarama_consumer_group_commits(strom, sarama_bin):
    create_topic(strom.bootstrap, "sarama-group", partitions=4)
    run(sarama_bin, "produce", strom.bootstrap, "sarama-group", 400, "none")
    records = run(sarama_bin, "group", strom.bootstrap, "sarama-group", 400, "go-group")
    assert {(r["k"], r["v"]) for r in records} == expected(400)
    # The group's committed offsets (read by librdkafka) are the end of every partition.
    c = ck.Consumer({"bootstrap.servers": strom.bootstrap, "group.id": "go-group"})
    try:
        parts = [ck.TopicPartition("sarama-group", p) for p in range(4)]
        committed = c.committed(parts, timeout=20)
        ends = [c.get_watermark_offsets(p, timeout=20)[1] for p in parts]
    finally:
        c.close()
    assert [tp.offset for tp in committed] == ends
    assert sum(ends) == 400
    # More records, and the group resumes after its commits: only the new ones arrive.
    run(sarama_bin, "produce", strom.bootstrap, "sarama-group", 40, "none")
    again = run(sarama_bin, "group", strom.bootstrap, "sarama-group", 40, "go-group")
    assert len(again) == 40
    assert all((r["p"], r["o"]) not in {(x["p"], x["o"]) for x in records} for r in again)
