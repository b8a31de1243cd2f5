"""Benchmark (explicit command, not part of the suite): transactional produce committing every
100 ms against idempotent produce, in the same run, and read_committed against
read_uncommitted fetch of the same data. Starts its own server.

    STROM_BIN=target/release/strom python3 tests/e2e/bench_transactions.py [seconds]"""

import sys
import tempfile
import time
from pathlib import Path

import confluent_kafka as ck

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import Strom  # noqa: E402
from kafka_support import create_topic  # noqa: E402

VALUE = b"x" * 100


def produce(bootstrap, topic, seconds, transactional):
    conf = {"bootstrap.servers": bootstrap, "enable.idempotence": True, "linger.ms": 5}
    if transactional:
        conf["transactional.id"] = f"bench-{time.time()}"
    p = ck.Producer(conf)
    if transactional:
        p.init_transactions(30)
        p.begin_transaction()
    sent, start = 0, time.time()
    last_commit = start
    while time.time() - start < seconds:
        for _ in range(1000):
            while True:
                try:
                    p.produce(topic, value=VALUE)
                    break
                except BufferError:
                    p.poll(0.01)
        sent += 1000
        p.poll(0)
        if transactional and time.time() - last_commit >= 0.1:
            p.commit_transaction(30)
            p.begin_transaction()
            last_commit = time.time()
    if transactional:
        p.commit_transaction(30)
    p.flush(60)
    return sent / (time.time() - start)


def fetch(bootstrap, topic, isolation, count):
    c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": f"b-{isolation}-{time.time()}",
                     "isolation.level": isolation, "enable.auto.commit": False})
    c.assign([ck.TopicPartition(topic, 0, ck.OFFSET_BEGINNING)])
    got, start = 0, time.time()
    while got < count and time.time() - start < 120:
        got += len([m for m in c.consume(10000, 1.0) if not m.error()])
    elapsed = time.time() - start
    c.close()
    return got / elapsed


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 10
    with tempfile.TemporaryDirectory() as tmp:
        server = Strom(Path(tmp) / "data").start()
        try:
            create_topic(server.bootstrap, "idem", 1)
            create_topic(server.bootstrap, "txn", 1)
            idem = produce(server.bootstrap, "idem", seconds, False)
            txn = produce(server.bootstrap, "txn", seconds, True)
            print(f"produce msgs/s: idempotent {idem:.0f}, transactional (commit/100ms) {txn:.0f}, ratio {txn / idem:.2f}")
            n = int(txn * seconds * 0.95)
            unc = fetch(server.bootstrap, "txn", "read_uncommitted", n)
            com = fetch(server.bootstrap, "txn", "read_committed", n)
            print(f"fetch msgs/s of the transactional topic: read_uncommitted {unc:.0f}, read_committed {com:.0f}, ratio {com / unc:.2f}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
