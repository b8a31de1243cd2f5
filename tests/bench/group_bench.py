"""Consumer-group benchmark (not part of the default test run).

Measures, against the real binary with librdkafka consumers:
  1. failover: time from SIGKILL of a member (no LeaveGroup) until the survivor owns all
     partitions, as a ratio of the configured session timeout (the floor: the coordinator
     cannot know sooner);
  2. join: time from starting a new member until the group is balanced again, as a ratio of
     the heartbeat interval (members learn of a rebalance from their next heartbeat);
  3. commit throughput: OffsetCommits per second (1 and 8 clients, each waiting for every
     answer), as a ratio of acks=all single-record produces per second measured the same way
     in the same run (both are one round trip plus one append to a log).

usage: STROM_BIN=target/release/strom python3 tests/bench/group_bench.py [--rounds N]
"""

import argparse
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from conftest import Strom  # noqa: E402
import test_groups_confluent as groups  # noqa: E402
from group_wire import Wire  # noqa: E402
from kafka.protocol.commit import OffsetCommitRequest_v2  # noqa: E402
from kafka.protocol.produce import ProduceRequest_v3  # noqa: E402
from kafka.record.memory_records import MemoryRecordsBuilder  # noqa: E402


def create_topic(bootstrap, name, partitions):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(name, partitions, 1)]).values():
        future.result(timeout=10)


def timed_wait(predicate, timeout):
    start = time.time()
    while time.time() - start < timeout:
        if predicate():
            return time.time() - start
        time.sleep(0.02)
    raise RuntimeError("timed out")


def failover_and_join(server, tmp, session_ms, round_no):
    groups.SESSION_MS = session_ms
    topic, group = f"fail-{session_ms}-{round_no}", f"g-{session_ms}-{round_no}"
    create_topic(server.bootstrap, topic, 4)
    members = [groups.Member(tmp, f"{group}-{i}", server.bootstrap, group, topic) for i in range(2)]
    try:
        timed_wait(lambda: groups.balanced(members, 4), 60)
        members[0].kill()
        failover = timed_wait(lambda: groups.balanced(members[1:], 4), 60)
        joiner = groups.Member(tmp, f"{group}-join", server.bootstrap, group, topic)
        members.append(joiner)
        join = timed_wait(lambda: groups.balanced([members[1], joiner], 4), 60)
        return failover, join
    finally:
        for m in members:
            if m.proc.poll() is None:
                m.proc.send_signal(signal.SIGKILL)
                m.proc.wait()


def parallel_rate(workers, count, work):
    """Runs `work(worker_index, count)` in `workers` threads; returns operations per second."""
    threads = [threading.Thread(target=work, args=(w, count)) for w in range(workers)]
    start = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return workers * count / (time.time() - start)


def one_record_batch():
    builder = MemoryRecordsBuilder(magic=2, compression_type=0, batch_size=1 << 20)
    builder.append(timestamp=None, key=None, value=b"x" * 64, headers=[])
    builder.close()
    return builder.buffer()


def commit_throughput(server, workers, count):
    """Sequential request/response loops over raw connections, so client overhead is the same
    for both sides: acks=all produces of one record (the baseline: one round trip and one
    append) against OffsetCommits of one partition (one round trip and one append to
    `__consumer_offsets`)."""
    topic = f"commit-bench-{workers}"
    create_topic(server.bootstrap, topic, workers)
    batch = one_record_batch()

    def produce(w, n):
        wire = Wire(server.bootstrap)
        for _ in range(n):
            response = wire.call(ProduceRequest_v3(None, -1, 10_000, [(topic, [(w, batch)])]))
            assert response.topics[0][1][0][1] == 0
        wire.close()

    def commit(w, n):
        wire = Wire(server.bootstrap)
        for i in range(n):
            response = wire.call(OffsetCommitRequest_v2(f"{topic}-{w}", -1, "", -1, [(topic, [(w, i + 1, "")])]))
            assert response.topics[0][1][0][1] == 0
        wire.close()

    return parallel_rate(workers, count, produce), parallel_rate(workers, count, commit)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sessions", type=int, nargs="*", default=[2000, 4000, 6000])
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--fsync", default="interval", choices=["always", "interval", "never"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        server = Strom(tmp / "data", extra_args=["--fsync", args.fsync]).start()
        try:
            print(f"fsync={args.fsync}")
            print("session_ms  failover_s  failover/session  join_s  join/heartbeat")
            for session_ms in args.sessions:
                heartbeat_s = max(100, session_ms // 6) / 1000
                for r in range(args.rounds):
                    failover, join = failover_and_join(server, tmp, session_ms, r)
                    print(f"{session_ms:>10}  {failover:>10.2f}  {failover / (session_ms / 1000):>16.2f}"
                          f"  {join:>6.2f}  {join / heartbeat_s:>14.2f}")
            print("clients  produce/s (baseline)  commit/s  commit/produce")
            for workers in (1, 8):
                produce_rate, commit_rate = commit_throughput(server, workers, args.commits // workers)
                print(f"{workers:>7}  {produce_rate:>20,.0f}  {commit_rate:>8,.0f}  {commit_rate / produce_rate:>14.2f}")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
