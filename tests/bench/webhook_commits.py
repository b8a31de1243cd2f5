#!/usr/bin/env python3
"""Webhook position commits: OffsetCommit requests per second and `__consumer_offsets`
growth while subscriptions deliver (not part of the default test run).

    cargo build --release -p strom
    python3 tests/bench/webhook_commits.py --bin after=target/release/strom [--bin before=/tmp/strom-old]

For each binary: a fresh server, one topic of `--partitions` partitions, `--subs`
subscriptions (ordering `partition`) to a local receiver answering 204 (the one of
webhook_bench.py), records produced at `--rate` per second over every partition for
`--seconds`. Measured over that window, from the `__consumer_offsets` segment files: record
batches written (one per OffsetCommit request), records (one per committed partition), and
bytes. Then the same for `--idle` seconds with nothing produced."""

import argparse
import json
import os
import struct
import sys
import tempfile
import time
from pathlib import Path

import requests
from confluent_kafka import Producer

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from conftest import Strom  # noqa: E402
from webhook_bench import Receiver  # noqa: E402


def offsets_log(data_dir):
    """(batches, records, bytes) in every `__consumer_offsets` segment."""
    batches = records = size = 0
    for log in Path(data_dir).glob("topics/__consumer_offsets/*/*.log"):
        data = log.read_bytes()
        size += len(data)
        pos = 0
        while pos + 61 <= len(data):
            base, length = struct.unpack_from(">qi", data, pos)
            if length <= 0:
                break
            count = struct.unpack_from(">i", data, pos + 57)[0]
            batches += 1
            records += count
            pos += 12 + length
    return batches, records, size


def measure(strom, seconds, produce=None):
    before, start = offsets_log(strom.data_dir), time.time()
    while time.time() - start < seconds:
        if produce:
            produce()
        time.sleep(0.05)
    after = offsets_log(strom.data_dir)
    took = time.time() - start
    return {k: round((a - b) / took, 1) for k, a, b in zip(("batches_per_s", "records_per_s", "bytes_per_s"), after, before)}


def run(name, binary, args, receiver):
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["STROM_BIN"] = binary
        strom = Strom(Path(tmp) / "data")
        strom.start()
        try:
            http = strom.http
            r = requests.post(f"{http}/v1/topics", json={"name": "load", "partitions": args.partitions})
            assert r.status_code == 201, r.text
            for i in range(args.subs):
                r = requests.post(f"{http}/v1/webhooks", json={
                    "name": f"s{i}", "url": f"{receiver.url}/hook", "topics": ["load"], "start": "latest"})
                assert r.status_code == 201, r.text
            time.sleep(2)
            p = Producer({"bootstrap.servers": strom.bootstrap, "linger.ms": 5})
            state = {"sent": 0, "t0": time.time()}

            def produce():
                due = int((time.time() - state["t0"]) * args.rate)
                for n in range(state["sent"], due):
                    p.produce("load", json.dumps({"t": time.time(), "n": n}).encode(),
                              partition=n % args.partitions)
                state["sent"] = max(state["sent"], due)
                p.poll(0)

            busy = measure(strom, args.seconds, produce)
            p.flush(30)
            time.sleep(2)
            idle = measure(strom, args.idle)
            return {"binary": name, "delivering": busy, "idle": idle}
        finally:
            strom.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", action="append", default=[], help="name=path (repeatable)")
    ap.add_argument("--subs", type=int, default=100)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--rate", type=float, default=400, help="records per second produced")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--idle", type=float, default=5)
    args = ap.parse_args()
    receiver = Receiver()
    for spec in args.bin or ["strom=target/release/strom"]:
        name, _, path = spec.partition("=")
        print(json.dumps(run(name, path, args, receiver)), flush=True)


if __name__ == "__main__":
    main()
