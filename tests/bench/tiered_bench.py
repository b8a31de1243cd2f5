#!/usr/bin/env python3
"""Tiered storage: remote against local sequential reads, and produce with uploads running
against without, on the local-file-system store (so the store's own CPU does not count) and on
moto_server (S3 on loopback; its Python CPU shares the machine with Strom).

    cargo build --release -p strom && python3 tests/bench/tiered_bench.py [--mb 200] [--stores file,moto]

Per store, one server with `[tiered] store = "file://<tmp>"` (or `s3://` at moto). Four topics
of one partition, 4 MiB segments:
`local-a/b` (not tiered) and `tiered-a/b` (`remote.storage.enable=true`,
`local.retention.bytes=1`, so everything closed goes remote and leaves the disk), produced and
read in the order local-a, tiered-a, tiered-b, local-b. Phases, each timed:
1. produce the volume to each topic in that order (local-b only once every upload is done):
   produce MB/s with uploads running / without;
2. wait until `tiered` is all remote (except its active segment), then read both from the
   beginning with confluent-kafka: remote read MB/s / local read MB/s (the remote reads start
   with a cold chunk cache);
3. local disk used against data retained, for `tiered`.

`--produce-rounds N` measures only the produce ratio, N times on one server (default store
`file`): each round produces `--mb` MiB to each topic in the ABBA order above (local-a after
the previous round's uploads are done, local-b after this round's), and the rounds' ratios
(time without uploads / time with) are reported with their median and spread, since one
round on a loaded machine says little.
Not part of the default test run.
"""

import argparse
import subprocess
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


