"""Kafka admin parity (issue 12): KIP-430 authorized operations (confluent-kafka's
describe_cluster / describe_topics / describe_consumer_groups, without and with the
authorizer), ElectLeaders, and DescribeLogDirs / OffsetForLeaderEpoch over the raw protocol
(kafka-python's request framing with the schemas written from Kafka's JSON definitions), and
Alter/ListPartitionReassignments with kafkajs."""

import json
import subprocess
from pathlib import Path

import requests
from confluent_kafka import ElectionType, KafkaError, TopicCollection, TopicPartition
from confluent_kafka.admin import AclOperation, AdminClient, NewTopic
from kafka.protocol.api import Request, Response
from kafka.protocol.types import Array, Boolean, Int16, Int32, Int64, Schema, String

from kafka_support import Wire, create_topic

TOPIC_OPS = {AclOperation.ALTER, AclOperation.ALTER_CONFIGS, AclOperation.CREATE,
             AclOperation.DELETE, AclOperation.DESCRIBE, AclOperation.DESCRIBE_CONFIGS,
             AclOperation.READ, AclOperation.WRITE}
CLUSTER_OPS = {AclOperation.ALTER, AclOperation.ALTER_CONFIGS, AclOperation.CLUSTER_ACTION,
               AclOperation.CREATE, AclOperation.DESCRIBE, AclOperation.DESCRIBE_CONFIGS,
               AclOperation.IDEMPOTENT_WRITE}
ANON = "User:ANONYMOUS"


def ops(a, topic):
    (desc,) = a.describe_topics(TopicCollection([topic]), include_authorized_operations=True)\
        .values()
    return set(desc.result(30).authorized_operations)


def test_authorized_operations_without_authorizer_are_all(strom):
    create_topic(strom.bootstrap, "kip430")
    a = AdminClient({"bootstrap.servers": strom.bootstrap})
    cluster = a.describe_cluster(include_authorized_operations=True).result(30)
    assert set(cluster.authorized_operations) == CLUSTER_OPS
    assert ops(a, "kip430") == TOPIC_OPS


def test_authorized_operations_follow_the_acls(strom_factory):
    server = strom_factory().start()
    cluster_admin = {"resource_type": "CLUSTER", "resource_name": "kafka-cluster",
                     "principal": ANON, "operation": "DESCRIBE", "permission": "ALLOW"}
    creator = dict(cluster_admin, operation="CREATE")
    write = {"resource_type": "TOPIC", "resource_name": "guarded", "principal": ANON,
             "operation": "WRITE", "permission": "ALLOW"}
    r = requests.post(f"{server.http}/v1/acls", json={"acls": [cluster_admin, creator, write]},
                      timeout=10)
    assert r.status_code == 201, r.text
    server.stop()
    server.extra_args += ["--authorizer-enabled", "true", "--super-users", "User:admin"]
    server.start()
    a = AdminClient({"bootstrap.servers": server.bootstrap})
    for future in a.create_topics([NewTopic("guarded", 1, 1)]).values():
        future.result(30)
    cluster = a.describe_cluster(include_authorized_operations=True).result(30)
    assert set(cluster.authorized_operations) == {AclOperation.DESCRIBE, AclOperation.CREATE}
    # WRITE implies DESCRIBE in Kafka's model.
    assert ops(a, "guarded") == {AclOperation.WRITE, AclOperation.DESCRIBE}


def test_elect_leaders_is_not_needed_on_one_node(strom):
    create_topic(strom.bootstrap, "elect", partitions=2)
    a = AdminClient({"bootstrap.servers": strom.bootstrap})
    parts = [TopicPartition("elect", 0), TopicPartition("elect", 1), TopicPartition("elect", 9)]
    result = a.elect_leaders(ElectionType.PREFERRED, parts).result(30)
    codes = {(tp.topic, tp.partition): (err.code() if err else None) for tp, err in result.items()}
    assert codes == {("elect", 0): KafkaError.ELECTION_NOT_NEEDED,
                     ("elect", 1): KafkaError.ELECTION_NOT_NEEDED,
                     ("elect", 9): KafkaError.UNKNOWN_TOPIC_OR_PART}, codes


class DescribeLogDirsResponse_v1(Response):
    API_KEY = 35
    API_VERSION = 1
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("results", Array(("error_code", Int16), ("log_dir", String("utf-8")),
                          ("topics", Array(("name", String("utf-8")),
                                           ("partitions", Array(("partition_index", Int32),
                                                                ("partition_size", Int64),
                                                                ("offset_lag", Int64),
                                                                ("is_future_key", Boolean))))))))


