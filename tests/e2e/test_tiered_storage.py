"""Tiered storage (issue 16) against the real binary and real stores.

- moto_server (PyPI `moto[server]`, S3 on a loopback port): produce with confluent-kafka until
  most data is remote, then read everything from the beginning with confluent-kafka,
  kafka-python and the HTTP API: byte-identical and in order; local disk stays bounded.
- The HTTP topic description's `tiers` and `strom topic describe` show both tiers.
- The local-file-system store: a fresh node with an empty data directory restores the topic;
  a bounded SIGKILL loop during uploads never loses an acknowledged record and never leaves a
  manifest pointing at a missing object.
"""

import base64
import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import boto3
import confluent_kafka as ck
import requests
from kafka import KafkaConsumer, TopicPartition as KTopicPartition

from conftest import free_port, strom_binary
from kafka_support import create_topic, produce_waiting

TOPIC = "tiered"
SEGMENT = 16384
LOCAL = 32768
TOPIC_CONFIG = {
    "remote.storage.enable": "true",
    "segment.bytes": str(SEGMENT),
    "local.retention.bytes": str(LOCAL),
    "retention.ms": "-1",
}


def wait_for(condition, what, timeout=60):
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def start_moto():
    port = free_port()
    proc = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"

    def up():
        try:
            return requests.get(url, timeout=1).status_code < 500
        except requests.RequestException:
            return False

    wait_for(up, "moto_server to listen", 30)
    return proc, url


def tiered_config(tmp_path, store, **extra):
    lines = ["[tiered]", f'store = "{store}"', "upload_interval_ms = 100"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    path = tmp_path / "strom-tiered.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def values(n, start=0):
    return [f"record-{i:07d}-{'x' * 80}".encode() for i in range(start, start + n)]


def produce(bootstrap, vals):
    # Batches well below segment.bytes, so segments roll at about SEGMENT bytes.
    p = ck.Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "enable.idempotence": True,
                     "batch.size": 4096})
    for v in vals:
        produce_waiting(p, TOPIC, value=v, partition=0)
    assert p.flush(60) == 0


def local_log_bytes(data_dir):
    return sum(f.stat().st_size for f in (data_dir / "topics" / TOPIC / "0").glob("*.log"))


def metric(server, name):
    text = requests.get(f"{server.http}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith(name + "{") and f'topic="{TOPIC}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def consume_confluent(bootstrap, count):
    c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "tier-check",
                     "enable.auto.commit": False})
    c.assign([ck.TopicPartition(TOPIC, 0, ck.OFFSET_BEGINNING)])
    out = []
    deadline = time.time() + 60
    while len(out) < count and time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        assert not m.error(), m.error()
        out.append((m.offset(), m.value()))
    c.close()
    return out


def consume_kafka_python(bootstrap, count):
    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                      api_version_auto_timeout_ms=10000)
    tp = KTopicPartition(TOPIC, 0)
    c.assign([tp])
    c.seek_to_beginning(tp)
    out = []
    deadline = time.time() + 60
    while len(out) < count and time.time() < deadline:
        for records in c.poll(timeout_ms=500).values():
            out.extend((r.offset, r.value) for r in records)
    c.close()
    return out


def consume_http(server, count):
    out = []
    offset = 0
    deadline = time.time() + 60
    while len(out) < count and time.time() < deadline:
        r = requests.get(f"{server.http}/v1/topics/{TOPIC}/partitions/0/records",
                         params={"offset": offset, "max_bytes": 65536}, timeout=30)
        assert r.status_code == 200, r.text
        for rec in r.json()["records"]:
            v = rec["value_base64"] if "value_base64" in rec else None
            value = base64.b64decode(v) if v is not None else str(rec["value"]).encode()
            out.append((rec["offset"], value))
            offset = rec["offset"] + 1
    return out


def test_remote_reads_are_identical_through_every_client(strom_factory, tmp_path):
    moto, url = start_moto()
    try:
        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
        s3.create_bucket(Bucket="strom-tier")
        # A small chunk cache, so the first remote chunks are evicted by the later reads.
        cfg = tiered_config(tmp_path, "s3://strom-tier/e2e", endpoint=url, region="us-east-1",
                            allow_http=True, cache_bytes=262144)
        env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
        server = strom_factory(extra_args=["--config", str(cfg)], env=env).start()
        create_topic(server.bootstrap, TOPIC, config=TOPIC_CONFIG)
        vals = values(20000)
        produce(server.bootstrap, vals)
        total = sum(len(v) for v in vals)
        # Most data goes remote; the local log stays within local.retention.bytes plus the
        # active segment and one segment waiting for upload.
        wait_for(lambda: metric(server, "strom_tier_remote_bytes") > 0.8 * total,
                 "most data to be remote", 90)
        wait_for(lambda: local_log_bytes(server.data_dir) <= LOCAL + 2 * SEGMENT,
                 "local retention", 30)
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="strom-tier")["Contents"]]
        assert any(k.endswith(".log") for k in keys) and any("/manifest/" in k for k in keys)
        check_describe_shows_tiers(server, len(vals))

        expected = list(enumerate(vals))
        assert consume_confluent(server.bootstrap, len(vals)) == expected
        assert consume_kafka_python(server.bootstrap, len(vals)) == expected
        assert consume_http(server, len(vals)) == expected
        # ListOffsets: earliest is the remote start, earliest-local is on disk.
        c = ck.Consumer({"bootstrap.servers": server.bootstrap, "group.id": "lo"})
        low, high = c.get_watermark_offsets(ck.TopicPartition(TOPIC, 0), timeout=10)
        c.close()
        assert (low, high) == (0, len(vals))
        # moto down: local reads keep working, remote reads fail retriably (HTTP 503).
        moto.send_signal(signal.SIGKILL)
        moto.wait()
        tail = requests.get(f"{server.http}/v1/topics/{TOPIC}/partitions/0/records",
                            params={"offset": len(vals) - 1}, timeout=60)
        assert tail.status_code == 200, tail.text
        head = requests.get(f"{server.http}/v1/topics/{TOPIC}/partitions/0/records",
                            params={"offset": 0}, timeout=120)
        # The first chunk may still be cached; then a later, uncached one must fail.
        if head.status_code == 200:
            head = requests.get(f"{server.http}/v1/topics/{TOPIC}/partitions/0/records",
                                params={"offset": 9000}, timeout=120)
        assert head.status_code == 503, head.text
        assert head.json()["type"].endswith("remote-storage-unavailable"), head.text
    finally:
        moto.kill()
        moto.wait()


