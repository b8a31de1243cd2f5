"""Thousands of partitions on one node under a small open-file limit.

The server runs under `prlimit --nofile=N:N` (soft and hard), far below the number of
segment and index files its partitions have. Topics are created over HTTP, a sample of
partitions is written and read back, and the server is restarted cleanly and after SIGKILL:
every acknowledged record must be there each time, and the open descriptors must stay under
the limit. Before the open-file budget, creating a 10,000-partition topic failed at partition
332 with nofile=1024 and the server could not start again.

Bounded for CI (STROM_SCALE_PARTITIONS, default 6,000 partitions over two topics under
nofile=256); `STROM_SCALE_PARTITIONS=50000 STROM_SCALE_NOFILE=1024` is the full run
(topics of at most 10,000 partitions).
"""

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import requests

from conftest import Strom, strom_binary

TOTAL = int(os.environ.get("STROM_SCALE_PARTITIONS", "6000"))
NOFILE = int(os.environ.get("STROM_SCALE_NOFILE", "256"))
PER_TOPIC = 10_000
SAMPLE = 60
# Generous: a start or shutdown opens (or closes) every partition, one directory fsync each.
DEADLINE = float(os.environ.get("STROM_SCALE_DEADLINE_S", "600"))


class LimitedStrom(Strom):
    """A strom server started under `prlimit --nofile=N:N`."""

    def start(self):
        args = [
            "prlimit", f"--nofile={NOFILE}:{NOFILE}", "--",
            strom_binary(), "serve",
            "--data-dir", str(self.data_dir),
            "--kafka-listen", f"127.0.0.1:{self.kafka_port}",
            "--http-listen", f"127.0.0.1:{self.http_port}",
            *self.extra_args,
        ]
        env = {**os.environ, "STROM_LOG": os.environ.get("STROM_LOG", "info")}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)
        wait_ready(self)
        return self

    def stop(self, sig=signal.SIGTERM, timeout=DEADLINE):
        return super().stop(sig, timeout)


def wait_ready(server):
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise AssertionError(
                f"strom exited with {server.proc.returncode}:\n{server.log_text()[-3000:]}")
        try:
            if requests.get(f"{server.http}/healthz", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError(f"strom not ready within {DEADLINE}s:\n{server.log_text()[-3000:]}")


def topics_plan():
    plan, left, i = [], TOTAL, 0
    while left > 0:
        n = min(PER_TOPIC, left)
        plan.append((f"scale-{i}", n))
        left -= n
        i += 1
    return plan


def open_fds(server) -> int:
    # prlimit execs strom, so the child's pid is the server's.
    return len(os.listdir(f"/proc/{server.proc.pid}/fd"))


def produce(server, topic, partition, value):
    r = requests.post(f"{server.http}/v1/topics/{topic}/records",
                      json={"records": [{"value": value, "partition": partition}]}, timeout=60)
    assert r.status_code == 200, r.text
    offset = r.json()["offsets"][0]
    assert offset["error"] is None, r.text
    return offset["offset"]


def read_values(server, topic, partition):
    r = requests.get(f"{server.http}/v1/topics/{topic}/partitions/{partition}/records",
                     params={"offset": 0, "limit": 100}, timeout=60)
    assert r.status_code == 200, r.text
    return [rec["value"] for rec in r.json()["records"]]


def check(server, written):
    for (topic, p), values in written.items():
        assert read_values(server, topic, p) == values, (topic, p)
    fds = open_fds(server)
    assert fds < NOFILE, f"{fds} descriptors open under nofile={NOFILE}"


def test_many_partitions_under_a_small_fd_limit(tmp_path: Path):
    server = LimitedStrom(tmp_path / "data")
    server.start()
    try:
        assert "open-file limit" in server.log_text()
        plan = topics_plan()
        for name, n in plan:
            r = requests.post(f"{server.http}/v1/topics",
                              json={"name": name, "partitions": n}, timeout=DEADLINE)
            assert r.status_code == 201, r.text[:500]
        rng = random.Random(7)
        sample = [(name, rng.randrange(n)) for name, n in plan for _ in range(SAMPLE // len(plan))]
        sample += [(name, n - 1) for name, n in plan] + [(name, 0) for name, n in plan]
        written = {}
        for round_ in range(2):
            for topic, p in sample:
                value = f"{topic}/{p}/{round_}"
                offset = produce(server, topic, p, value)
                written.setdefault((topic, p), []).append(value)
                assert offset == len(written[(topic, p)]) - 1
        check(server, written)
        listed = requests.get(f"{server.http}/v1/topics", timeout=60).json()
        counts = {t["name"]: t["partition_count"] for t in listed}
        for name, n in plan:
            assert counts.get(name) == n, counts

        assert server.stop() == 0, server.log_text()[-3000:]
        server.start()
        check(server, written)

        # A crash: the next start recovers every partition without a clean-shutdown marker.
        for topic, p in sample[:10]:
            value = f"{topic}/{p}/after-restart"
            produce(server, topic, p, value)
            written[(topic, p)].append(value)
        server.kill()
        server.start()
        check(server, written)
        for name, n in plan:
            r = requests.get(f"{server.http}/v1/topics/{name}", timeout=60)
            assert r.status_code == 200 and len(r.json()["partitions"]) == n
    finally:
        code = server.stop()
        assert code in (None, 0), server.log_text()[-3000:]