class DescribeLogDirsRequest_v1(Request):
    API_KEY = 35
    API_VERSION = 1
    RESPONSE_TYPE = DescribeLogDirsResponse_v1
    SCHEMA = Schema(("topics", Array(("topic", String("utf-8")), ("partitions", Array(Int32)))))


class OffsetForLeaderEpochResponse_v2(Response):
    API_KEY = 23
    API_VERSION = 2
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("topics", Array(("topic", String("utf-8")),
                         ("partitions", Array(("error_code", Int16), ("partition", Int32),
                                              ("leader_epoch", Int32), ("end_offset", Int64))))))


class OffsetForLeaderEpochRequest_v2(Request):
    API_KEY = 23
    API_VERSION = 2
    RESPONSE_TYPE = OffsetForLeaderEpochResponse_v2
    SCHEMA = Schema(("topics", Array(("topic", String("utf-8")),
                                     ("partitions", Array(("partition", Int32),
                                                          ("current_leader_epoch", Int32),
                                                          ("leader_epoch", Int32))))))


def produce(bootstrap, topic, n, partition=0):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": bootstrap})
    for i in range(n):
        p.produce(topic, value=b"x" * 100, partition=partition)
    assert p.flush(30) == 0


def test_describe_log_dirs_reports_partition_sizes(strom):
    create_topic(strom.bootstrap, "sizes", partitions=2)
    produce(strom.bootstrap, "sizes", 50, partition=1)
    port = int(strom.bootstrap.rsplit(":", 1)[1])
    wire = Wire(port)
    try:
        request = DescribeLogDirsRequest_v1(topics=[("sizes", [0, 1])])
        wire.send(request)
        _, response = wire.recv(request)
    finally:
        wire.close()
    (error, log_dir, topics), = response.results
    # A logical name, never the server's path (no answer shows a server path).
    assert error == 0 and log_dir == "/strom/data", log_dir
    assert str(strom.data_dir) not in log_dir and str(strom.data_dir.resolve()) not in log_dir
    (name, partitions), = topics
    sizes = {p[0]: p[1] for p in partitions}
    assert name == "sizes"
    assert sizes[0] == 0
    assert sizes[1] > 50 * 100, sizes


def test_offset_for_leader_epoch_answers_epoch_zero(strom):
    create_topic(strom.bootstrap, "epochs")
    produce(strom.bootstrap, "epochs", 7)
    port = int(strom.bootstrap.rsplit(":", 1)[1])
    wire = Wire(port)
    try:
        request = OffsetForLeaderEpochRequest_v2(
            topics=[("epochs", [(0, 0, 0), (0, -1, 5), (0, 3, 0)]), ("nope", [(0, -1, 0)])])
        wire.send(request)
        _, response = wire.recv(request)
    finally:
        wire.close()
    by_topic = dict(response.topics)
    assert [tuple(p) for p in by_topic["epochs"]] == [
        (0, 0, 0, 7),  # epoch 0 ends at the log end
        (0, 0, -1, -1),  # an epoch never seen
        (KafkaError.UNKNOWN_LEADER_EPOCH, 0, -1, -1),  # the client knows a newer leader
    ]
    assert by_topic["nope"][0][0] == KafkaError.UNKNOWN_TOPIC_OR_PART


def test_partition_reassignments_on_one_node_with_kafkajs(strom):
    """AlterPartitionReassignments accepts the only possible assignment (this node) as a no-op
    and refuses any other with INVALID_REPLICA_ASSIGNMENT; ListPartitionReassignments lists
    nothing in progress. Driven by kafkajs's admin client."""
    create_topic(strom.bootstrap, "moves", partitions=2)
    script = Path(__file__).resolve().parent / "node" / "kafkajs_reassign.js"
    out = subprocess.run(["node", str(script), strom.bootstrap, "moves"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert r["same"] == {"ok": None}, r["same"]
    assert r["elsewhere"]["error"] == "INVALID_REPLICA_ASSIGNMENT", r["elsewhere"]
    assert r["unknown"]["error"] == "UNKNOWN_TOPIC_OR_PARTITION", r["unknown"]
    assert r["listed"] == {"ok": {"topics": []}}, r["listed"]
