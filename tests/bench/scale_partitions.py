"""Measures the partition scale curve for docs/benchmarks.md (not a test).

For each partition count (topics of at most 10,000 partitions) a fresh server under
`prlimit --nofile=NOFILE:NOFILE` creates the topics over HTTP, produces 50 records to random
partitions of each topic, and reports: topic creation time, RSS and open descriptors when
idle, clean shutdown time, start time (launch to /healthz), RSS and descriptors after the
restart, and start time after SIGKILL.

    STROM_BIN=target/release/strom python3 tests/bench/scale_partitions.py 1000 10000 50000
"""

import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from conftest import free_port, strom_binary  # noqa: E402

NOFILE = int(os.environ.get("STROM_SCALE_NOFILE", "1024"))


def start(data, kafka, http, log):
    t0 = time.monotonic()
    proc = subprocess.Popen(
        ["prlimit", f"--nofile={NOFILE}:{NOFILE}", "--", strom_binary(), "serve",
         "--data-dir", str(data), "--kafka-listen", f"127.0.0.1:{kafka}",
         "--http-listen", f"127.0.0.1:{http}"],
        stdout=log, stderr=subprocess.STDOUT)
    while True:
        if proc.poll() is not None:
            raise SystemExit(f"strom exited with {proc.returncode}")
        try:
            if requests.get(f"http://127.0.0.1:{http}/healthz", timeout=5).status_code == 200:
                return proc, time.monotonic() - t0
        except requests.RequestException:
            pass
        time.sleep(0.05)


def rss_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def measure(total):
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as tmp:
        data, kafka, http = Path(tmp) / "data", free_port(), free_port()
        log = open(Path(tmp) / "strom.log", "ab")
        proc, _ = start(data, kafka, http, log)
        base = f"http://127.0.0.1:{http}"
        rss0 = rss_mb(proc.pid)
        t0 = time.monotonic()
        plan, left, i = [], total, 0
        while left > 0:
            n = min(10_000, left)
            r = requests.post(f"{base}/v1/topics", json={"name": f"s{i}", "partitions": n},
                              timeout=3600)
            assert r.status_code == 201, r.text
            plan.append((f"s{i}", n))
            left -= n
            i += 1
        create_s = time.monotonic() - t0
        rng = random.Random(1)
        for name, n in plan:
            for _ in range(50):
                r = requests.post(f"{base}/v1/topics/{name}/records",
                                  json={"records": [{"value": 1, "partition": rng.randrange(n)}]})
                assert r.status_code == 200, r.text
        rss1, fd1 = rss_mb(proc.pid), fds(proc.pid)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=3600) == 0
        stop_s = time.monotonic() - t0
        proc, start_s = start(data, kafka, http, log)
        rss2, fd2 = rss_mb(proc.pid), fds(proc.pid)
        proc.kill()
        proc.wait()
        proc, crash_start_s = start(data, kafka, http, log)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=3600)
        print(f"| {total:,} | {create_s:.1f} s | {rss0:.0f} MB | {rss1:.0f} MB | {fd1} | "
              f"{stop_s:.1f} s | {start_s:.1f} s | {rss2:.0f} MB | {fd2} | {crash_start_s:.1f} s |",
              flush=True)


if __name__ == "__main__":
    print(f"nofile={NOFILE}")
    print("| partitions | create | RSS empty | RSS after create+produce | fds | clean shutdown "
          "| start | RSS after start | fds after start | start after kill -9 |")
    for arg in sys.argv[1:]:
        measure(int(arg))
