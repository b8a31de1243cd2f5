"""Burrow 1.2.1 (Debian's `burrow`, with Debian's ZooKeeper for its own coordination) against
the real binary, configured with the newest `kafka-version` it accepts (2.1.0): it lists the
topic, reads the group's commits from `__consumer_offsets` (Kafka's value format) and its
lag endpoint reports, per partition and in total, exactly the real backlog (log end minus
committed offset), also after more records arrive and after a new commit, with each
partition's owner (the member's host) decoded from the group metadata record."""

import json
import shutil
import socket
import subprocess
import time
import urllib.request

import confluent_kafka as ck

from conftest import free_port, wait_for_port
from kafka_support import create_topic

ZOOKEEPER_CLASSPATH = "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar"
TOPIC, GROUP = "lagged", "lag-group"


def start_zookeeper(tmp_path):
    port = free_port()
    cfg = tmp_path / "zoo.cfg"
    cfg.write_text(f"tickTime=2000\ndataDir={tmp_path / 'zk'}\nclientPort={port}\n"
                   "clientPortAddress=127.0.0.1\nadmin.enableServer=false\n"
                   "4lw.commands.whitelist=srvr\n")
    log = open(tmp_path / "zookeeper.log", "wb")
    proc = subprocess.Popen(["java", "-Xmx128m", "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                             "-cp", ZOOKEEPER_CLASSPATH,
                             "org.apache.zookeeper.server.ZooKeeperServerMain", str(cfg)],
                            stdout=log, stderr=subprocess.STDOUT)
    wait_for_port(port, proc, timeout=60)
    deadline = time.time() + 60
    # `srvr` shows a mode only once the server serves requests (`ruok` answers earlier).
    while b"Mode:" not in (zk_answer(port, b"srvr") or b""):
        assert time.time() < deadline and proc.poll() is None, "ZooKeeper did not start"
        time.sleep(0.5)
    return proc, port


def zk_answer(port, word):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(word)
            return s.recv(4096)
    except OSError:
        return None


def burrow_config(tmp_path, strom, zk_port, http_port):
    servers = f'["{strom.bootstrap}"]'
    (tmp_path / "burrow.toml").write_text(f"""
[general]
pidfile="{tmp_path / 'burrow.pid'}"
[logging]
level="debug"
[zookeeper]
servers=["127.0.0.1:{zk_port}"]
timeout=6
root-path="/burrow"
[client-profile.strom]
client-id="burrow"
kafka-version="2.1.0"
[cluster.strom]
class-name="kafka"
servers={servers}
client-profile="strom"
topic-refresh=2
offset-refresh=2
[consumer.strom]
class-name="kafka"
cluster="strom"
servers={servers}
client-profile="strom"
offsets-topic="__consumer_offsets"
start-latest=false
[httpserver.default]
address="127.0.0.1:{http_port}"
[storage.default]
class-name="inmemory"
workers=4
intervals=10
expire-group=604800
min-distance=1
""")


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return json.load(r)
    except OSError:
        return None


def wait_lag(url, expected, timeout=90):
    """Waits until Burrow reports `expected` lag per partition, each partition owned by the
    member (its host, from the group metadata record)."""
    deadline, last = time.time() + timeout, None
    while time.time() < deadline:
        last = get(url)
        status = (last or {}).get("status") or {}
        parts = status.get("partitions") or []
        lags = {p["partition"]: p["current_lag"] for p in parts}
        # The owner is the member's client host, read after its client id from the record
        # (Burrow 1.2.1's lag answer leaves `client_id` empty).
        owners = {p["owner"] for p in parts}
        if (lags == expected and status.get("totallag") == sum(expected.values())
                and owners == {"/127.0.0.1"}):
            return status
        time.sleep(1)
    raise AssertionError(f"Burrow never reported lag {expected}; last answer: {last}")


def member(strom):
    """A live member of the group (it owns both partitions), so the group has metadata."""
    c = ck.Consumer({"bootstrap.servers": strom.bootstrap, "group.id": GROUP,
                     "client.id": "lag-member", "enable.auto.commit": False})
    c.subscribe([TOPIC])
    deadline = time.time() + 30
    while len(c.assignment()) < 2:
        assert time.time() < deadline, "the member never got both partitions"
        c.poll(0.2)
    return c


def commit(consumer, offsets):
    consumer.commit(offsets=[ck.TopicPartition(TOPIC, p, o) for p, o in offsets.items()],
                    asynchronous=False)


def produce(strom, counts):
    p = ck.Producer({"bootstrap.servers": strom.bootstrap, "linger.ms": 0})
    for partition, n in counts.items():
        for i in range(n):
            p.produce(TOPIC, value=str(i).encode(), partition=partition)
    p.flush(15)


def test_burrow_reports_the_real_backlog(strom, tmp_path):
    assert shutil.which("Burrow"), "Debian's burrow is required (tests/install-deps.sh)"
    create_topic(strom.bootstrap, TOPIC, partitions=2)
    produce(strom, {0: 50, 1: 40})
    consumer = member(strom)
    commit(consumer, {0: 30, 1: 10})
    zk, zk_port = start_zookeeper(tmp_path)
    http_port = free_port()
    burrow_config(tmp_path, strom, zk_port, http_port)
    log = open(tmp_path / "burrow.log", "wb")
    burrow = subprocess.Popen(["Burrow", "--config-dir", str(tmp_path)], cwd=tmp_path,
                              stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{http_port}/v3/kafka/strom"
    try:
        deadline = time.time() + 90
        while TOPIC not in ((get(f"{base}/topic") or {}).get("topics") or []):
            assert time.time() < deadline, "Burrow never listed the topic"
            assert burrow.poll() is None, (tmp_path / "burrow.log").read_text()[-3000:]
            time.sleep(1)
        wait_lag(f"{base}/consumer/{GROUP}/lag", {0: 20, 1: 30})
        # More records, then a new commit: Burrow follows both.
        produce(strom, {0: 5})
        wait_lag(f"{base}/consumer/{GROUP}/lag", {0: 25, 1: 30})
        commit(consumer, {1: 40})
        wait_lag(f"{base}/consumer/{GROUP}/lag", {0: 25, 1: 0})
    finally:
        consumer.close()
        burrow.terminate()
        zk.terminate()
        burrow.wait(20)
        zk.wait(20)
    text = (tmp_path / "burrow.log").read_text(errors="replace")
    assert "failed to decode" not in text, [l for l in text.splitlines() if "failed to decode" in l][:5]