def start_moto():
    from conftest import free_port
    import boto3
    port = free_port()
    proc = subprocess.Popen(["moto_server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while True:
        try:
            requests.get(url, timeout=1)
            break
        except requests.RequestException:
            assert time.time() < deadline, "moto_server did not start"
            time.sleep(0.1)
    boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="bench",
                 aws_secret_access_key="bench").create_bucket(Bucket="bench")
    return proc, url


def run(store, count, tmp):
    mib = count * RECORD / (1 << 20)
    cfg = tmp / "strom.toml"
    moto, env = None, {}
    if store == "moto":
        moto, url = start_moto()
        env = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
        cfg.write_text(f'[tiered]\nstore = "s3://bench/b"\nendpoint = "{url}"\n'
                       'region = "us-east-1"\nallow_http = true\nupload_interval_ms = 200\n')
    else:
        cfg.write_text(f'[tiered]\nstore = "file://{tmp}/bucket"\nupload_interval_ms = 200\n')
    server = Strom(tmp / "data", extra_args=["--config", str(cfg)], env=env).start()
    # ABBA order (local, tiered, tiered, local), so a drift in the machine's load during the
    # run weighs on both sides alike.
    order = ["local-a", "tiered-a", "tiered-b", "local-b"]
    tiered = [t for t in order if t.startswith("tiered")]
    try:
        for t in order:
            config = {"segment.bytes": str(SEGMENT)}
            if t in tiered:
                config.update({"remote.storage.enable": "true", "local.retention.bytes": "1"})
            create(server.bootstrap, t, config)
        def uploads_done():
            deadline = time.time() + 900
            for t in tiered:
                while metric(server, "strom_tier_upload_lag_bytes", t) > 0 or \
                        metric(server, "strom_tier_remote_bytes", t) < (mib - 2 * SEGMENT / (1 << 20)) * (1 << 20):
                    assert time.time() < deadline, "uploads did not finish"
                    time.sleep(0.2)

        produced = {}
        for t in order:
            if t == "local-b":
                uploads_done()  # no upload runs while the second local topic is produced
            produced[t] = produce(server.bootstrap, t, count)
        uploads_done()
        local_disk = sum(metric(server, "strom_tier_local_bytes", t) for t in tiered)
        remote = sum(metric(server, "strom_tier_remote_bytes", t) for t in tiered)
        read = {t: consume(server.bootstrap, t, count) for t in order}
        hits = metric_total(server, "strom_tier_readahead_hits_total")
        misses = metric_total(server, "strom_tier_cache_misses_total")
    finally:
        server.stop()
        if moto:
            moto.kill()
            moto.wait()
    t_local = produced["local-a"] + produced["local-b"]
    t_tiered = produced["tiered-a"] + produced["tiered-b"]
    r_local = read["local-a"] + read["local-b"]
    r_remote = read["tiered-a"] + read["tiered-b"]
    mib *= 2
    print(f"-- store {store}: {mib:.0f} MiB per side (two topics each), {RECORD} B records, "
          f"{SEGMENT >> 20} MiB segments")
    print(f"produce without uploads: {mib / t_local:8.1f} MiB/s")
    print(f"produce with uploads:    {mib / t_tiered:8.1f} MiB/s   ratio {t_local / t_tiered:.2f}")
    print(f"read local:              {mib / r_local:8.1f} MiB/s")
    print(f"read remote (cold):      {mib / r_remote:8.1f} MiB/s   ratio {r_local / r_remote:.2f}")
    print(f"read-ahead hits {hits:.0f}, cache misses {misses:.0f}")
    print(f"tiered topic: {local_disk / (1 << 20):.1f} MiB on local disk for "
          f"{remote / (1 << 20):.1f} MiB remote")


def metric_total(server, name):
    return sum(float(line.rsplit(" ", 1)[1])
               for line in requests.get(f"{server.http}/metrics", timeout=10).text.splitlines()
               if line.startswith(name + " ") or line.startswith(name + "{"))


def upload_lag_zero(server, topics):
    deadline = time.time() + 900
    for t in topics:
        while metric(server, "strom_tier_upload_lag_bytes", t) > 0 or \
                metric(server, "strom_tier_remote_segments", t) == 0:
            assert time.time() < deadline, "uploads did not finish"
            time.sleep(0.2)


def produce_rounds(store, count, rounds, tmp):
    """The produce ratio only, `rounds` times on one server; see the module text."""
    cfg = tmp / "strom.toml"
    moto, env = None, {}
    if store == "moto":
        moto, url = start_moto()
        env = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
        cfg.write_text(f'[tiered]\nstore = "s3://bench/b"\nendpoint = "{url}"\n'
                       'region = "us-east-1"\nallow_http = true\nupload_interval_ms = 200\n')
    else:
        cfg.write_text(f'[tiered]\nstore = "file://{tmp}/bucket"\nupload_interval_ms = 200\n')
    server = Strom(tmp / "data", extra_args=["--config", str(cfg)], env=env).start()
    order = ["local-a", "tiered-a", "tiered-b", "local-b"]
    tiered = ["tiered-a", "tiered-b"]
    ratios = []
    try:
        for t in order:
            config = {"segment.bytes": str(SEGMENT), "retention.bytes": str(SEGMENT * 4)}
            if t in tiered:
                config.update({"remote.storage.enable": "true", "local.retention.bytes": "1"})
            create(server.bootstrap, t, config)
        for r in range(rounds):
            took = {}
            for t in order:
                if t == "local-b" or (t == "local-a" and r > 0):
                    upload_lag_zero(server, tiered)  # no upload runs beside a local side
                took[t] = produce(server.bootstrap, t, count)
            without = took["local-a"] + took["local-b"]
            with_uploads = took["tiered-a"] + took["tiered-b"]
            ratios.append(without / with_uploads)
            mib = 2 * count * RECORD / (1 << 20)
            print(f"round {r + 1}: without uploads {mib / without:6.1f} MiB/s, with "
                  f"{mib / with_uploads:6.1f} MiB/s, ratio {ratios[-1]:.3f}", flush=True)
    finally:
        server.stop()
        if moto:
            moto.kill()
            moto.wait()
    ratios.sort()
    n = len(ratios)
    median = ratios[n // 2] if n % 2 else (ratios[n // 2 - 1] + ratios[n // 2]) / 2
    print(f"-- store {store}: {n} ABBA rounds of {count * RECORD >> 20} MiB per topic: "
          f"produce ratio with/without uploads median {median:.3f}, "
          f"min {ratios[0]:.3f}, max {ratios[-1]:.3f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=200, help="MiB produced per topic")
    ap.add_argument("--stores", default="file,moto", help="file, moto or both")
    ap.add_argument("--produce-rounds", type=int, default=0,
                    help="only the produce ratio, this many ABBA rounds")
    args = ap.parse_args()
    count = args.mb * 1024 * 1024 // RECORD
    if args.produce_rounds:
        for store in args.stores.split(","):
            with tempfile.TemporaryDirectory() as tmp:
                produce_rounds(store, count, args.produce_rounds, Path(tmp))
        return
    for store in args.stores.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            run(store, count, Path(tmp))


if __name__ == "__main__":
    main()
