"""A full data directory, end to end, on a private tmpfs: once free space falls below
`min_free_bytes`, Kafka produce answers KAFKA_STORAGE_ERROR with a message saying why and HTTP
produce 507 problem+json; /healthz stays 200 but says "degraded", /readyz answers 503 and
/metrics shows it. When space is freed, produce succeeds again WITHOUT a restart, and every
acknowledged record is readable, also after a restart. The second case lets a write really hit
ENOSPC (no minimum): the poisoned partition is reopened from disk by the server itself.

Mounting needs root (CI runs as root); with STROM_REQUIRE_ROOT_TESTS=1 a failed mount fails."""

import json
import os
import struct
import subprocess
import time

import confluent_kafka as ck
import pytest
import requests
from kafka.protocol.produce import ProduceRequest
from kafka.record.memory_records import MemoryRecordsBuilder

from conftest import Strom
from kafka_support import Wire, consume, write_config

MIB = 1 << 20
KAFKA_STORAGE_ERROR = 56


@pytest.fixture
def tmpfs(tmp_path):
    mounted = []

    def mount(size):
        path = tmp_path / f"fs{len(mounted)}"
        path.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            reason = f"cannot mount a tmpfs: {done.stderr.strip()}"
            if os.environ.get("STROM_REQUIRE_ROOT_TESTS") == "1":
                pytest.fail(reason + " (STROM_REQUIRE_ROOT_TESTS=1)")
            pytest.skip(reason)
        mounted.append(path)
        return path

    yield mount
    for path in mounted:
        subprocess.run(["umount", "-l", str(path)], check=False)


def start_on(fs, tmp_path, **settings):
    config = write_config(tmp_path, **{"fsync": "always", "disk_check_interval_ms": 100, **settings})
    server = Strom(fs / "data", extra_args=["--config", str(config)])
    server.log_path = tmp_path / "strom.log"  # not on the small file system
    return server.start()


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill_to(fs, leave):
    """Writes a filler file until about `leave` bytes are free."""
    with open(fs / "filler", "wb") as f:
        chunk = b"\0" * MIB
        while free_bytes(fs) > leave + MIB:
            f.write(chunk)
            f.flush()
        f.write(b"\0" * max(0, free_bytes(fs) - leave))


def wait_until(what, cond, timeout=30):
    deadline = time.time() + timeout
    while not cond():
        assert time.time() < deadline, f"timed out waiting until {what}"
        time.sleep(0.02)


def http_produce(server, value):
    return requests.post(f"{server.http}/v1/topics/d/records",
                         json={"records": [{"key": "k", "value": value}]}, timeout=30)


def kafka_produce(server, values, **extra):
    """Produces with confluent-kafka (acks=all); returns the delivery errors (None = acked)."""
    errors = []
    p = ck.Producer({"bootstrap.servers": server.bootstrap, "acks": "all", **extra})
    for v in values:
        p.produce("d", value=v.encode(), partition=0,
                  on_delivery=lambda err, msg: errors.append(err))
    assert p.flush(60) == 0, "deliveries outstanding"
    return errors


def raw_produce_v8(server, value):
    builder = MemoryRecordsBuilder(magic=2, compression_type=0, batch_size=MIB)
    builder.append(timestamp=int(time.time() * 1000), key=b"k", value=value, headers=[])
    builder.close()
    req = ProduceRequest[8](transactional_id=None, required_acks=-1, timeout=5000,
                            topics=[("d", [(0, builder.buffer())])])
    w = Wire(server.kafka_port)
    try:
        w.send(req)
        frame = w.recv_frame()
    finally:
        w.close()
    # kafka-python's v8 schema lacks the error message: read the one partition by hand.
    # correlation id, topic count, topic name, partition count, then the partition.
    at = 4 + 4
    (name_len,) = struct.unpack_from(">h", frame, at)
    at += 2 + name_len + 4
    _index, code = struct.unpack_from(">ih", frame, at)
    at += 4 + 2 + 8 + 8 + 8
    (record_errors,) = struct.unpack_from(">i", frame, at)
    assert record_errors == 0, record_errors
    at += 4
    (msg_len,) = struct.unpack_from(">h", frame, at)
    message = frame[at + 2: at + 2 + msg_len].decode() if msg_len >= 0 else None
    return code, message


