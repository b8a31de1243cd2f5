"""What fetch sessions (KIP-227) could save: the cost of full fetches with many partitions.

Strom answers every Fetch as a full fetch (session id 0): the consumer lists all its
partitions in each request and the answer lists them all again. KIP-227's incremental fetch
sessions send only the partitions that changed. This measures what the full fetches cost, so
the decision to build sessions rests on a figure (not part of the default test run):

    cargo build --release -p strom
    STROM_BIN=target/release/strom python3 tests/bench/fetch_sessions_bench.py --partitions 100,1000,4000

For each partition count one confluent-kafka consumer is assigned every partition of a fresh
topic, and a producer writes `--rate` small records a second spread over the partitions (so
fetches return often, each one re-listing all partitions). Over `--seconds` it reports Fetch
requests per second (from `strom_kafka_requests_total`), the server's CPU per second and per
Fetch, and the same with no producer (idle: fetches wait `fetch.wait.max.ms`). The baseline
for the ratio is the 100-partition run of the same kind in the same run.

`--consumers confluent,kp-sessions,kp-full` repeats each row per consumer: confluent-kafka
(librdkafka: full fetches, no sessions), and kafka-python >= 2.1 (tests/install-deps.sh puts
it in tests/e2e/.kafka-python-sessions) with incremental fetch sessions (KIP-227) on or off,
so sessions are compared with full fetches of the same client in the same run (`none`: the
producer alone, whose CPU every loaded row includes; subtract it for the fetches' share):

    STROM_BIN=target/release/strom python3 tests/bench/fetch_sessions_bench.py \
        --partitions 1000 --consumers kp-sessions,kp-full
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from confluent_kafka import Consumer, Producer, TopicPartition  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from conftest import Strom  # noqa: E402

TICK = 100  # clock ticks per second (USER_HZ)


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def fetches(http):
    text = urllib.request.urlopen(f"{http}/metrics", timeout=10).read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith("strom_kafka_requests_total") and 'api="Fetch"' in line:
            total += float(re.split(r"\s+", line)[-1])
    return total


def kafka_python(server, topic, partitions, sessions):
    """The kafka-python >= 2.1 consumer of tests/e2e/kp_session_consumer.py, as a process."""
    lib = ROOT / "tests" / "e2e" / ".kafka-python-sessions"
    if not (lib / "kafka").is_dir():
        sys.exit(f"run tests/install-deps.sh: no {lib}")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "e2e" / "kp_session_consumer.py"), server.bootstrap,
         topic, str(partitions), "-1", "read_uncommitted", "1" if sessions else "0"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(lib)})
    proc.stdout.readline()  # "ready"
    return proc


def measure(server, partitions, rate, seconds, run_no, kind="confluent"):
    topic = f"fs-{partitions}-{rate}-{run_no}-{kind}"
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    for f in admin.create_topics([NewTopic(topic, partitions, 1)]).values():
        f.result(timeout=300)
    stop = threading.Event()
    received = [0]
    if kind == "confluent":
        consumer = Consumer({"bootstrap.servers": server.bootstrap, "group.id": f"g-{topic}",
                             "enable.auto.commit": False, "auto.offset.reset": "earliest"})
        consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    elif kind != "none":
        consumer = kafka_python(server, topic, partitions, kind == "kp-sessions")

    def consume():
        while kind == "confluent" and not stop.is_set():
            m = consumer.poll(0.2)
            if m is not None and m.error() is None:
                received[0] += 1

    def produce():
        producer = Producer({"bootstrap.servers": server.bootstrap, "linger.ms": 0})
        n = 0
        while not stop.is_set() and rate > 0:
            producer.produce(topic, b"x" * 64, partition=n % partitions)
            producer.poll(0)
            n += 1
            time.sleep(1 / rate)
        producer.flush(10)

    threads = [threading.Thread(target=consume), threading.Thread(target=produce)]
    for t in threads:
        t.start()
    time.sleep(3)  # the consumer's first fetches and metadata settle
    f0, c0, t0 = fetches(server.http), cpu_seconds(server.proc.pid), time.time()
    time.sleep(seconds)
    f1, c1, t1 = fetches(server.http), cpu_seconds(server.proc.pid), time.time()
    stop.set()
    for t in threads:
        t.join()
    if kind == "confluent":
        consumer.close()
    elif kind != "none":
        consumer.terminate()
        consumer.wait(30)
    admin.delete_topics([topic])
    elapsed = t1 - t0
    n = max(f1 - f0, 1.0)
    return {"fetch_per_s": n / elapsed, "cpu_per_s": (c1 - c0) / elapsed,
            "us_per_fetch": (c1 - c0) / n * 1e6, "received": received[0]}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--partitions", default="100,1000,4000")
    ap.add_argument("--rate", type=int, default=200, help="records a second while loaded")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--consumers", default="confluent",
                    help="comma-separated: confluent, kp-sessions, kp-full, none (the producer"
                    " alone: its CPU is in every loaded row)")
    ap.add_argument("--loads", default="idle,loaded", help="idle, loaded or both")
    args = ap.parse_args()
    counts = [int(x) for x in args.partitions.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        server = Strom(Path(tmp) / "data")
        server.start()
        try:
            print("consumer     partitions  load     fetches/s  server CPU %  server µs/fetch"
                  "  x the first row of its load")
            base = {}
            rates = [r for name, r in (("idle", 0), ("loaded", args.rate)) if name in args.loads]
            for i, p in enumerate(counts):
                for rate in rates:
                    for kind in args.consumers.split(","):
                        r = measure(server, p, rate, args.seconds, i, kind)
                        load = "idle" if rate == 0 else f"{rate}/s"
                        base.setdefault(load, r["cpu_per_s"] or 1e-9)
                        print(f"{kind:<12} {p:>10}  {load:<7} {r['fetch_per_s']:>9.1f}"
                              f"  {r['cpu_per_s'] * 100:>12.1f}  {r['us_per_fetch']:>15.0f}"
                              f"  {r['cpu_per_s'] / base[load]:>6.2f}", flush=True)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
