"""kcat's balanced consumer (`-G`): two kcat members of one group split the partitions of a
topic between them and together read every record once."""

import shutil
import signal
import subprocess
import time

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic


@pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat not installed")
def test_kcat_balanced_consumers_split_a_topic(strom, tmp_path):
    admin = AdminClient({"bootstrap.servers": strom.bootstrap})
    for future in admin.create_topics([NewTopic("logs", 4, 1)]).values():
        future.result(timeout=10)

    outputs = [tmp_path / f"kcat{i}.out" for i in range(2)]
    procs = [
        subprocess.Popen(
            ["kcat", "-b", strom.bootstrap, "-G", "kcat-group", "-q", "-f", "%p %s\\n",
             "-X", "auto.offset.reset=earliest", "-X", "session.timeout.ms=6000", "logs"],
            stdout=open(out, "w"),
            stderr=subprocess.DEVNULL,
        )
        for out in outputs
    ]
    try:
        # Let both join before producing, so both get a share.
        time.sleep(5)
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
