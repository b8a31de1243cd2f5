#!/usr/bin/env python3
"""Kafka-protocol throughput of Strom with librdkafka (confluent-kafka) as the load generator.

    cargo build --release -p strom && python3 tests/bench/kafka_bench.py [--quick]

For 100 B and 1 KiB records, acks=1 and acks=all, 1 and 4 partitions: produce throughput, then
consume throughput of what was produced, in MB/s and records/s. The Python consumer's numbers
are bounded by the binding creating one Python object per record; when kcat is installed the
same topic is also consumed by kcat (librdkafka in C), which shows what the server delivers. As a baseline measured in the
same run, the same number of bytes is written to (and read back from) a plain file in the
server's data directory, and every result is also printed as a ratio to that baseline.
Finally `strom bench log` runs in the same process tree for the same volume and record size
(same fsync policy), and Kafka produce/consume are printed as ratios to the log engine's own
append and (warm) read throughput: the cost of the protocol layer on top of the log.
Not part of the default test run: it starts its own server on ephemeral ports.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import confluent_kafka as ck
from confluent_kafka.admin import AdminClient, NewTopic

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from conftest import Strom  # noqa: E402  (the e2e harness: starts the real binary)


def baseline(directory, total_bytes):
    """Plain buffered file write + fsync, then read back (page cache), in MB/s."""
    path = Path(directory) / "baseline.bin"
    chunk = os.urandom(64 * 1024)
    start = time.perf_counter()
    with open(path, "wb") as f:
        written = 0
        while written < total_bytes:
            f.write(chunk)
            written += len(chunk)
        f.flush()
        os.fsync(f.fileno())
    write_s = time.perf_counter() - start
    start = time.perf_counter()
    with open(path, "rb") as f:
        while f.read(1 << 20):
            pass
    read_s = time.perf_counter() - start
    path.unlink()
    return written / write_s / 1e6, written / read_s / 1e6


def produce(bootstrap, topic, count, size, acks, partitions):
    p = ck.Producer({
        "bootstrap.servers": bootstrap,
        "acks": acks,
        "linger.ms": 20,
        "batch.size": 1 << 20,
        "queue.buffering.max.messages": 1_000_000,
        "queue.buffering.max.kbytes": 1 << 20,
        "compression.type": "none",
    })
    value = os.urandom(size)
    failures = []

    def on_delivery(err, _msg):
        if err is not None:
            failures.append(err)

    start = time.perf_counter()
    for i in range(count):
        while True:
            try:
                p.produce(topic, value=value, partition=i % partitions, on_delivery=on_delivery)
                break
            except BufferError:
                p.poll(0.01)
        if i % 10_000 == 0:
            p.poll(0)
    remaining = p.flush(120)
    elapsed = time.perf_counter() - start
    if remaining or failures:
        raise RuntimeError(f"{remaining} undelivered, {len(failures)} failed: {failures[:3]}")
    return elapsed


def consume(bootstrap, topic, count, partitions):
    c = ck.Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "bench",
        "enable.auto.commit": False,
        "fetch.max.bytes": 50 << 20,
        "max.partition.fetch.bytes": 8 << 20,
        "queued.max.messages.kbytes": 256 << 10,
    })
    c.assign([ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in range(partitions)])
    got = 0
    start = time.perf_counter()
    deadline = time.time() + 120
    while got < count and time.time() < deadline:
        msgs = c.consume(10_000, 1.0)
        got += sum(1 for m in msgs if not m.error())
    elapsed = time.perf_counter() - start
    c.close()
    if got < count:
        raise RuntimeError(f"consumed {got} of {count}")
    return elapsed


def consume_kcat(bootstrap, topic, count):
    """librdkafka's consumer without Python in the loop (kcat), when installed."""
    start = time.perf_counter()
    out = subprocess.run(
        ["kcat", "-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q",
         "-X", "fetch.max.bytes=52428800", "-X", "max.partition.fetch.bytes=8388608",
         "-f", "%o\n"],
        capture_output=True, timeout=120, check=True,
    ).stdout
    elapsed = time.perf_counter() - start
    got = out.count(b"\n")
    if got < count:
        raise RuntimeError(f"kcat consumed {got} of {count}")
    return elapsed