def ready(server):
    return requests.get(f"{server.http}/readyz", timeout=10).status_code == 200


def metric(server, name):
    text = requests.get(f"{server.http}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no {name} in /metrics")


def values_of(server, count):
    return [m.value().decode() for m in consume(server.bootstrap, "d", count)]


def create_topic(server):
    r = requests.post(f"{server.http}/v1/topics", json={"name": "d", "partitions": 1}, timeout=10)
    assert r.status_code == 201, r.text


def test_low_space_refuses_writes_then_resumes_without_restart(tmp_path, tmpfs):
    fs = tmpfs("64m")
    server = start_on(fs, tmp_path, min_free_bytes=16 * MIB)
    try:
        create_topic(server)
        acked = [f"before-{i}" for i in range(20)]
        assert kafka_produce(server, acked) == [None] * 20
        assert ready(server)

        fill_to(fs, 8 * MIB)
        wait_until("/readyz says not ready", lambda: not ready(server))
        r = requests.get(f"{server.http}/readyz", timeout=10)
        assert r.status_code == 503 and "below the minimum" in r.json()["reason"], r.text
        health = requests.get(f"{server.http}/healthz", timeout=10)
        assert health.status_code == 200, health.text
        assert health.json()["status"] == "degraded" and "free" in health.json()["reason"]
        assert metric(server, "strom_storage_writable") == 0

        r = http_produce(server, "refused")
        assert r.status_code == 507, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert "free disk space" in r.json()["detail"] and str(fs) not in r.text
        code, message = raw_produce_v8(server, b"refused")
        assert code == KAFKA_STORAGE_ERROR and "free disk space" in message, (code, message)
        errors = kafka_produce(server, ["refused"], retries=0)
        assert errors[0] is not None and errors[0].code() == ck.KafkaError.KAFKA_STORAGE_ERROR
        assert metric(server, "strom_storage_refused_appends_total") >= 3

        (fs / "filler").unlink()
        wait_until("/readyz says ready again", lambda: ready(server))
        assert requests.get(f"{server.http}/healthz", timeout=10).json()["status"] == "ok"
        after = [f"after-{i}" for i in range(20)]
        assert kafka_produce(server, after) == [None] * 20, "produce works without a restart"
        assert values_of(server, 40) == acked + after

        server.restart()
        assert values_of(server, 40) == acked + after, "all acknowledged records after a restart"
    finally:
        assert server.stop() in (None, 0), server.log_text()


def test_enospc_partition_is_reopened_by_the_server_without_restart(tmp_path, tmpfs):
    fs = tmpfs("32m")
    # No minimum, and a check only every 5 s: between two checks the server's free figure is
    # stale, so a disk filled behind its back makes a write really fail with ENOSPC.
    server = start_on(fs, tmp_path, min_free_bytes=0, disk_check_interval_ms=5000)
    try:
        create_topic(server)
        big = "x" * (64 * 1024)
        acked = [f"{i:04}{big}" for i in range(5)]
        for v in acked:
            assert http_produce(server, v).status_code == 200
        fill_to(fs, 2 * MIB)
        # Right after the check that saw ~2 MiB free, take all but 100 KiB of it.
        wait_until("a disk check saw the filler",
                   lambda: metric(server, "strom_storage_free_bytes") < 3 * MIB)
        with open(fs / "filler2", "wb") as f:
            f.write(b"\0" * max(0, free_bytes(fs) - 100 * 1024))
        for i in range(5, 40):
            r = http_produce(server, f"{i:04}{big}")
            if r.status_code != 200:
                break
            acked.append(f"{i:04}{big}")
        assert r.status_code == 507, r.text
        assert str(fs) not in r.text, "no server path in the answer"
        assert "No space left on device" in server.log_text(), "a write really hit ENOSPC"
        assert "log refuses writes until reopened" in server.log_text()

        (fs / "filler2").unlink()
        (fs / "filler").unlink()
        wait_until("the poisoned partition is reopened",
                   lambda: ready(server) and metric(server, "strom_storage_poisoned_partitions") == 0
                   and metric(server, "strom_storage_reopened_partitions_total") >= 1)
        r = http_produce(server, "after")
        assert r.status_code == 200, r.text
        assert "reopened a partition from disk" in server.log_text()
        # The failed append may have reached the file whole; it was never acknowledged.
        n = requests.get(f"{server.http}/v1/topics/d/partitions/0", timeout=10).json()
        count = len(acked) + 1
        # HTTP stores JSON values as JSON text.
        got = [json.loads(v) for v in values_of(server, n["high_watermark"])]
        assert got[: len(acked)] == acked and got[-1] == "after"
        assert len(got) in (count, count + 1), len(got)

        server.restart()
        again = [json.loads(v) for v in values_of(server, len(got))]
        assert again == got, "the same records after a restart"
    finally:
        assert server.stop() in (None, 0), server.log_text()


