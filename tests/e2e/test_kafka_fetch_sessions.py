"""Fetch sessions (KIP-227) with a real client that uses them: kafka-python >= 2.1 (installed
apart by tests/install-deps.sh into tests/e2e/.kafka-python-sessions, since the suite's
kafka-python 2.0.2 has no sessions) consumes many partitions while records arrive, through
incremental fetches (pausing some partitions for a while), and gets every record exactly once
and in order; with read_committed it gets the committed transactions only. The server's
`strom_kafka_fetches_total` shows the fetches were incremental, and the client's own session
bookkeeping (kp_session_consumer.py) shows the server honoured the session: no incremental
answer repeated an unchanged partition or named one the client had forgotten. One server for
the module."""

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from confluent_kafka import Producer

from conftest import Strom
from kafka_support import create_topic, write_config

HERE = Path(__file__).resolve().parent
KAFKA_PYTHON = Path(os.environ.get("KAFKA_PYTHON_SESSIONS", HERE / ".kafka-python-sessions"))
PARTITIONS = 24


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    s = Strom(tmp_path_factory.mktemp("fsess") / "data").start()
    yield s
    s.stop()


def session_consumer(server, topic, count, isolation, pause=0):
    """kp_session_consumer.py in a session; `pause` seconds of a quarter of the partitions."""
    assert (KAFKA_PYTHON / "kafka").is_dir(), f"run tests/install-deps.sh: no {KAFKA_PYTHON}"
    env = {**os.environ, "PYTHONPATH": str(KAFKA_PYTHON)}
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "kp_session_consumer.py"), server.bootstrap, topic,
         str(PARTITIONS), str(count), isolation, "1", str(pause)],
        stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def finish(proc):
    """The records the consumer got, and its `session` counts (kp_session_consumer.py)."""
    out, _ = proc.communicate(timeout=90)
    result = json.loads(out.strip().splitlines()[-1])
    assert tuple(int(x) for x in result["version"].split(".")[:2]) >= (2, 1), result["version"]
    return result["records"], result["session"]


def assert_session_kept(session):
    """The server answered each incremental fetch with changed partitions only, and never
    with one the client had forgotten (the client would have closed the session)."""
    assert session["incremental"] >= 5, session
    assert session["unchanged"] == 0, f"incremental answers repeated unchanged partitions: {session}"
    assert session["rejected"] == 0, f"the client rejected answers (a forgotten partition?): {session}"


def fetches(server, session):
    text = urllib.request.urlopen(f"{server.http}/metrics", timeout=10).read().decode()
    m = re.search(r'^strom_kafka_fetches_total\{session="%s"\} (\S+)$' % session, text, re.M)
    return float(m.group(1)) if m else 0.0


def test_incremental_fetches_deliver_every_record_once_in_order(server):
    create_topic(server.bootstrap, "sessions", PARTITIONS)
    before = fetches(server, "incremental")
    total = 240
    # A quarter of the partitions is paused for a second while records arrive: the client
    # forgets them from its session meanwhile, and must get nothing of them until it resumes.
    proc = session_consumer(server, "sessions", total, "read_uncommitted", pause=1.0)
    producer = Producer({"bootstrap.servers": server.bootstrap, "linger.ms": 0})
    # Records trickle in over a few rounds, a few partitions at a time, so most fetches of
    # the session carry changes for only some partitions.
    for i in range(total):
        producer.produce("sessions", str(i).encode(), partition=(i * 7) % PARTITIONS)
        if i % 40 == 39:
            producer.flush(10)
            time.sleep(0.3)
    producer.flush(10)
    records, session = finish(proc)
    print("session", session)
    assert sorted(int(v) for _, _, v in records) == list(range(total))
    by_partition = {}
    for partition, offset, _ in records:
        by_partition.setdefault(partition, []).append(offset)
    for partition, offsets in by_partition.items():
        assert offsets == list(range(len(offsets))), f"partition {partition}: {offsets}"
    assert fetches(server, "incremental") - before >= 5, "the consumer fetched in a session"
    assert session["forgotten"] >= PARTITIONS // 4, session
    assert_session_kept(session)


def test_read_committed_session_skips_aborted_transactions(server):
    create_topic(server.bootstrap, "txn-sessions", PARTITIONS)
    producer = Producer({"bootstrap.servers": server.bootstrap,
                         "transactional.id": "fsess-txn", "linger.ms": 0})
    producer.init_transactions(30)
    proc = session_consumer(server, "txn-sessions", 3 * PARTITIONS, "read_committed")
    expected = []
    for round_no, commit in enumerate((True, False, True, False, True)):
        producer.begin_transaction()
        for p in range(PARTITIONS):
            value = f"{round_no}-{p}"
            producer.produce("txn-sessions", value.encode(), partition=p)
            if commit:
                expected.append(value)
        if commit:
            producer.commit_transaction(30)
        else:
            producer.abort_transaction(30)
        time.sleep(0.3)
    records, session = finish(proc)
    print("session", session)
    assert sorted(v for _, _, v in records) == sorted(expected)
    assert_session_kept(session)



def test_zero_slots_turn_sessions_off(tmp_path):
    config = write_config(tmp_path, max_incremental_fetch_session_cache_slots=0)
    off = Strom(tmp_path / "data", extra_args=["--config", str(config)]).start()
    try:
        create_topic(off.bootstrap, "no-sessions", PARTITIONS)
        proc = session_consumer(off, "no-sessions", 20, "read_uncommitted")
        producer = Producer({"bootstrap.servers": off.bootstrap})
        for i in range(20):
            producer.produce("no-sessions", str(i).encode(), partition=i % PARTITIONS)
        producer.flush(10)
        records, session = finish(proc)
        assert sorted(int(v) for _, _, v in records) == list(range(20))
        assert session["incremental"] == 0, session
        assert fetches(off, "new") >= 2, "the client asked for a session each time"
        assert fetches(off, "incremental") == 0
    finally:
        off.stop()
