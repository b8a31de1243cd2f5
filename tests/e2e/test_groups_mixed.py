"""Classic and KIP-848 members in one group (Kafka's online migration, `bidirectional` policy),
with confluent-kafka: a `group.protocol=consumer` member and a `group.protocol=classic` member
(cooperative-sticky) share a topic's partitions, the classic one leaves and the consumer one
takes everything, a REST Proxy v2 consumer instance (a classic member inside Strom) joins the
consumer group, reads its share and leaves; every record is consumed exactly once across them.
A consumer member joining a group of classic members upgrades it, and when it leaves the group
is classic again. A SIGKILLed Strom restarts with the mixed group whole: both members keep
their places and the committed offsets hold (no record lost or read twice)."""

import base64
import os
import subprocess
import sys
import time

import requests
from confluent_kafka.admin import AdminClient

from kafka_group_records import decode_classic_member_metadata, latest, read_offsets_topic
from kip848_describe import describe as describe_wire
from test_groups_kip848 import (HERE, RESTART_SESSION_MS, Member, committed, covers, create_topic, kill_all,
                                produce, start, wait_until)

TOPIC = "mixed"
PARTITIONS = 4
V2 = {"content-type": "application/vnd.kafka.v2+json"}
BINARY = {"accept": "application/vnd.kafka.binary.v2+json"}


class ClassicMember(Member):
    """kip848_consumer.py as a classic member (`GROUP_PROTOCOL=classic`)."""

    def __init__(self, tmp_path, name, bootstrap, group, session_ms=6000):
        self.output = tmp_path / f"{name}.out"
        self.stopfile = tmp_path / f"{name}.stop"
        args = [sys.executable, str(HERE / "kip848_consumer.py"), bootstrap, group, TOPIC,
                str(self.output), str(self.stopfile)]
        env = {**os.environ, "GROUP_PROTOCOL": "classic", "CLASSIC_SESSION_MS": str(session_ms)}
        self.proc = subprocess.Popen(args, env=env)


class HttpInstance:
    """A REST Proxy v2 consumer instance (binary format, auto commit) of `group`."""

    def __init__(self, strom, group, name):
        r = requests.post(f"{strom.http}/consumers/{group}", headers=V2, timeout=10,
                          json={"name": name, "format": "binary", "auto.offset.reset": "earliest",
                                "auto.commit.enable": "true"})
        assert r.status_code == 200, r.text
        self.base = f"{strom.http}/consumers/{group}/instances/{name}"
        r = requests.post(f"{self.base}/subscription", headers=V2, json={"topics": [TOPIC]}, timeout=10)
        assert r.status_code == 204, r.text
        self.values = []
        self.deleted = False

    def assignment(self):
        r = requests.get(f"{self.base}/assignments", headers=V2, timeout=10)
        return {(p["topic"], p["partition"]) for p in r.json()["partitions"]}

    def poll(self):
        if self.deleted:
            return
        r = requests.get(f"{self.base}/records", headers=BINARY, params={"timeout": 200}, timeout=10)
        assert r.status_code == 200, r.text
        self.values += [base64.b64decode(rec["value"]).decode() for rec in r.json()]

    def delete(self):
        assert requests.delete(self.base, timeout=10).status_code == 204
        self.deleted = True


def group_type(bootstrap, group):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    listing = admin.list_consumer_groups().result(timeout=10)
    types = {g.group_id: g.type.name for g in listing.valid}
    return types.get(group)


def classic_metadata(bootstrap, group):
    """ClassicMemberMetadata of each live member record of `group` in `__consumer_offsets`,
    decoded with Kafka's schema (None for a member of the consumer protocol)."""
    live = latest(read_offsets_topic(bootstrap))
    return [decode_classic_member_metadata(value["tags"][0]) if "tags" in value else None
            for (kind, g, _, _), (_, value) in live.items()
            if kind == "consumer-member" and g == group and value is not None]


def consumed(members, http=()):
    values = [r[3] for m in members for r in m.records()]
    return values + [v for h in http for v in h.values]


def wait_consumed(members, http, expected, what, timeout=20):
    def done():
        for h in http:
            h.poll()
        return len(consumed(members, http)) >= len(expected)

    wait_until(done, timeout, what)
    got = consumed(members, http)
    assert sorted(got) == sorted(expected), f"{len(got)} records for {len(expected)}: duplicates or losses"


