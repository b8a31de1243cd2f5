#!/usr/bin/env python3
"""The cost of broker-side recompression (`compression.type` other than `producer`): the same
uncompressed produce (confluent-kafka, acks=1, 1 KiB text-like records, linger 5 ms) into a
topic that keeps batches as sent, and into topics the broker recompresses to zstd, lz4 and
gzip. Prints throughput, the server's CPU seconds and the bytes stored per case, and the
ratios to the `producer` case. One run; figures go to docs/benchmarks.md.

    cargo build --release -p strom
    python3 tests/bench/recompress_bench.py            # --mib 64 per case by default
"""

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import confluent_kafka as ck

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))
from conftest import Strom  # noqa: E402  (the e2e harness: starts the real binary)
from kafka_support import create_topic  # noqa: E402

WORDS = ("order customer item price quantity status shipped pending total currency "
         "address city country warehouse sku discount").split()


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def records(n, size=1024):
    rng = random.Random(7)
    out = []
    for i in range(256):
        text = " ".join(f"{rng.choice(WORDS)}={rng.randint(0, 99999)}" for _ in range(size // 8))
        out.append(text.encode()[:size])
    return [out[i % 256] for i in range(n)]


def run(server, topic, values):
    p = ck.Producer({"bootstrap.servers": server.bootstrap, "acks": "1", "linger.ms": 5,
                     "compression.type": "none", "queue.buffering.max.messages": 200000})
    cpu0, t0 = cpu_seconds(server.proc.pid), time.perf_counter()
    for v in values:
        while True:
            try:
                p.produce(topic, value=v)
                break
            except BufferError:
                p.poll(0.01)
    p.flush(120)
    seconds = time.perf_counter() - t0
    cpu = cpu_seconds(server.proc.pid) - cpu0
    stored = sum(f.stat().st_size for f in (server.data_dir / "topics" / topic).rglob("*.log"))
    return seconds, cpu, stored


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=64)
    args = ap.parse_args()
    values = records(args.mib * 1024)
    mib = args.mib
    with tempfile.TemporaryDirectory() as d:
        server = Strom(Path(d) / "data").start()
        try:
            results = {}
            for codec in ["producer", "zstd", "lz4", "gzip"]:
                topic = f"bench-{codec}"
                create_topic(server.bootstrap, topic, config={"compression.type": codec})
                results[codec] = run(server, topic, values)
        finally:
            server.stop()
    base_s, base_cpu, base_stored = results["producer"]
    print(f"{'compression.type':<18}{'MiB/s':>8}{'x':>7}{'CPU s':>8}{'x':>7}{'stored MiB':>12}"
          f"{'ratio':>7}")
    for codec, (s, cpu, stored) in results.items():
        print(f"{codec:<18}{mib / s:>8.1f}{base_s / s:>7.2f}{cpu:>8.2f}{cpu / base_cpu:>7.2f}"
              f"{stored / 2**20:>12.1f}{stored / base_stored:>7.3f}")


if __name__ == "__main__":
    main()
