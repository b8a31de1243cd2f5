#!/usr/bin/env python3
"""Tiered storage: remote against local sequential reads, and produce with uploads running
against without, on the local-file-system store (so the store's own CPU does not count).

    cargo build --release -p strom && python3 tests/bench/tiered_bench.py [--mb 200]

One server with `[tiered] store = "file://<tmp>"`. Two topics of one partition, 4 MiB segments:
`local` (not tiered) and `tiered` (`remote.storage.enable=true`, `local.retention.bytes=1`, so
everything closed goes remote and leaves the disk). Phases, each timed:
1. produce the volume to `local` (no uploads running), then to `tiered` while the uploader
   works: produce MB/s with uploads / without;
2. wait until `tiered` is all remote (except its active segment), then read both from the
   beginning with confluent-kafka: remote read MB/s / local read MB/s (the remote reads start
   with a cold chunk cache);
3. local disk used against data retained, for `tiered`.
Not part of the default test run.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import confluent_kafka as ck
import requests
from confluent_kafka.admin import AdminClient, NewTopic

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))
from conftest import Strom  # noqa: E402  (the e2e harness: starts the real binary)

SEGMENT = 4 << 20
RECORD = 1024


def create(bootstrap, name, config):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(name, 1, 1, config=config)])[name].result(timeout=30)


def produce(bootstrap, topic, count):
    p = ck.Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "batch.size": 1 << 20,
                     "queue.buffering.max.kbytes": 1 << 20, "compression.type": "none"})
    value = b"x" * RECORD
    start = time.monotonic()
    for _ in range(count):
        while True:
            try:
                p.produce(topic, value=value, partition=0)
                break
            except BufferError:
                p.poll(0.01)
    assert p.flush(300) == 0
    return time.monotonic() - start


def consume(bootstrap, topic, count):
    c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{topic}",
                     "enable.auto.commit": False, "fetch.queue.backoff.ms": 1,
                     "fetch.max.bytes": 52428800, "max.partition.fetch.bytes": 8 << 20})
    c.assign([ck.TopicPartition(topic, 0, ck.OFFSET_BEGINNING)])
    got = 0
    start = time.monotonic()
    while got < count:
        msgs = c.consume(10000, 1.0)
        for m in msgs:
            assert not m.error(), m.error()
        got += len(msgs)
    elapsed = time.monotonic() - start
    c.close()
    return elapsed


def metric(server, name, topic):
    for line in requests.get(f"{server.http}/metrics", timeout=10).text.splitlines():
        if line.startswith(name + "{") and f'topic="{topic}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=200, help="MiB produced per topic")
    args = ap.parse_args()
    count = args.mb * 1024 * 1024 // RECORD
    mib = count * RECORD / (1 << 20)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cfg = tmp / "strom.toml"
        cfg.write_text(f'[tiered]\nstore = "file://{tmp}/bucket"\nupload_interval_ms = 200\n')
        server = Strom(tmp / "data", extra_args=["--config", str(cfg)]).start()
        try:
            create(server.bootstrap, "local", {"segment.bytes": str(SEGMENT)})
            create(server.bootstrap, "tiered", {"segment.bytes": str(SEGMENT),
                                                "remote.storage.enable": "true",
                                                "local.retention.bytes": "1"})
            t_local = produce(server.bootstrap, "local", count)
            t_tiered = produce(server.bootstrap, "tiered", count)
            deadline = time.time() + 600
            while metric(server, "strom_tier_upload_lag_bytes", "tiered") > 0 or \
                    metric(server, "strom_tier_remote_bytes", "tiered") < (mib - 2 * SEGMENT / (1 << 20)) * (1 << 20):
                assert time.time() < deadline, "uploads did not finish"
                time.sleep(0.2)
            local_disk = metric(server, "strom_tier_local_bytes", "tiered")
            remote = metric(server, "strom_tier_remote_bytes", "tiered")
            r_local = consume(server.bootstrap, "local", count)
            r_remote = consume(server.bootstrap, "tiered", count)
        finally:
            server.stop()
    print(f"volume: {mib:.0f} MiB per topic, {RECORD} B records, {SEGMENT >> 20} MiB segments, file:// store")
    print(f"produce without uploads: {mib / t_local:8.1f} MiB/s")
    print(f"produce with uploads:    {mib / t_tiered:8.1f} MiB/s   ratio {t_local / t_tiered:.2f}")
    print(f"read local:              {mib / r_local:8.1f} MiB/s")
    print(f"read remote (cold):      {mib / r_remote:8.1f} MiB/s   ratio {r_local / r_remote:.2f}")
    print(f"tiered topic: {local_disk / (1 << 20):.1f} MiB on local disk for {remote / (1 << 20):.1f} MiB remote")


if __name__ == "__main__":
    main()
