"""Consumer groups with confluent-kafka (librdkafka): partitions shared out among the members
of a group, moved away from a member killed without leaving once its session times out,
every record processed with commit-after-process, committed offsets that survive broker
restarts and SIGKILL, incremental (cooperative-sticky) rebalancing, and static members
(`group.instance.id`) that take their place back after a restart."""

import signal
import subprocess
import sys
import time
from pathlib import Path

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

HERE = Path(__file__).resolve().parent
SESSION_MS = 3000


def create_topic(bootstrap, name, partitions):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(name, partitions, 1)]).values():
        future.result(timeout=10)


def produce(bootstrap, topic, values, partitions):
    producer = Producer({"bootstrap.servers": bootstrap})
    for i, value in enumerate(values):
        producer.produce(topic, value=value.encode(), partition=i % partitions)
    assert producer.flush(30) == 0


class Member:
    """One group_consumer.py process and what it has written."""

    def __init__(self, tmp_path, name, bootstrap, group, topic, strategy="range", instance_id=None,
                 session_ms=None):
        self.output = tmp_path / f"{name}.out"
        self.stopfile = tmp_path / f"{name}.stop"
        args = [sys.executable, str(HERE / "group_consumer.py"), bootstrap, group, topic,
                str(self.output), str(self.stopfile), str(session_ms or SESSION_MS), strategy]
        if instance_id:
            args.append(instance_id)
        self.proc = subprocess.Popen(args)

    def lines(self):
        try:
            return self.output.read_text().splitlines()
        except FileNotFoundError:
            return []

    def assignment(self):
        """The partitions owned now, or None while it owns none."""
        current = set()
        for line in self.lines():
            if line.startswith("ASSIGN"):
                current |= {int(p) for p in line.split()[1:]}
            elif line.startswith("REVOKE"):
                current -= {int(p) for p in line.split()[1:]}
        return sorted(current) or None

    def records(self):
        return [tuple(line.split()[1:]) for line in self.lines() if line.startswith("REC ")]

    def stop(self):
        self.stopfile.touch()
        self.proc.wait(timeout=30)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


