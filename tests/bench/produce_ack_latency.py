#!/usr/bin/env python3
"""Produce->acknowledgement latency at a paced rate (not part of the default test run).

    STROM_BIN=target/release/strom python3 tests/bench/produce_ack_latency.py 10000 50000 [hook]

Produces `n` records to an 8-partition topic at `rate` per second with the producer loop of
`webhook_bench.py` (confluent-kafka, linger.ms 0) and reports the p50/p99 time from each
`produce()` call to its delivery report: the part of webhook_bench's produce->receipt latency
that lies before any webhook. With `hook`, one subscription (ordering `partition`) delivers
the records to webhook_bench's receiver and produce->receipt is reported too."""

import json
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import Strom  # noqa: E402
from webhook_bench import Receiver, percentile  # noqa: E402


def main():
    from confluent_kafka import Producer
    rate, n = float(sys.argv[1]), int(sys.argv[2])
    hook = len(sys.argv) > 3 and sys.argv[3] == "hook"
    with tempfile.TemporaryDirectory() as tmp:
        server = Strom(Path(tmp) / "data").start()
        receiver = None
        try:
            requests.post(f"{server.http}/v1/topics", json={"name": "bench", "partitions": 8},
                          timeout=30).raise_for_status()
            if hook:
                receiver = Receiver()
                requests.post(f"{server.http}/v1/webhooks", json={
                    "name": "h", "url": f"{receiver.url}/hook/h", "topics": ["bench"],
                    "concurrency": 16, "ordering": "partition"}, timeout=30).raise_for_status()
            p = Producer({"bootstrap.servers": server.bootstrap, "linger.ms": 0,
                          "queue.buffering.max.messages": 1_000_000})
            acked = []
            start = time.perf_counter()
            for i in range(n):
                due = start + i / rate
                while time.perf_counter() < due:
                    p.poll(0)
                    time.sleep(min(0.0005, max(0.0, due - time.perf_counter())))
                t0 = time.time()
                p.produce("bench", key=f"k{i}".encode(), value=json.dumps({"t": t0, "n": i}),
                          on_delivery=lambda err, msg, t0=t0: acked.append(time.time() - t0))
                if i % 1000 == 0:
                    p.poll(0)
            p.flush(60)
            ms = [x * 1000 for x in acked]
            line = (f"{rate:,.0f} events/s, subscription: {hook}: produce->ack "
                    f"p50 {percentile(ms, 0.5):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms")
            if receiver:
                receiver.wait_count(n, 60)
                lat = receiver.latency()
                line += f"; produce->receipt p50 {lat['p50']:.1f} ms, p99 {lat['p99']:.1f} ms"
            print(line, flush=True)
        finally:
            server.stop(timeout=60)
            if receiver:
                receiver.stop()


if __name__ == "__main__":
    main()