def test_classic_consumer_and_http_members_share_one_group_exactly_once(strom_factory, tmp_path):
    strom = start(strom_factory, tmp_path)
    create_topic(strom.bootstrap, TOPIC, PARTITIONS)
    group = "mixed-group"
    consumer = Member(tmp_path, "consumer", strom.bootstrap, group, TOPIC)
    classic = ClassicMember(tmp_path, "classic", strom.bootstrap, group)
    members = [consumer, classic]
    http = None
    try:
        expected = [f"a{i}" for i in range(100)]
        produce(strom.bootstrap, TOPIC, expected, PARTITIONS)
        wait_until(lambda: covers(members, TOPIC, PARTITIONS) and all(m.assignment() for m in members),
                   20, "the consumer and the classic member to share the partitions")
        assert group_type(strom.bootstrap, group) == "CONSUMER"
        # The classic member is persisted with Kafka's ClassicMemberMetadata (tag 0).
        assert sorted(classic_metadata(strom.bootstrap, group), key=str) == [
            None, {"sessionTimeoutMs": 6000, "protocols": ["cooperative-sticky"]}]
        batch = [f"b{i}" for i in range(100)]
        produce(strom.bootstrap, TOPIC, batch, PARTITIONS)
        expected += batch
        wait_consumed(members, [], expected, "the first two batches")
        # The classic member leaves: the consumer member takes everything.
        classic.stop()
        wait_until(lambda: covers([consumer], TOPIC, PARTITIONS), 20, "the consumer member to own all")
        batch = [f"c{i}" for i in range(100)]
        produce(strom.bootstrap, TOPIC, batch, PARTITIONS)
        expected += batch
        wait_consumed(members, [], expected, "the batch after the classic member left")
        # A REST Proxy instance joins the consumer group, gets a share, and reads it.
        http = HttpInstance(strom, group, "h")
        everything = {(TOPIC, p) for p in range(PARTITIONS)}

        def shared():
            mine, theirs = http.assignment(), consumer.assignment()
            return mine and not (mine & theirs) and mine | theirs == everything

        wait_until(shared, 20, "the HTTP instance to get a share")
        assert group_type(strom.bootstrap, group) == "CONSUMER"
        batch = [f"d{i}" for i in range(100)]
        produce(strom.bootstrap, TOPIC, batch, PARTITIONS)
        expected += batch
        wait_consumed(members, [http], expected, "the batch read by the consumer member and HTTP")
        assert any(v.startswith("d") for v in http.values)
        http.delete()
        wait_until(lambda: covers([consumer], TOPIC, PARTITIONS), 20, "the consumer member to own all again")
        batch = [f"e{i}" for i in range(100)]
        produce(strom.bootstrap, TOPIC, batch, PARTITIONS)
        expected += batch
        wait_consumed(members, [http], expected, "the batch after the HTTP instance left")
        errors = [line for m in members for line in m.lines() if line.startswith("ERROR")]
        assert errors == []
    finally:
        kill_all(members)


def test_a_consumer_member_upgrades_a_classic_group_which_downgrades_when_it_leaves(strom_factory, tmp_path):
    strom = start(strom_factory, tmp_path)
    create_topic(strom.bootstrap, TOPIC, PARTITIONS)
    group = "upgraded"
    classic = ClassicMember(tmp_path, "classic", strom.bootstrap, group)
    consumer = None
    try:
        wait_until(lambda: covers([classic], TOPIC, PARTITIONS), 20, "the classic member to own all")
        assert group_type(strom.bootstrap, group) == "CLASSIC"
        consumer = Member(tmp_path, "consumer", strom.bootstrap, group, TOPIC)
        wait_until(lambda: covers([classic, consumer], TOPIC, PARTITIONS) and consumer.assignment(),
                   20, "the upgraded group to share the partitions")
        assert group_type(strom.bootstrap, group) == "CONSUMER"
        consumer.stop()
        wait_until(lambda: group_type(strom.bootstrap, group) == "CLASSIC", 20, "the downgrade")
        wait_until(lambda: covers([classic], TOPIC, PARTITIONS), 20, "the classic member to own all again")
        expected = [f"x{i}" for i in range(40)]
        produce(strom.bootstrap, TOPIC, expected, PARTITIONS)
        wait_consumed([classic, consumer], [], expected, "the records after the downgrade")
    finally:
        kill_all([m for m in (classic, consumer) if m is not None])


def test_a_sigkilled_strom_restarts_with_the_mixed_group_and_its_offsets(strom_factory, tmp_path):
    """A consumer-protocol member and a classic member consume and commit (after processing,
    synchronously) every record; Strom is SIGKILLed and restarted; both members carry on with
    their member ids (the classic one still classic in `__consumer_offsets`), the group is
    still a consumer group, and the next records are read from the committed offsets: nothing
    lost, nothing read twice (every record was committed before the kill)."""
    strom = start(strom_factory, tmp_path, session_ms=RESTART_SESSION_MS)
    create_topic(strom.bootstrap, TOPIC, PARTITIONS)
    group = "mixed-restart"
    consumer = Member(tmp_path, "consumer", strom.bootstrap, group, TOPIC)
    # As long a session as the consumer member's: librdkafka may take seconds to find the
    # restarted coordinator.
    classic = ClassicMember(tmp_path, "classic", strom.bootstrap, group, session_ms=RESTART_SESSION_MS)
    members = [consumer, classic]
    try:
        expected = [f"k{i}" for i in range(100)]
        produce(strom.bootstrap, TOPIC, expected, PARTITIONS)
        wait_until(lambda: covers(members, TOPIC, PARTITIONS) and all(m.assignment() for m in members),
                   20, "the consumer and the classic member to share the partitions")
        wait_consumed(members, [], expected, "the records before the kill")
        wait_until(lambda: committed(strom.bootstrap, group, TOPIC, PARTITIONS) == [25] * PARTITIONS,
                   10, "every record committed")
        before = describe_wire(strom.bootstrap, group)
        assert len(before["members"]) == 2, before
        classic_meta = {"sessionTimeoutMs": RESTART_SESSION_MS, "protocols": ["cooperative-sticky"]}
        assert sorted(classic_metadata(strom.bootstrap, group), key=str) == [None, classic_meta]

        strom.kill()
        strom.start()
        batch = [f"l{i}" for i in range(100)]
        produce(strom.bootstrap, TOPIC, batch, PARTITIONS)
        expected += batch
        wait_consumed(members, [], expected, "the records after the restart", timeout=40)
        after = describe_wire(strom.bootstrap, group)
        assert set(after["members"]) == set(before["members"]), "both members kept their places"
        assert group_type(strom.bootstrap, group) == "CONSUMER"
        assert sorted(classic_metadata(strom.bootstrap, group), key=str) == [None, classic_meta]
        assert covers(members, TOPIC, PARTITIONS) and all(m.assignment() for m in members)
        wait_until(lambda: committed(strom.bootstrap, group, TOPIC, PARTITIONS) == [50] * PARTITIONS,
                   10, "every record after the restart committed")
    finally:
        kill_all(members)