@pytest.fixture
def ext4(tmp_path):
    """A 64 MiB ext4 image on a loop device with errors=remount-ro; yields (mount, remount)."""
    image, path = tmp_path / "fs.img", tmp_path / "ext4"
    path.mkdir()
    with open(image, "wb") as f:
        f.truncate(64 * MIB)
    cmds = [["mkfs.ext4", "-q", "-F", str(image)],
            ["mount", "-o", "loop,errors=remount-ro", str(image), str(path)]]
    for cmd in cmds:
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            reason = f"{cmd[0]} failed: {done.stderr.strip()}"
            if os.environ.get("STROM_REQUIRE_ROOT_TESTS") == "1":
                pytest.fail(reason + " (STROM_REQUIRE_ROOT_TESTS=1)")
            pytest.skip(reason)

    def remount():
        subprocess.run(["umount", str(path)], check=True)
        subprocess.run(["e2fsck", "-fy", str(image)], capture_output=True)  # exit 1 = fixed
        subprocess.run(cmds[1], check=True)

    yield path, remount
    subprocess.run(["umount", "-l", str(path)], check=False)


def test_read_only_data_directory_refuses_writes_clearly_and_keeps_serving(tmp_path, ext4):
    """The kernel remounts ext4 read-only on an error (errors=remount-ro) with the server's
    files open: produce is refused with a clear error, health is degraded, readiness 503, reads
    keep working, nothing crashes; after an unmount/remount every acknowledged record is there."""
    fs, remount = ext4
    server = start_on(fs, tmp_path, min_free_bytes=MIB)
    create_topic(server)
    acked = [f"before-{i}" for i in range(20)]
    assert kafka_produce(server, acked) == [None] * 20
    dev = os.path.basename(subprocess.run(["findmnt", "-n", "-o", "SOURCE", str(fs)],
                                          capture_output=True, text=True, check=True).stdout.strip())
    with open(f"/sys/fs/ext4/{dev}/trigger_fs_error", "w") as f:
        f.write("1")

    r = http_produce(server, "refused")
    assert r.status_code == 507, r.text
    assert str(fs) not in r.text
    wait_until("/readyz says not ready", lambda: not ready(server))
    code, message = raw_produce_v8(server, b"refused")
    assert code == KAFKA_STORAGE_ERROR and "read-only" in message, (code, message)
    health = requests.get(f"{server.http}/healthz", timeout=10)
    assert health.status_code == 200 and health.json()["status"] == "degraded", health.text
    assert "read-only" in health.json()["reason"]
    assert metric(server, "strom_storage_read_only") == 1
    assert values_of(server, 20) == acked, "reads keep working"
    assert server.proc.poll() is None, "still running"
    server.stop()  # the clean-shutdown marker cannot be written: any exit code, no hang

    remount()
    server.start()
    try:
        assert values_of(server, 20) == acked, "every acknowledged record after the remount"
        assert kafka_produce(server, ["after"]) == [None]
    finally:
        assert server.stop() in (None, 0), server.log_text()