def tiers(server, topic=TOPIC):
    r = requests.get(f"{server.http}/v1/topics/{topic}", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["partitions"][0].get("tiers")


def check_describe_shows_tiers(server, count):
    """The HTTP description's `tiers` and `strom topic describe`'s tier table."""
    wait_for(lambda: tiers(server)["upload_lag_segments"] == 0, "uploads to catch up")
    t = tiers(server)
    assert t["remote_start_offset"] == 0 and t["local_end_offset"] == count, t
    assert 0 < t["local_start_offset"] <= t["remote_end_offset"] < count, t
    assert t["remote_segments"] > t["local_segments"] > 0, t
    assert t["remote_bytes"] > t["local_bytes"] > 0, t

    found = {}

    def describe_row():
        """The CLI's row for partition 0 and the `tiers` read right before it (local
        retention may move the local start between the two reads: then read both again)."""
        now = tiers(server)
        out = subprocess.run([strom_binary(), "topic", "describe", TOPIC, "--server",
                              server.http], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        row = next((line.split() for line in out.stdout.splitlines()
                    if line.split()[:2] == ["0", f"{now['local_start_offset']}-{count}"]), None)
        if row:
            found.update(t=now, out=out, row=row)
        return row is not None

    wait_for(describe_row, "the CLI's tier row to agree with the HTTP tiers")
    t, out, row = found["t"], found["out"], found["row"]
    assert row[4] == f"0-{t['remote_end_offset']}", out.stdout
    assert row[5:7] == [str(t["remote_bytes"]), str(t["remote_segments"])], out.stdout
    assert "REMOTE SEGS" in out.stdout and "UPLOAD LAG" in out.stdout, out.stdout
    # A topic that is not tiered has no tiers.
    create_topic(server.bootstrap, "plain")
    assert tiers(server, "plain") is None
    out = subprocess.run([strom_binary(), "topic", "describe", "plain", "--server", server.http],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "REMOTE" not in out.stdout, out.stdout


def newest_manifests(store_dir):
    out = {}
    for m in Path(store_dir).glob("topics/*/*/*/manifest/*.json"):
        part = m.parent.parent
        if part not in out or m.name > out[part].name:
            out[part] = m
    return out


def assert_manifests_complete(store_dir):
    for part, m in newest_manifests(store_dir).items():
        for seg in json.loads(m.read_text())["segments"]:
            for ext in ("log", "index", "timeindex", "snapshot"):
                obj = Path(store_dir) / f"{seg['key']}.{ext}"
                assert obj.exists(), f"{m} names {obj}, which is missing"


def test_restore_and_sigkill_loop_on_local_store(strom_factory, tmp_path):
    store = tmp_path / "bucket"
    cfg = tiered_config(tmp_path, f"file://{store}")
    server = strom_factory(extra_args=["--config", str(cfg)], name="node-a").start()
    create_topic(server.bootstrap, TOPIC, config=TOPIC_CONFIG)
    acked = {}
    rng = random.Random(16)
    next_value = 0
    for cycle in range(5):
        vals = values(3000, next_value)
        next_value += len(vals)
        p = ck.Producer({"bootstrap.servers": server.bootstrap, "linger.ms": 5,
                         "enable.idempotence": True, "message.timeout.ms": 120000})

        def on_delivery(err, msg):
            if err is None:
                acked[msg.value()] = msg.offset()

        for v in vals:
            while True:
                try:
                    p.produce(TOPIC, value=v, partition=0, on_delivery=on_delivery)
                    break
                except BufferError:
                    p.poll(0.05)
        p.poll(rng.uniform(0.05, 0.4))
        # SIGKILL while segments are being uploaded and manifests written.
        server.kill()
        server.start()
        assert p.flush(120) == 0, "records never delivered after the restart"
        assert_manifests_complete(store)
    wait_for(lambda: metric(server, "strom_tier_remote_segments") > 0, "uploads", 30)
    log = consume_confluent(server.bootstrap, len(acked))
    by_offset = dict(log)
    for value, offset in acked.items():
        assert by_offset.get(offset) == value, f"acknowledged {value[:14]} at {offset} is lost"
    assert len({v for _, v in log}) == len(log), "a record was written twice"

    # A fresh node with an empty data directory restores from the store.
    remote_end = json.loads(max(newest_manifests(store).values()).read_text())["segments"][-1]["end_offset"]
    server.stop()
    fresh = strom_factory(extra_args=["--config", str(cfg)], name="node-b").start()
    restored = consume_confluent(fresh.bootstrap, remote_end)
    assert restored == log[:remote_end], "restored data differs from the original"
    assert remote_end > len(acked) // 2
