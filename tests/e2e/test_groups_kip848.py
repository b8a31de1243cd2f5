"""KIP-848's consumer group protocol with confluent-kafka (`group.protocol=consumer`): members
share partitions with the server-side assignors (`uniform`, `range`), every record is processed
exactly once across joins and clean leaves, a SIGKILLed member's partitions move after the
session timeout, a regex subscription picks up a new topic, a SIGKILLed Strom resumes the group
with its epochs and assignments (persisted in `__consumer_offsets`), and AdminClient describes and lists the group with its type (classic and consumer members
of one group: test_groups_mixed.py)."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
from confluent_kafka import Consumer, ConsumerGroupType, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic

from kafka_group_records import latest, read_offsets_topic
from kafka_support import write_config
from kip848_describe import describe as describe_wire

HERE = Path(__file__).resolve().parent
SESSION_MS = 3000
HEARTBEAT_MS = 300
# Long enough for librdkafka to find the restarted coordinator before its session runs out.
RESTART_SESSION_MS = 15000


def start(strom_factory, tmp_path, session_ms=SESSION_MS):
    config = write_config(
        tmp_path,
        group_consumer_session_timeout_ms=session_ms,
        group_consumer_heartbeat_interval_ms=HEARTBEAT_MS,
    )
    return strom_factory(extra_args=["--config", str(config)]).start()


def create_topic(bootstrap, name, partitions):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(name, partitions, 1)]).values():
        future.result(timeout=10)


def produce(bootstrap, topic, values, partitions):
    producer = Producer({"bootstrap.servers": bootstrap})
    for i, value in enumerate(values):
        producer.produce(topic, value=value.encode(), partition=i % partitions)
    assert producer.flush(30) == 0


def wait_until(predicate, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Member:
    """One kip848_consumer.py process and what it has written."""

    def __init__(self, tmp_path, name, bootstrap, group, subscription, assignor="-", instance_id=None):
        self.output = tmp_path / f"{name}.out"
        self.stopfile = tmp_path / f"{name}.stop"
        args = [sys.executable, str(HERE / "kip848_consumer.py"), bootstrap, group, subscription,
                str(self.output), str(self.stopfile), assignor]
        if instance_id:
            args.append(instance_id)
        self.proc = subprocess.Popen(args)

    def lines(self):
        try:
            return self.output.read_text().splitlines()
        except FileNotFoundError:
            return []

    def assignment(self):
        """The (topic, partition)s owned now."""
        current = set()
        for line in self.lines():
            kind, *parts = line.split()
            if kind not in ("ASSIGN", "REVOKE"):
                continue
            tps = {(tp.rsplit(":", 1)[0], int(tp.rsplit(":", 1)[1])) for tp in parts}
            if kind == "ASSIGN":
                current |= tps
            elif kind == "REVOKE":
                current -= tps
        return current

    def records(self):
        return [tuple(line.split()[1:]) for line in self.lines() if line.startswith("REC ")]

    def stop(self):
        self.stopfile.touch()
        self.proc.wait(timeout=30)

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)


def covers(members, topic, partitions):
    """Every partition owned by exactly one member."""
    owned = [tp for m in members for tp in m.assignment() if tp[0] == topic]
    return sorted(owned) == [(topic, p) for p in range(partitions)]


def kill_all(members):
    for m in members:
        if m.proc.poll() is None:
            m.kill()


def committed(bootstrap, group, topic, partitions):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        return [tp.offset for tp in consumer.committed(tps, timeout=10)]
    finally:
        consumer.close()


def test_three_members_share_eight_partitions_exactly_once(strom_factory, tmp_path):
    strom = start(strom_factory, tmp_path)
    create_topic(strom.bootstrap, "orders", 8)
    members = [Member(tmp_path, "c0", strom.bootstrap, "workers", "orders")]
    try:
        wait_until(lambda: covers(members, "orders", 8), 30, "the first member to own all 8")
        produce(strom.bootstrap, "orders", [f"a{i}" for i in range(200)], 8)
        members += [Member(tmp_path, f"c{i}", strom.bootstrap, "workers", "orders") for i in (1, 2)]
        produce(strom.bootstrap, "orders", [f"b{i}" for i in range(200)], 8)
        wait_until(
            lambda: covers(members, "orders", 8) and sorted(len(m.assignment()) for m in members) == [2, 3, 3],
            40, "three members sharing 8 partitions 3/3/2",
        )
        members[1].stop()
        wait_until(lambda: covers([members[0], members[2]], "orders", 8), 30, "two members covering 8")
        produce(strom.bootstrap, "orders", [f"c{i}" for i in range(200)], 8)
        processed = lambda: [r[3] for m in members for r in m.records()]
        wait_until(lambda: len(set(processed())) >= 600, 60, "all 600 records processed")
        values = processed()
        assert len(values) == len(set(values)) == 600, f"{len(values) - len(set(values))} duplicates"
        for m in (members[0], members[2]):
            m.stop()
        assert committed(strom.bootstrap, "workers", "orders", 8) == [75] * 8
    finally:
        kill_all(members)


def test_killed_members_partitions_move_after_the_session_timeout(strom_factory, tmp_path):
    strom = start(strom_factory, tmp_path)
    create_topic(strom.bootstrap, "jobs", 4)
    members = [Member(tmp_path, f"k{i}", strom.bootstrap, "killers", "jobs") for i in range(2)]
    try:
        wait_until(lambda: covers(members, "jobs", 4) and all(m.assignment() for m in members), 40,
                   "two members sharing 4 partitions")
        victim, survivor = members
        victim.kill()
        killed_at = time.time()
        wait_until(lambda: len(survivor.assignment()) == 4, 30, "the killed member's partitions to move")
        moved_after = time.time() - killed_at
        assert moved_after >= SESSION_MS / 1000 * 0.8, f"moved after {moved_after:.1f}s, before the session timeout"
        produce(strom.bootstrap, "jobs", [f"j{i}" for i in range(40)], 4)
        wait_until(lambda: len(survivor.records()) >= 40, 30, "the survivor to consume everything")
    finally:
        kill_all(members)


def describe(bootstrap, group):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    return admin.describe_consumer_groups([group])[group].result(timeout=10)


def check_http_view(strom, group, assignor, pair):
    """`GET /v1/groups/{g}` (the console's group page) shows the KIP-848 group's own state,
    assignor and members with their partitions; a reset while it has members is refused."""
    view = requests.get(f"{strom.http}/v1/groups/{group}", timeout=10).json()
    assert (view["state"], view["protocol_type"], view["protocol"]) == ("Stable", "consumer", assignor), view
    shown = sorted(sorted((t, p) for t, ps in m["assignment"].items() for p in ps) for m in view["members"])
    assert shown == sorted(sorted(m.assignment()) for m in pair), view
    reset = requests.post(f"{strom.http}/v1/groups/{group}/offsets/reset", timeout=10,
                          json={"topics": ["x"], "to": "earliest", "execute": True})
    assert reset.status_code == 409, reset.text


def test_range_and_uniform_assignors_and_describe(strom_factory, tmp_path):
    strom = start(strom_factory, tmp_path)
    for topic in ("x", "y"):
        create_topic(strom.bootstrap, topic, 3)
    members = []
    try:
        for assignor, group in (("range", "ranged"), ("uniform", "uniformed")):
            pair = [Member(tmp_path, f"{group}{i}", strom.bootstrap, group, "x,y", assignor) for i in range(2)]
            members += pair
            wait_until(lambda: covers(pair, "x", 3) and covers(pair, "y", 3) and all(m.assignment() for m in pair),
                       40, f"two {assignor} members sharing x and y")
            sizes = sorted(len(m.assignment()) for m in pair)
            # range: per topic 2+1, the same member first on both; uniform: 3 and 3.
            assert sizes == ([2, 4] if assignor == "range" else [3, 3]), (assignor, sizes)
            wait_until(lambda: describe(strom.bootstrap, group).state.name == "STABLE", 20, "a stable group")
            description = describe(strom.bootstrap, group)
            assert description.type == ConsumerGroupType.CONSUMER
            assert description.partition_assignor == assignor
            assert len(description.members) == 2
            described = sorted(
                sorted((tp.topic, tp.partition) for tp in m.assignment.topic_partitions)
                for m in description.members
            )
            assert described == sorted(sorted(m.assignment()) for m in pair)
            check_http_view(strom, group, assignor, pair)
        admin = AdminClient({"bootstrap.servers": strom.bootstrap})
        listed = {g.group_id: g for g in admin.list_consumer_groups().result(timeout=10).valid}
        assert listed["ranged"].type == ConsumerGroupType.CONSUMER
        assert listed["uniformed"].type == ConsumerGroupType.CONSUMER
    finally:
        kill_all(members)


def test_regex_subscription_picks_up_new_topics_and_partitions(strom_factory, tmp_path):
    strom = start(strom_factory, tmp_path)
    create_topic(strom.bootstrap, "logs-a", 2)
    create_topic(strom.bootstrap, "other", 2)
    member = Member(tmp_path, "re", strom.bootstrap, "regexers", "^logs-.*")
    try:
        wait_until(lambda: member.assignment() == {("logs-a", 0), ("logs-a", 1)}, 30, "logs-a assigned")
        create_topic(strom.bootstrap, "logs-b", 2)
        wait_until(lambda: {("logs-b", 0), ("logs-b", 1)} <= member.assignment(), 30, "logs-b assigned")
        admin = AdminClient({"bootstrap.servers": strom.bootstrap})
        admin.create_partitions([NewPartitions("logs-a", 3)])["logs-a"].result(timeout=10)
        wait_until(lambda: ("logs-a", 2) in member.assignment(), 30, "the new partition assigned")
        produce(strom.bootstrap, "logs-b", [f"b{i}" for i in range(10)], 2)
        wait_until(lambda: len(member.records()) >= 10, 30, "logs-b consumed")
        assert all(r[0] == "logs-b" for r in member.records())
        assert not any(tp[0] == "other" for tp in member.assignment())
    finally:
        kill_all([member])


def assignment_lines(members):
    return [[line for line in m.lines() if line.startswith(("ASSIGN", "REVOKE"))] for m in members]


def test_a_sigkilled_strom_resumes_the_group_with_its_epochs_and_assignments(strom_factory, tmp_path):
    """The group's epoch, members and assignments are in `__consumer_offsets` (Kafka's record
    types 3-8): after a SIGKILL and restart the same three consumers heartbeat on at their
    epochs, keep their partitions (no revocation, no rejoin), and every record is processed
    once, but for a record whose commit the kill cut off."""
    strom = start(strom_factory, tmp_path, session_ms=RESTART_SESSION_MS)
    create_topic(strom.bootstrap, "events", 8)
    produce(strom.bootstrap, "events", [f"e{i}" for i in range(150)], 8)
    members = [Member(tmp_path, f"r{i}", strom.bootstrap, "resumers", "events") for i in range(3)]
    try:
        stable = lambda: (covers(members, "events", 8) and all(m.assignment() for m in members)
                          and describe_wire(strom.bootstrap, "resumers")["state"] == "Stable")
        wait_until(stable, 40, "three members sharing 8 partitions, the group Stable")
        wait_until(lambda: len({r[3] for m in members for r in m.records()}) >= 150, 40, "the first 150 consumed")
        before = describe_wire(strom.bootstrap, "resumers")
        epochs = {m: d["member_epoch"] for m, d in before["members"].items()}
        lines = assignment_lines(members)
        records = read_offsets_topic(strom.bootstrap)
        live = {ident: value for ident, (_, value) in latest(records).items() if value is not None}
        assert live[("consumer-metadata", "resumers", None, None)]["epoch"] == before["group_epoch"]
        topics = live[("consumer-partition-metadata", "resumers", None, None)]["topics"]
        assert [(t["topicName"], t["numPartitions"]) for t in topics] == [("events", 8)], topics
        stored_members = {i[2] for i in live if i[0] == "consumer-member" and i[1] == "resumers"}
        assert stored_members == set(before["members"])
        for member_id, d in before["members"].items():
            current = live[("consumer-current-assignment", "resumers", member_id, None)]
            assert current["memberEpoch"] == d["member_epoch"]
            assert sum(len(t["partitions"]) for t in current["assignedPartitions"]) == sum(
                len(ps) for ps in d["assignment"].values())

        strom.kill()
        strom.start()
        after = describe_wire(strom.bootstrap, "resumers")
        assert (after["group_epoch"], after["assignment_epoch"]) == (before["group_epoch"], before["assignment_epoch"])
        assert {m: d["member_epoch"] for m, d in after["members"].items()} == epochs
        assert {m: d["assignment"] for m, d in after["members"].items()} == {
            m: d["assignment"] for m, d in before["members"].items()}
        produce(strom.bootstrap, "events", [f"f{i}" for i in range(150)], 8)
        processed = lambda: [r[3] for m in members for r in m.records()]
        wait_until(lambda: len(set(processed())) >= 300, 60, "the next 150 after the restart")
        values = processed()
        # Commit after process: only a record per partition whose commit the kill cut off.
        assert len(values) - len(set(values)) <= 8, f"{len(values) - len(set(values))} duplicates"
        assert set(values) == {f"e{i}" for i in range(150)} | {f"f{i}" for i in range(150)}
        assert assignment_lines(members) == lines, "no revocation or new assignment after the restart"
        again = describe_wire(strom.bootstrap, "resumers")
        assert {m: d["member_epoch"] for m, d in again["members"].items()} == epochs
        for m in members:
            m.stop()
        assert committed(strom.bootstrap, "resumers", "events", 8) == [38] * 6 + [36] * 2
    finally:
        kill_all(members)
