#!/usr/bin/env python3
"""Kafka-protocol throughput of Strom, driven by a librdkafka load generator, against the log engine.

    cargo build --release -p strom && python3 tests/bench/kafka_bench.py [--quick] [--fsync interval]

The load generator is `tests/bench/loadgen` (Rust, the `rdkafka` crate: librdkafka built from
source, no per-record work of its own). It is built on first use with
`cargo build --release --manifest-path tests/bench/loadgen/Cargo.toml`.

For 100 B and 1 KiB records, acks=1 and acks=all, 1 and 4 partitions: produce a fixed volume,
then consume it from the beginning. Printed per case: MB/s and records/s, and the server's CPU
time for the phase (from /proc), so it is visible whether the server or the client was the limit.

Baseline, measured in the same run: `strom bench log` for the same volume and record size with
the same fsync policy (append, and warm read: the data is in the page cache for the consumers
too). Two ratios per case:
- throughput / log engine throughput (what the issue's target is stated in);
- server MB per CPU-second / log engine MB per CPU-second (both measured as process CPU
  time): the cost per byte of everything above the log, independent of how fast the client
  on the same 2-core machine can go.
Not part of the default test run: it starts its own server on ephemeral ports.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from confluent_kafka.admin import AdminClient, NewTopic

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))
from conftest import Strom, strom_binary  # noqa: E402  (the e2e harness: starts the real binary)

LOADGEN_DIR = HERE / "loadgen"
LOADGEN = LOADGEN_DIR / "target" / "release" / "strom-loadgen"
# librdkafka >= 2.4 pauses fetching for fetch.queue.backoff.ms (1 s) whenever its local queue
# holds queued.min.messages; with small records that is after every fetch. Consumers that want
# throughput turn it down, against Kafka as against Strom.
CONSUMER_TUNING = ["-X", "fetch.queue.backoff.ms=1"]


def build_loadgen():
    if not LOADGEN.exists():
        print("building the load generator (librdkafka from source, once)...", flush=True)
        subprocess.run(["cargo", "build", "--release", "--manifest-path",
                        str(LOADGEN_DIR / "Cargo.toml")], check=True)


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loadgen(bootstrap, topic, partitions, count, *cmd):
    out = subprocess.run([str(LOADGEN), "--bootstrap", bootstrap, "--topic", topic,
                          "--partitions", str(partitions), "--count", str(count), *cmd],
                         check=True, capture_output=True, text=True, timeout=600).stdout
    return json.loads(out.strip().splitlines()[-1])["seconds"]


def log_engine(directory, total_bytes, size, fsync):
    """`strom bench log` for the same bytes and record size: (append MB/s, warm read MB/s,
    append MB per CPU-s, warm read MB per CPU-s)."""
    args = [strom_binary(), "bench", "log", "--gib", f"{total_bytes / 2**30:.4f}", "--policies",
            fsync, "--repeat", "2", "--record-bytes", str(size), "--dir", str(directory)]
    out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(fsync):
            numbers = [float(x) for x in line.split()[1:] if x.replace(".", "", 1).isdigit()]
            # append, write, ratio, cold log, cold file, ratio, warm log, warm file, ratio (MiB/s)
            cpu = [float(x) for x in lines[i + 1].split() if x.replace(".", "", 1).isdigit()]
            return (numbers[0] * 1.048576, numbers[6] * 1.048576,
                    cpu[0] * 1.048576, cpu[1] * 1.048576)
    raise RuntimeError(f"no '{fsync}' line in strom bench log output:\n{out}")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="64 MiB per case instead of 256 MiB")
    parser.add_argument("--fsync", default="interval", help="strom fsync policy (always, interval, never)")
    args = parser.parse_args()
    volume = (64 if args.quick else 256) * 1024 * 1024
    build_loadgen()

    with tempfile.TemporaryDirectory(prefix="strom-bench-") as tmp:
        engine = {}
        for size in (100, 1024):
            engine[size] = log_engine(Path(tmp) / f"log-{size}", volume, size, args.fsync)

        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        server = Strom(data_dir, extra_args=["--fsync", args.fsync], env={"STROM_LOG": "warn"}).start()
        admin = AdminClient({"bootstrap.servers": server.bootstrap})
        pid = server.proc.pid
        rows = []
        try:
            for size in (100, 1024):
                count = volume // size
                for acks in ("1", "all"):
                    for partitions in (1, 4):
                        topic = f"bench-{size}-{acks}-{partitions}"
                        admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(30)
                        cpu0 = cpu_seconds(pid)
                        p_s = loadgen(server.bootstrap, topic, partitions, count, "produce",
                                      "--size", str(size), "--acks", acks,
                                      "--idempotence", "true" if acks == "all" else "false")
                        cpu1 = cpu_seconds(pid)
                        c_s = loadgen(server.bootstrap, topic, partitions, count,
                                      *CONSUMER_TUNING, "consume")
                        cpu2 = cpu_seconds(pid)
                        rows.append((size, acks, partitions, count, p_s, cpu1 - cpu0, c_s, cpu2 - cpu1))
        finally:
            server.stop()

    print(f"strom fsync={args.fsync}, {volume >> 20} MiB per case, binary {strom_binary()}")
    for size in (100, 1024):
        print(f"log engine (strom bench log, same volume, {size} B records): append "
              f"{engine[size][0]:.0f} MB/s ({engine[size][2]:.0f} MB per CPU-s), warm read "
              f"{engine[size][1]:.0f} MB/s ({engine[size][3]:.0f} MB per CPU-s)")
    header = (f"{'record':>7} {'acks':>4} {'parts':>5} | {'produce MB/s':>12} {'rec/s':>9} "
              f"{'srv CPU':>7} {'/append':>7} {'/cpu':>5} | {'consume MB/s':>12} {'rec/s':>9} "
              f"{'srv CPU':>7} {'/read':>6} {'/cpu':>5}")
    print(header)
    print("-" * len(header))
    for size, acks, partitions, count, p_s, p_cpu, c_s, c_cpu in rows:
        mb = count * size / 1e6
        append, read, append_cpu, read_cpu = engine[size]
        p_eff = (mb / max(p_cpu, 1e-3)) / append_cpu
        c_eff = (mb / max(c_cpu, 1e-3)) / read_cpu
        print(f"{size:>6}B {acks:>4} {partitions:>5} | {mb / p_s:12.1f} {count / p_s:9.0f} "
              f"{p_cpu:6.2f}s {mb / p_s / append:7.2f} {p_eff:5.2f} | {mb / c_s:12.1f} "
              f"{count / c_s:9.0f} {c_cpu:6.2f}s {mb / c_s / read:6.2f} {c_eff:5.2f}")
    print("/append, /read: throughput over the log engine's; /cpu: server MB per CPU-second over "
          "the log engine's (the protocol layer's cost per byte)")


if __name__ == "__main__":
    main()
