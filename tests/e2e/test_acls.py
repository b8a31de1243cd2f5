"""ACLs end to end against the real binary: ACLs created with confluent-kafka's, kafka-python's
and kafkajs's admin clients round-trip through describe/delete and change a real client's access
at once (produce denied -> allowed -> denied); ACLs survive SIGKILL; enabling authorization with
no super user and no ACL refuses to start.

Without SASL every Kafka client is User:ANONYMOUS. The server starts with the authorizer off, an
ACL giving User:ANONYMOUS ALL on the cluster is created over HTTP (`/v1/acls` works with the
authorizer off so ACLs can be prepared), and it restarts with the authorizer on: the clients may
then administer ACLs and create topics, but touch no topic without a topic ACL."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import (
    AclBinding, AclBindingFilter, AclOperation, AclPermissionType, AdminClient, NewTopic,
    ResourcePatternType, ResourceType,
)

NODE_DIR = Path(__file__).resolve().parent / "node"
ANON = "User:ANONYMOUS"


def authorized_server(strom_factory):
    server = strom_factory().start()
    cluster_admin = {"resource_type": "CLUSTER", "resource_name": "kafka-cluster",
                     "principal": ANON, "operation": "ALL", "permission": "ALLOW"}
    r = requests.post(f"{server.http}/v1/acls", json={"acls": [cluster_admin]}, timeout=10)
    assert r.status_code == 201, r.text
    server.stop()
    server.extra_args += ["--authorizer-enabled", "true", "--super-users", "User:admin"]
    return server.start()


def produce_error(bootstrap, topic):
    """Produces one record; the delivery error code, or None when it was written."""
    producer = Producer({"bootstrap.servers": bootstrap, "message.timeout.ms": 10000})
    outcome = []
    try:
        producer.produce(topic, b"v", on_delivery=lambda err, msg: outcome.append(err))
    except KafkaException as refused:
        # Newer librdkafka (2.16) refuses at once a topic its metadata says is not authorized.
        return refused.args[0].code()
    producer.flush(30)
    assert outcome, "no delivery report"
    return None if outcome[0] is None else outcome[0].code()


def create_topic(admin, name):
    for future in admin.create_topics([NewTopic(name, 1, 1)]).values():
        future.result(30)


def write_acl(topic):
    return AclBinding(ResourceType.TOPIC, topic, ResourcePatternType.LITERAL, ANON, "*",
                      AclOperation.WRITE, AclPermissionType.ALLOW)


def test_confluent_acls_change_access_at_once_and_survive_sigkill(strom_factory):
    server = authorized_server(strom_factory)
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    create_topic(admin, "orders")
    assert produce_error(server.bootstrap, "orders") == KafkaError.TOPIC_AUTHORIZATION_FAILED
    for future in admin.create_acls([write_acl("orders"), write_acl("audit")]).values():
        future.result(30)
    assert produce_error(server.bootstrap, "orders") is None
    match = AclBindingFilter(ResourceType.TOPIC, "orders", ResourcePatternType.MATCH, None, None,
                             AclOperation.ANY, AclPermissionType.ANY)
    assert admin.describe_acls(match).result(30) == [write_acl("orders")]
    deleted = admin.delete_acls([match])[match].result(30)
    assert deleted == [write_acl("orders")]
    assert produce_error(server.bootstrap, "orders") == KafkaError.TOPIC_AUTHORIZATION_FAILED
    # ACLs are durable: a SIGKILL loses none of them.
    server.kill()
    server.start()
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    every_topic_acl = AclBindingFilter(ResourceType.TOPIC, None, ResourcePatternType.ANY, None,
                                       None, AclOperation.ANY, AclPermissionType.ANY)
    assert admin.describe_acls(every_topic_acl).result(30) == [write_acl("audit")]
    listed = requests.get(f"{server.http}/v1/acls", params={"resource_type": "topic"}, timeout=10)
    assert listed.status_code == 200
    assert [a["resource_name"] for a in listed.json()["acls"]] == ["audit"]


def test_kafka_python_acl_round_trip(strom_factory):
    from kafka.admin import (
        ACL, ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType,
        KafkaAdminClient, ResourcePattern, ResourcePatternFilter,
    )
    from kafka.admin import ResourceType as KpResourceType

    server = authorized_server(strom_factory)
    admin = KafkaAdminClient(bootstrap_servers=server.bootstrap, request_timeout_ms=30000)
    acl = ACL(principal=ANON, host="*", operation=ACLOperation.WRITE,
              permission_type=ACLPermissionType.ALLOW,
              resource_pattern=ResourcePattern(KpResourceType.TOPIC, "kp-",
                                               ACLResourcePatternType.PREFIXED))
    result = admin.create_acls([acl])
    assert result["failed"] == [] and len(result["succeeded"]) == 1, result
    assert produce_error(server.bootstrap, "kp-events") is None
    flt = ACLFilter(principal=None, host="*", operation=ACLOperation.ANY,
                    permission_type=ACLPermissionType.ANY,
                    resource_pattern=ResourcePatternFilter(KpResourceType.TOPIC, "kp-events",
                                                           ACLResourcePatternType.MATCH))
    acls, error = admin.describe_acls(flt)
    assert error.errno == 0 and [a.resource_pattern.resource_name for a in acls] == ["kp-"]
    [(_, deleted, error)] = admin.delete_acls([flt])
    assert error.errno == 0 and len(deleted) == 1
    assert produce_error(server.bootstrap, "kp-events") == KafkaError.TOPIC_AUTHORIZATION_FAILED
    admin.close()


def test_kafkajs_acl_round_trip(strom_factory):
    assert shutil.which("node") and (NODE_DIR / "node_modules" / "kafkajs").exists(), \
        "kafkajs not installed (tests/install-deps.sh)"
    server = authorized_server(strom_factory)
    create_topic(AdminClient({"bootstrap.servers": server.bootstrap}), "js-topic")
    out = subprocess.run(["node", str(NODE_DIR / "kafkajs_acls.js"), server.bootstrap, "js-topic"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    seen = json.loads(out.stdout)
    assert seen["before"] == "TOPIC_AUTHORIZATION_FAILED", seen
    assert seen["allowed"] == "ok", seen
    assert seen["described"] == [{"name": "js-topic", "acls": 1}], seen
    assert seen["deleted"] == [1], seen
    assert seen["after"] == "TOPIC_AUTHORIZATION_FAILED", seen


def test_authorization_without_super_user_or_acl_refuses_to_start(tmp_path):
    from conftest import free_port, strom_binary

    out = subprocess.run(
        [strom_binary(), "serve", "--data-dir", str(tmp_path / "data"),
         "--kafka-listen", f"127.0.0.1:{free_port()}", "--http-listen", f"127.0.0.1:{free_port()}",
         "--authorizer-enabled", "true"],
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 78, out.stderr
    assert "no super user and no ACL" in out.stderr, out.stderr


def test_http_acls_and_cluster_denials(strom_factory):
    server = authorized_server(strom_factory)
    bad = {"resource_type": "TOPIC", "resource_name": "t", "pattern_type": "MATCH",
           "principal": ANON, "operation": "READ", "permission": "ALLOW"}
    r = requests.post(f"{server.http}/v1/acls", json={"acls": [bad]}, timeout=10)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert "acls[0]" in r.json()["detail"], r.text
    deny = {"resource_type": "cluster", "resource_name": "kafka-cluster", "principal": ANON,
            "operation": "describe", "permission": "deny"}
    assert requests.post(f"{server.http}/v1/acls", json={"acls": [deny]}, timeout=10).status_code == 201
    r = requests.get(f"{server.http}/v1/acls", timeout=10)
    assert r.status_code == 403 and r.json()["type"].endswith("acl-denied"), r.text
    # kafka-python raises the top-level error (librdkafka 2.6.1 answers an empty list instead).
    from kafka.admin import ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType
    from kafka.admin import KafkaAdminClient, ResourcePatternFilter
    from kafka.admin import ResourceType as KpResourceType
    from kafka.errors import ClusterAuthorizationFailedError

    admin = KafkaAdminClient(bootstrap_servers=server.bootstrap, request_timeout_ms=30000)
    every = ACLFilter(principal=None, host="*", operation=ACLOperation.ANY,
                      permission_type=ACLPermissionType.ANY,
                      resource_pattern=ResourcePatternFilter(KpResourceType.ANY, None,
                                                             ACLResourcePatternType.ANY))
    with pytest.raises(ClusterAuthorizationFailedError):
        admin.describe_acls(every)
    admin.close()
    # DENY of DESCRIBE leaves ALTER: the deny can still be removed.
    r = requests.delete(f"{server.http}/v1/acls", params={"permission": "DENY"}, timeout=10)
    assert r.status_code == 200 and len(r.json()["acls"]) == 1, r.text
    assert requests.get(f"{server.http}/v1/acls", timeout=10).status_code == 200


def test_each_denial_writes_one_audit_line_naming_the_api_or_route(strom_factory):
    import re
    import time

    server = authorized_server(strom_factory)
    create_topic(AdminClient({"bootstrap.servers": server.bootstrap}), "audited")
    assert produce_error(server.bootstrap, "audited") == KafkaError.TOPIC_AUTHORIZATION_FAILED
    r = requests.get(f"{server.http}/v1/topics/audited/partitions/0/records", timeout=10)
    assert r.status_code == 403, r.text
    who = r"principal=User:ANONYMOUS client=127\.0\.0\.1"
    kafka = re.compile(rf"kafka\{{api=(Metadata|Produce)\}}.*strom::audit.*authorization denied {who} "
                       r"listener=PLAINTEXT operation=(DESCRIBE|WRITE) resource_type=TOPIC resource=\"?audited")
    http = re.compile(r"http\{route=GET /v1/topics/\{topic\}/partitions/\{partition\}/records\}.*"
                      rf"strom::audit.*authorization denied {who} listener=http operation=READ "
                      "resource_type=TOPIC resource=\"?audited")
    deadline = time.monotonic() + 30
    while not (kafka.search(server.log_text()) and http.search(server.log_text())):
        assert time.monotonic() < deadline, server.log_text()[-4000:]
        time.sleep(0.1)
    # One line per denial: the HTTP request above was refused once.
    assert len(http.findall(server.log_text())) == 1, server.log_text()[-4000:]