def log_engine(binary, directory, total_bytes, size, fsync):
    """(append MB/s, warm read MB/s) of `strom bench log` for the same bytes and record size."""
    out = subprocess.run(
        [binary, "bench", "log", "--gib", f"{total_bytes / 2**30:.4f}", "--policies", fsync,
         "--repeat", "2", "--record-bytes", str(size), "--dir", str(directory)],
        check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith(fsync):
            numbers = [float(x) for x in line.split()[1:] if x.replace(".", "", 1).isdigit()]
            # append, write, ratio, cold log, cold file, ratio, warm log, warm file, ratio (MiB/s)
            return numbers[0] * 1.048576, numbers[6] * 1.048576
    raise RuntimeError(f"no '{fsync}' line in strom bench log output:\n{out}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller runs (about 4x fewer records)")
    parser.add_argument("--fsync", default="interval", help="strom fsync policy (always, interval, never)")
    args = parser.parse_args()
    target_bytes = (16 if args.quick else 64) * 1024 * 1024

    with tempfile.TemporaryDirectory(prefix="strom-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        server = Strom(data_dir, extra_args=["--fsync", args.fsync],
                       env={"STROM_LOG": "warn"}).start()
        admin = AdminClient({"bootstrap.servers": server.bootstrap})
        try:
            base_w, base_r = baseline(data_dir, target_bytes)
            print(f"baseline (plain file, {target_bytes >> 20} MiB): write+fsync {base_w:8.1f} MB/s, "
                  f"read {base_r:8.1f} MB/s")
            print(f"strom fsync={args.fsync}, binary {os.environ.get('STROM_BIN', 'target/*/strom')}")
            kcat = shutil.which("kcat") is not None
            header = (f"{'record':>7} {'acks':>4} {'parts':>5} | {'produce MB/s':>12} {'rec/s':>10} "
                      f"{'x base':>6} | {'consume MB/s':>12} {'rec/s':>10} {'x base':>6}"
                      + (f" | {'kcat MB/s':>9} {'x base':>6}" if kcat else ""))
            print(header)
            print("-" * len(header))
            results = []
            for size in (100, 1024):
                count = target_bytes // size
                for acks in ("1", "all"):
                    for partitions in (1, 4):
                        topic = f"bench-{size}-{acks}-{partitions}"
                        admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(30)
                        p_s = produce(server.bootstrap, topic, count, size, acks, partitions)
                        c_s = consume(server.bootstrap, topic, count, partitions)
                        mb = count * size / 1e6
                        line = (f"{size:>6}B {acks:>4} {partitions:>5} | {mb / p_s:12.1f} {count / p_s:10.0f} "
                                f"{mb / p_s / base_w:6.2f} | {mb / c_s:12.1f} {count / c_s:10.0f} "
                                f"{mb / c_s / base_r:6.2f}")
                        if kcat:
                            k_s = consume_kcat(server.bootstrap, topic, count)
                            line += f" | {mb / k_s:9.1f} {mb / k_s / base_r:6.2f}"
                        print(line, flush=True)
                        results.append((size, acks, partitions, mb / p_s, mb / c_s,
                                        mb / k_s if kcat else None))
        finally:
            server.stop()
        from conftest import strom_binary
        print(f"\nagainst the log engine (strom bench log, fsync={args.fsync}, same volume and record size)")
        print(f"{'record':>7} {'acks':>4} {'parts':>5} | {'produce / append':>16} | "
              f"{'consume / read':>14} | {'kcat / read':>11}")
        engine = {}
        for size in (100, 1024):
            engine[size] = log_engine(strom_binary(), Path(tmp) / f"log-{size}", target_bytes, size,
                                      args.fsync)
            print(f"  log engine, {size} B records: append {engine[size][0]:.1f} MB/s, "
                  f"warm read {engine[size][1]:.1f} MB/s")
        for size, acks, partitions, prod, cons, kc in results:
            append, read = engine[size]
            kc_ratio = f"{kc / read:11.2f}" if kc else f"{'-':>11}"
            print(f"{size:>6}B {acks:>4} {partitions:>5} | {prod / append:16.2f} | "
                  f"{cons / read:14.2f} | {kc_ratio}")


if __name__ == "__main__":
    main()
