"""`__consumer_offsets` in Kafka's format, checked from outside: groups of confluent-kafka and
kafka-python commit offsets (with metadata) and rebalance, then a confluent-kafka consumer reads
`__consumer_offsets` like any topic and an independent decoder written from Kafka's JSON
schemas (`kafka_group_records.py`, not Strom's code) decodes every record: group id, topic,
partition, offset, metadata, commit timestamp, and the group metadata (protocol type,
generation, leader, members with their assignment). Deleting a group writes Kafka's
tombstones (key, null value)."""

import time

import confluent_kafka as ck
from confluent_kafka.admin import AdminClient
from kafka import KafkaConsumer
from kafka import TopicPartition as KpTopicPartition
from kafka.structs import OffsetAndMetadata

from kafka_group_records import decode_assignment, latest, read_offsets_topic
from kafka_support import create_topic

TOPIC = "fmt"


def wait_for(predicate, what, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def with_members(bootstrap, group_ids):
    """The latest records if every group's metadata lists members, else None."""
    state = latest(read_offsets_topic(bootstrap))
    for g in group_ids:
        entry = state.get(("group", g, None, None))
        if not entry or not entry[1] or not entry[1]["members"]:
            return None
    return state


def ck_group(bootstrap):
    c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "ck-group",
                     "client.id": "ck-client", "enable.auto.commit": False,
                     "auto.offset.reset": "earliest"})
    c.subscribe([TOPIC])
    got = 0
    while got < 10:
        m = c.poll(1.0)
        if m is not None and not m.error():
            got += 1
    c.commit(offsets=[ck.TopicPartition(TOPIC, 0, 7, metadata="ck-meta"),
                      ck.TopicPartition(TOPIC, 1, 3, metadata="")], asynchronous=False)
    return c


def kp_group(bootstrap):
    c = KafkaConsumer(TOPIC, bootstrap_servers=bootstrap, group_id="kp-group",
                      client_id="kp-client", enable_auto_commit=False,
                      auto_offset_reset="earliest", session_timeout_ms=10000)
    wait_for(lambda: c.poll(timeout_ms=500) or c.assignment(), "kafka-python assignment")
    c.commit({KpTopicPartition(TOPIC, 0): OffsetAndMetadata(4, "kp-meta"),
              KpTopicPartition(TOPIC, 1): OffsetAndMetadata(2, "")})
    return c


def check_group(value, client_id):
    assert value["version"] == 1, "v1 (what Burrow 1.2.1 decodes) for dynamic members"
    assert value["protocolType"] == "consumer"
    assert value["generation"] >= 1
    assert value["protocol"] in ("range", "roundrobin", "cooperative-sticky", "sticky")
    [member] = value["members"]
    assert value["leader"] == member["memberId"]
    assert member["clientId"] == client_id
    assert member["clientHost"].endswith("127.0.0.1")
    assert member["sessionTimeout"] > 0 and member["rebalanceTimeout"] > 0
    assert decode_assignment(member["assignment"]) == {TOPIC: [0, 1]}


def test_offsets_topic_decodes_with_kafka_schemas(strom):
    create_topic(strom.bootstrap, TOPIC, partitions=2)
    p = ck.Producer({"bootstrap.servers": strom.bootstrap, "linger.ms": 0})
    for i in range(20):
        p.produce(TOPIC, value=str(i).encode(), partition=i % 2)
    p.flush(15)
    before = int(time.time() * 1000) - 1000
    ckc, kpc = ck_group(strom.bootstrap), kp_group(strom.bootstrap)
    after = int(time.time() * 1000) + 1000
    try:
        groups = wait_for(lambda: with_members(strom.bootstrap, ("ck-group", "kp-group")),
                          "both groups' metadata with members")
    finally:
        ckc.close()
        kpc.close()

    # librdkafka sends the metadata string with its C terminator, and Strom stores what came.
    expected = {("ck-group", 0): (7, "ck-meta\x00"), ("ck-group", 1): (3, "\x00"),
                ("kp-group", 0): (4, "kp-meta"), ("kp-group", 1): (2, "")}
    for (group, partition), (offset, metadata) in expected.items():
        _, value = groups[("offset", group, TOPIC, partition)]
        assert value["version"] == 3
        assert value["offset"] == offset
        assert value["metadata"] == metadata
        assert before <= value["commitTimestamp"] <= after
        assert "expireTimestamp" not in value
    ts, ck_meta = groups[("group", "ck-group", None, None)]
    check_group(ck_meta, "ck-client")
    assert before <= ts <= after, "the record's timestamp is the state timestamp"
    _, kp_meta = groups[("group", "kp-group", None, None)]
    check_group(kp_meta, "kp-client")

    # Once empty, a group's metadata has no members; deleting it writes tombstones.
    wait_for(lambda: latest(read_offsets_topic(strom.bootstrap))[
        ("group", "ck-group", None, None)][1]["members"] == [], "ck-group empty")
    admin = AdminClient({"bootstrap.servers": strom.bootstrap})
    for f in admin.delete_consumer_groups(["ck-group"], request_timeout=15).values():
        f.result(timeout=15)
    final = latest(read_offsets_topic(strom.bootstrap))
    assert final[("offset", "ck-group", TOPIC, 0)][1] is None
    assert final[("offset", "ck-group", TOPIC, 1)][1] is None
    assert final[("group", "ck-group", None, None)][1] is None
    assert final[("offset", "kp-group", TOPIC, 0)][1]["offset"] == 4
