"""`strom group list|describe` against a running server (over its HTTP API, like every client
subcommand): states, members of a Kafka consumer group with their partitions, committed offsets
and lag."""

import subprocess
import time

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from conftest import strom_binary


def cli(strom, *args):
    result = subprocess.run(
        [strom_binary(), "group", *args, "--server", strom.http],
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_group_list_and_describe_show_lag(strom):
    admin = AdminClient({"bootstrap.servers": strom.bootstrap})
    for future in admin.create_topics([NewTopic("t", 2, 1)]).values():
        future.result(timeout=10)
    producer = Producer({"bootstrap.servers": strom.bootstrap})
    for i in range(20):
        producer.produce("t", value=b"x", partition=i % 2)
    assert producer.flush(10) == 0

    member = Consumer({"bootstrap.servers": strom.bootstrap, "group.id": "live", "auto.offset.reset": "earliest",
                       "enable.auto.commit": False, "session.timeout.ms": 6000})
    member.subscribe(["t"])
    deadline = time.time() + 60
    while not member.assignment():
        assert time.time() < deadline, "the member never got an assignment"
        member.poll(0.2)
    member.commit(offsets=[TopicPartition("t", 0, 3), TopicPartition("t", 1, 10)], asynchronous=False)
    standalone = Consumer({"bootstrap.servers": strom.bootstrap, "group.id": "solo"})
    standalone.commit(offsets=[TopicPartition("t", 0, 4)], asynchronous=False)
    standalone.close()
    try:
        listed = [line.split() for line in cli(strom, "list").splitlines()[1:]]
        assert ["live", "Stable", "consumer"] in listed
        assert ["solo", "Empty"] in listed

        described = cli(strom, "describe", "live")
        assert "state Stable" in described
        rows = {tuple(line.split()[:5]) for line in described.splitlines()}
        assert ("t", "0", "3", "10", "7") in rows
        assert ("t", "1", "10", "10", "0") in rows
        assert "t[0, 1]" in described, "the member's partitions"
        assert "/127.0.0.1" in described, "the member's host"
    finally:
        member.close()