def wait_until(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def balanced(members, partitions):
    shares = [m.assignment() for m in members]
    if any(s is None for s in shares):
        return False
    flat = [p for s in shares for p in s]
    return sorted(flat) == list(range(partitions)) and all(len(s) == partitions // len(members) for s in shares)


def test_members_share_partitions_and_a_killed_members_partitions_move(strom, tmp_path):
    create_topic(strom.bootstrap, "orders", 6)
    members = [Member(tmp_path, f"c{i}", strom.bootstrap, "workers", "orders") for i in range(3)]
    try:
        wait_until(lambda: balanced(members, 6), 40, "three members with two partitions each")
        first = [f"a{i}" for i in range(300)]
        produce(strom.bootstrap, "orders", first, 6)
        processed = lambda: [r for m in members for r in m.records()]
        wait_until(lambda: len(processed()) >= len(first), 40, "the first batch to be processed")
        values = [r[2] for r in processed()]
        assert sorted(values) == sorted(first), "each record processed exactly once"
        for m in members:
            owned = set(m.assignment())
            assert all(int(p) in owned for p, _, _ in m.records()), "records only from own partitions"

        victim, survivors = members[0], members[1:]
        victim_partitions = victim.assignment()
        victim.kill()
        killed_at = time.time()
        wait_until(lambda: balanced(survivors, 6), 30, "the killed member's partitions to move")
        moved_after = time.time() - killed_at
        # The survivors learn of the rebalance from a heartbeat once the session timed out.
        assert moved_after >= SESSION_MS / 1000 * 0.8, f"moved after {moved_after:.1f}s, before the session timeout"

        second = [f"b{i}" for i in range(300)]
        produce(strom.bootstrap, "orders", second, 6)
        wait_until(
            lambda: {v for _, _, v in processed()} >= set(first + second), 40, "every record to be processed"
        )
        all_values = [v for _, _, v in processed()]
        duplicates = len(all_values) - len(set(all_values))
        # Commit after process: only a record the victim processed but had not committed yet
        # may be processed again, at most one per partition it owned.
        assert duplicates <= len(victim_partitions), f"{duplicates} duplicates"
        survivor_values = [v for m in survivors for _, _, v in m.records()]
        assert len(survivor_values) == len(set(survivor_values)), "live members never repeat work"
        for m in survivors:
            m.stop()
        committed = Consumer({"bootstrap.servers": strom.bootstrap, "group.id": "workers"}).committed(
            [TopicPartition("orders", p) for p in range(6)], timeout=10
        )
        assert [tp.offset for tp in committed] == [100] * 6
    finally:
        for m in members:
            if m.proc.poll() is None:
                m.kill()


def committed(bootstrap, group, topic, partitions):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        return [tp.offset for tp in consumer.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)]
    finally:
        consumer.close()


def commit(bootstrap, group, topic, offsets):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        consumer.commit(offsets=[TopicPartition(topic, p, o) for p, o in enumerate(offsets)], asynchronous=False)
    finally:
        consumer.close()


def test_committed_offsets_survive_restart_and_sigkill(strom, tmp_path):
    create_topic(strom.bootstrap, "events", 3)
    produce(strom.bootstrap, "events", [str(i) for i in range(30)], 3)
    commit(strom.bootstrap, "readers", "events", [3, 5, 7])
    strom.restart()
    assert committed(strom.bootstrap, "readers", "events", 3) == [3, 5, 7]
    commit(strom.bootstrap, "readers", "events", [4, 6, 8])
    strom.kill()
    strom.start()
    assert committed(strom.bootstrap, "readers", "events", 3) == [4, 6, 8]

    # A group member resumes exactly where the group left off.
    consumer = Consumer(
        {"bootstrap.servers": strom.bootstrap, "group.id": "readers", "auto.offset.reset": "earliest",
         "enable.auto.commit": False, "session.timeout.ms": SESSION_MS}
    )
    consumer.subscribe(["events"])
    seen = {}
    deadline = time.time() + 30
    while sum(len(v) for v in seen.values()) < 30 - 18 and time.time() < deadline:
        message = consumer.poll(0.5)
        if message is not None and not message.error():
            seen.setdefault(message.partition(), []).append(message.offset())
    consumer.close()
    assert {p: min(o) for p, o in seen.items()} == {0: 4, 1: 6, 2: 8}


def test_cooperative_sticky_members_rebalance_incrementally(strom, tmp_path):
    create_topic(strom.bootstrap, "coop", 4)
    first = Member(tmp_path, "coop0", strom.bootstrap, "coop-group", "coop", "cooperative-sticky")
    members = [first]
    try:
        wait_until(lambda: balanced(members, 4), 30, "the first member to own everything")
        second = Member(tmp_path, "coop1", strom.bootstrap, "coop-group", "coop", "cooperative-sticky")
        members.append(second)
        wait_until(lambda: balanced(members, 4), 40, "two members with two partitions each")
        # Incremental: the first member only gave up what moved, it never revoked everything.
        revokes = [line.split()[1:] for line in first.lines() if line.startswith("REVOKE")]
        assert revokes and all(len(r) < 4 for r in revokes)
        second.kill()
        wait_until(lambda: balanced([first], 4), 30, "the killed member's partitions to return")
    finally:
        for m in members:
            if m.proc.poll() is None:
                m.kill()


def test_a_restarted_static_member_gets_its_partitions_back(strom, tmp_path):
    session_ms = 15000

    def member(name, instance):
        return Member(tmp_path, name, strom.bootstrap, "static-group", "static", instance_id=instance,
                      session_ms=session_ms)

    create_topic(strom.bootstrap, "static", 4)
    a, b = member("a", "instance-a"), member("b", "instance-b")
    members = [a, b]
    try:
        wait_until(lambda: balanced(members, 4), 40, "two static members with two partitions each")
        # Range over instance ids: instance-a gets the first half, whoever joined first.
        assert a.assignment() == [0, 1] and b.assignment() == [2, 3]
        b.kill()
        killed_at = time.time()
        seen_by_a = len(a.lines())
        restarted = member("b2", "instance-b")
        members.append(restarted)
        wait_until(lambda: restarted.assignment() == [2, 3], 30, "the restarted instance to get its partitions")
        # KIP-345: the instance took its old place; nobody waited for its session to expire and
        # its partitions never went to the other member.
        assert time.time() - killed_at < session_ms / 1000
        later = a.lines()[seen_by_a:]
        assert all(set(line.split()[1:]) <= {"0", "1"} for line in later if line.startswith("ASSIGN"))
    finally:
        for m in members:
            if m.proc.poll() is None:
                m.kill()
