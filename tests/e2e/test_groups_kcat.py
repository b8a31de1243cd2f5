"""kcat's balanced consumer (`-G`): two kcat members of one group split the partitions of a
topic between them and together read every record once."""

import shutil
import signal
import subprocess
import time

import pytest
from confluent_kafka import ConsumerGroupState, Producer
from confluent_kafka.admin import AdminClient, NewTopic


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat not installed")
def test_kcat_balanced_consumers_split_a_topic(strom, tmp_path):
    admin = AdminClient({"bootstrap.servers": strom.bootstrap})
    for future in admin.create_topics([NewTopic("logs", 4, 1)]).values():
        future.result(timeout=10)

    outputs = [tmp_path / f"kcat{i}.out" for i in range(2)]
    procs = [
        subprocess.Popen(
            ["kcat", "-b", strom.bootstrap, "-G", "kcat-group", "-q", "-u", "-f", "%p %s\\n",
             "-X", "auto.offset.reset=earliest", "-X", "session.timeout.ms=6000", "logs"],
            stdout=open(out, "w"),
            stderr=subprocess.DEVNULL,
        )
        for out in outputs
    ]
    try:
        # Both must have joined before anything is produced, or a late join could move a
        # partition after its first reader had already read (but not yet committed) it.
        deadline = time.time() + 30
        while time.time() < deadline:
            group = admin.describe_consumer_groups(["kcat-group"])["kcat-group"].result(timeout=10)
            assigned = [m for m in group.members if m.assignment.topic_partitions]
            if group.state == ConsumerGroupState.STABLE and len(assigned) == 2:
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the two kcat members did not both get partitions")
        producer = Producer({"bootstrap.servers": strom.bootstrap})
        for i in range(200):
            producer.produce("logs", value=f"v{i}".encode(), partition=i % 4)
        assert producer.flush(30) == 0

        def read():
            return [line.split() for out in outputs for line in out.read_text().splitlines() if line]

        deadline = time.time() + 30
        while len(read()) < 200 and time.time() < deadline:
            time.sleep(0.2)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()

    values = sorted(v for _, v in read())
    assert values == sorted(f"v{i}" for i in range(200))
    partitions = [
        {int(p) for p, _ in (line.split() for line in out.read_text().splitlines() if line)} for out in outputs
    ]
    assert all(partitions), "both members got a share"
    assert not partitions[0] & partitions[1], "no partition read by both"
