"""Group protocol error codes for requests a well-behaved client would not send: stale
generations, unknown members, commits for partitions that do not exist, bad timeouts,
deleting groups that are missing or in use."""

import threading
import time

from confluent_kafka.admin import AdminClient, NewTopic
from kafka.protocol.admin import DeleteGroupsRequest_v1
from kafka.protocol.commit import OffsetCommitRequest_v2, OffsetFetchRequest_v2
from kafka.protocol.group import HeartbeatRequest_v1, JoinGroupRequest_v1, SyncGroupRequest_v1

from group_wire import Wire

NONE = 0
UNKNOWN_TOPIC_OR_PARTITION = 3
ILLEGAL_GENERATION = 22
UNKNOWN_MEMBER_ID = 25
INVALID_SESSION_TIMEOUT = 26
REBALANCE_IN_PROGRESS = 27
NON_EMPTY_GROUP = 68
GROUP_ID_NOT_FOUND = 69


def create_topic(bootstrap, name, partitions):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for future in admin.create_topics([NewTopic(name, partitions, 1)]).values():
        future.result(timeout=10)


def join(wire, group, member_id="", session_ms=10_000):
    # Consumer protocol subscription v0 to topic "t": version, [topics], user data.
    metadata = b"\x00\x00" + b"\x00\x00\x00\x01" + b"\x00\x01t" + b"\xff\xff\xff\xff"
    return wire.call(JoinGroupRequest_v1(group, session_ms, 30_000, member_id, "consumer", [("range", metadata)]))


def commit(wire, group, generation, member, topic, partition, offset):
    response = wire.call(
        OffsetCommitRequest_v2(group, generation, member, -1, [(topic, [(partition, offset, "")])])
    )
    return response.topics[0][1][0][1]


def test_group_error_codes(strom):
    create_topic(strom.bootstrap, "t", 2)
    wire = Wire(strom.bootstrap)
    try:
        joined = join(wire, "g")
        assert joined.error_code == NONE
        member, generation = joined.member_id, joined.generation_id
        assert joined.leader_id == member
        sync = wire.call(SyncGroupRequest_v1("g", generation, member, [(member, b"")]))
        assert sync.error_code == NONE

        assert wire.call(HeartbeatRequest_v1("g", generation, member)).error_code == NONE
        assert wire.call(HeartbeatRequest_v1("g", generation + 5, member)).error_code == ILLEGAL_GENERATION
        assert wire.call(HeartbeatRequest_v1("g", generation, "who")).error_code == UNKNOWN_MEMBER_ID
        assert wire.call(HeartbeatRequest_v1("nope", 1, member)).error_code == UNKNOWN_MEMBER_ID
        stale_sync = wire.call(SyncGroupRequest_v1("g", generation - 1, member, []))
        assert stale_sync.error_code == ILLEGAL_GENERATION

        assert commit(wire, "g", generation, member, "t", 0, 5) == NONE
        assert commit(wire, "g", generation - 1, member, "t", 0, 6) == ILLEGAL_GENERATION
        assert commit(wire, "g", generation, "who", "t", 0, 6) == UNKNOWN_MEMBER_ID
        assert commit(wire, "g", generation, member, "t", 7, 6) == UNKNOWN_TOPIC_OR_PARTITION
        assert commit(wire, "g", generation, member, "missing", 0, 6) == UNKNOWN_TOPIC_OR_PARTITION
        # A standalone commit (generation -1) into a group with members is refused.
        assert commit(wire, "g", -1, "", "t", 0, 6) == UNKNOWN_MEMBER_ID
        fetched = wire.call(OffsetFetchRequest_v2("g", [("t", [0, 1])]))
        assert [(p[0], p[1]) for p in fetched.topics[0][1]] == [(0, 5), (1, -1)]

        bad = join(wire, "g2", session_ms=10)
        assert bad.error_code == INVALID_SESSION_TIMEOUT

        deleted = wire.call(DeleteGroupsRequest_v1(["g", "never-was"]))
        assert dict(deleted.results) == {"g": NON_EMPTY_GROUP, "never-was": GROUP_ID_NOT_FOUND}

        # A second member makes the group rebalance; the first learns it from its heartbeat.
        other = Wire(strom.bootstrap)
        try:
            result = {}
            t = threading.Thread(target=lambda: result.update(j=join(other, "g")))
            t.start()
            deadline = time.time() + 10
            code = NONE
            while time.time() < deadline:
                code = wire.call(HeartbeatRequest_v1("g", generation, member)).error_code
                if code == REBALANCE_IN_PROGRESS:
                    break
                time.sleep(0.05)
            assert code == REBALANCE_IN_PROGRESS
            rejoined = join(wire, "g", member_id=member)
            t.join(timeout=10)
            assert rejoined.generation_id == generation + 1
            assert result["j"].generation_id == generation + 1
            assert commit(wire, "g", generation, member, "t", 0, 9) == ILLEGAL_GENERATION
        finally:
            other.close()
    finally:
        wire.close()


def test_group_settings_come_from_the_config_file(strom_factory, tmp_path):
    config = tmp_path / "strom.toml"
    config.write_text("group_min_session_timeout_ms = 5000\ngroup_max_session_timeout_ms = 20000\n")
    server = strom_factory(extra_args=["--config", str(config)]).start()
    wire = Wire(server.bootstrap)
    try:
        assert join(wire, "g", session_ms=4000).error_code == INVALID_SESSION_TIMEOUT
        assert join(wire, "g", session_ms=30000).error_code == INVALID_SESSION_TIMEOUT
        assert join(wire, "g", session_ms=6000).error_code == NONE
    finally:
        wire.close()
    config.write_text("group_min_session_timeout_ms = 9000\ngroup_max_session_timeout_ms = 8000\n")
    bad = strom_factory(extra_args=["--config", str(config)], name="bad")
    try:
        bad.start()
        raise AssertionError("strom started with an inconsistent group config")
    except RuntimeError:
        assert bad.proc.returncode == 78
