"""kafkajs consumer groups on Strom's group coordinator: two kafkajs members of one group split
a topic's partitions, read every record exactly once, and their commits are the group's
offsets as any other client sees them."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from confluent_kafka import Consumer, TopicPartition

from kafka_support import create_topic

NODE_DIR = Path(__file__).resolve().parent / "node"
PARTITIONS = 4
COUNT = 200


@pytest.mark.skipif(
    shutil.which("node") is None or not (NODE_DIR / "node_modules" / "kafkajs").exists(),
    reason="kafkajs not installed (tests/install-deps.sh)",
)
def test_kafkajs_group_members_split_a_topic_and_commit(strom):
    create_topic(strom.bootstrap, "jsgroup", partitions=PARTITIONS)
    result = subprocess.run(
        ["node", str(NODE_DIR / "kafkajs_client.js"), "group", strom.bootstrap, "jsgroup",
         "js-members", str(COUNT)],
        capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr
    members = json.loads(result.stdout)["members"]
    assignments = [m["assignment"] for m in members]
    assert all(assignments), assignments
    assert sorted(p for a in assignments for p in a) == list(range(PARTITIONS)), assignments
    # Each member read only its own partitions, and together every record exactly once.
    for m in members:
        assert {r["partition"] for r in m["records"]} <= set(m["assignment"]), m["assignment"]
    records = [r for m in members for r in m["records"]]
    assert sorted(r["value"] for r in records) == sorted(f"g{i}" for i in range(COUNT))
    per_partition = COUNT // PARTITIONS
    for p in range(PARTITIONS):
        assert sorted(r["offset"] for r in records if r["partition"] == p) == list(range(per_partition))
    # The commits are the group's offsets for any client.
    c = Consumer({"bootstrap.servers": strom.bootstrap, "group.id": "js-members"})
    try:
        committed = c.committed([TopicPartition("jsgroup", p) for p in range(PARTITIONS)], timeout=20)
    finally:
        c.close()
    assert [tp.offset for tp in committed] == [per_partition] * PARTITIONS
