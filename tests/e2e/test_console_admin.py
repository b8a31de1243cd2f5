"""The console's admin pages in a real browser (Debian's chromium driven by playwright-core,
tests/e2e/console/console_admin.js) against the real binary, every effect checked through
another client:

- C14 security pages: an ACL created in the console shows up in kafka-python's
  `describe_acls` and lets a confluent-kafka producer write; deleted in the console, the
  producer is refused again; a SCRAM user added in the console is described by
  confluent-kafka's `describe_user_scram_credentials`; a quota set in the console is served
  by `/v1/quotas`.
- C15 permissions: a principal with only Describe/Read sees no mutation control (the server's
  `/v1/authorized-operations` answer) and its forged writes are refused (403: CSRF origin,
  CSRF token, then the authorizer); `console_read_only` hides every control of even a super
  user's console session and the server refuses its writes, while Basic clients still write.
`STROM_CONSOLE_SCREENSHOTS=1` writes screenshots of the pages to docs/console/."""

import json
import os
import subprocess
from pathlib import Path

import pytest
import requests
from confluent_kafka import KafkaError, Producer
from confluent_kafka.admin import AdminClient, ScramMechanism
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from webhook_receiver import Receiver, wait_for

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "console" / "console_admin.js"
SHOTS = HERE.parent.parent / "docs" / "console"
USER, PASSWORD = "admin", "console:pw"
ADMIN = (USER, PASSWORD)
ANON = "User:ANONYMOUS"
TOPIC = "orders"
VIEWED_GROUP = "reporting"


def start(strom_factory, tmp_path, extra="", authorize=True):
    """HTTP authentication required, `admin` the bootstrap super user, authorization on unless
    `authorize` is false; Kafka clients on the plaintext listener are User:ANONYMOUS, which
    may Describe the cluster."""
    config = tmp_path / "strom.toml"
    config.write_text(f'http_auth = "required"\nauthorizer_enabled = {str(authorize).lower()}\n'
                      'webhook_allowed_networks = ["127.0.0.0/8"]\n' + extra)
    server = strom_factory(extra_args=["--config", str(config)],
                           env={"STROM_BOOTSTRAP_USER": f"{USER}:{PASSWORD}:SCRAM-SHA-256"}).start()
    acls = [{"resource_type": "CLUSTER", "resource_name": "kafka-cluster", "principal": ANON,
             "operation": "DESCRIBE", "permission": "ALLOW"}]
    r = requests.post(f"{server.http}/v1/acls", json={"acls": acls}, auth=ADMIN, timeout=10)
    assert r.status_code == 201, r.text
    r = requests.post(f"{server.http}/v1/topics", json={"name": TOPIC}, auth=ADMIN, timeout=10)
    assert r.status_code == 201, r.text
    return server


def browser(plan, on_sync=None):
    """Runs the browser script; at each `SYNC name` line calls `on_sync(name)`, then lets it go on."""
    env = {**os.environ}
    if env.get("STROM_CONSOLE_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
    plan = {**plan, "screenshots": str(SHOTS)}
    proc = subprocess.Popen(["node", str(SCRIPT), json.dumps(plan)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        last = ""
        for line in proc.stdout:
            if line.startswith("SYNC "):
                on_sync(line.split()[1])
                proc.stdin.write("go\n")
                proc.stdin.flush()
            elif line.strip():
                last = line
        code = proc.wait(timeout=60)
        assert code == 0, proc.stderr.read()[-4000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    r = json.loads(last)
    assert r["csp_violations"] == [], r
    assert [e for e in r["console_errors"] if not e.startswith("Failed to load resource")] == [], r
    return r


def produce_error(bootstrap, topic):
    """Produces one record as User:ANONYMOUS; the delivery error code, or None when written."""
    producer = Producer({"bootstrap.servers": bootstrap, "message.timeout.ms": 10000})
    outcome = []
    producer.produce(topic, b"v", on_delivery=lambda err, msg: outcome.append(err))
    producer.flush(30)
    assert outcome, "no delivery report"
    return None if outcome[0] is None else outcome[0].code()


def kafka_python_acls(bootstrap, topic):
    from kafka.admin import (ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType,
                             KafkaAdminClient, ResourcePatternFilter)
    from kafka.admin import ResourceType as KpResourceType
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=30000)
    try:
        flt = ACLFilter(principal=None, host="*", operation=ACLOperation.ANY,
                        permission_type=ACLPermissionType.ANY,
                        resource_pattern=ResourcePatternFilter(KpResourceType.TOPIC, topic,
                                                               ACLResourcePatternType.MATCH))
        acls, error = admin.describe_acls(flt)
        assert error.errno == 0, error
        return sorted((a.principal, a.resource_pattern.resource_name, a.operation.name,
                       a.permission_type.name) for a in acls)
    finally:
        admin.close()


def assert_axe_clean(r, pages):
    assert {k.rsplit(":", 1)[0] for k in r["axe"]} == set(pages), sorted(r["axe"])
    bad = {page: v for page, v in r["axe"].items() if v}
    assert bad == {}, bad


@pytest.mark.timeout(300)
def test_console_security_pages_change_real_clients_access(strom_factory, tmp_path):
    server = start(strom_factory, tmp_path)
    assert produce_error(server.bootstrap, TOPIC) == KafkaError.TOPIC_AUTHORIZATION_FAILED
    plan = {"mode": "admin", "base": server.http, "user": USER, "password": PASSWORD, "topic": TOPIC,
            "acl": {"principal": ANON, "resource_name": TOPIC, "operation": "WRITE"},
            "new_user": "carol", "new_password": "carol-pw-123"}
    seen = {}

    def on_sync(name):
        assert name == "ACL_CREATED"
        seen["kafka_python"] = kafka_python_acls(server.bootstrap, TOPIC)
        seen["produce"] = produce_error(server.bootstrap, TOPIC)

    r = browser(plan, on_sync)
    assert r["after_login"] == "ready" and r["security_nav"], r
    assert r["topic_controls"] == ["config-form", "partitions-form", "delete-form"], r
    # The ACL created in the console: listed (MATCH filter in the URL), seen by kafka-python,
    # and a real producer may now write; deleted in the console, it is refused again.
    assert r["acl_notice"] == f"Created: ALLOW WRITE on TOPIC {TOPIC} for {ANON}.", r
    assert "resource_name=orders" in r["acl_filter_hash"], r
    assert r["acl_rows"] == [[ANON, "TOPIC", TOPIC, "LITERAL", "WRITE", "ALLOW", "*"]], r
    assert seen["kafka_python"] == [(ANON, TOPIC, "WRITE", "ALLOW")], seen
    assert seen["produce"] is None, seen
    assert r["acl_rows_after_delete"] == [], r
    assert produce_error(server.bootstrap, TOPIC) == KafkaError.TOPIC_AUTHORIZATION_FAILED
    # The SCRAM user, described over the Kafka protocol.
    assert ["carol", "SCRAM-SHA-512", "8192"] in r["users"], r["users"]
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    described = admin.describe_user_scram_credentials(["carol"])["carol"].result(30)
    infos = described.scram_credential_infos
    assert [(i.mechanism, i.iterations) for i in infos] == [(ScramMechanism.SCRAM_SHA_512, 8192)], infos
    # The quota, as the server holds it.
    assert r["quotas"] == [["user=carol", "1048576", "—", "—"]], r["quotas"]
    quotas = requests.get(f"{server.http}/v1/quotas", auth=ADMIN, timeout=10).json()["quotas"]
    assert quotas == [{"entity": {"user": "carol"}, "values": {"producer_byte_rate": 1048576.0}}], quotas
    assert_axe_clean(r, ["security-acls", "security-users", "security-quotas"])


def cookie_session(http, user, password):
    s = requests.Session()
    r = s.post(f"{http}/v1/login", json={"username": user, "password": password}, timeout=10)
    assert r.status_code == 200, r.text
    return s, r.json()["csrf_token"]


@pytest.mark.timeout(300)
def test_console_viewer_sees_no_mutation_controls_and_forged_writes_are_refused(strom_factory, tmp_path):
    server = start(strom_factory, tmp_path, "[console]\nexport = false\n")
    r = requests.put(f"{server.http}/v1/users/viewer", auth=ADMIN, timeout=10,
                     json={"mechanism": "SCRAM-SHA-256", "password": "viewer-pw"})
    assert r.status_code == 204, r.text
    acls = [{"resource_type": "TOPIC", "resource_name": TOPIC, "principal": "User:viewer",
             "operation": op, "permission": "ALLOW"} for op in ("DESCRIBE", "READ")]
    acls.append({"resource_type": "GROUP", "resource_name": VIEWED_GROUP, "principal": "User:viewer",
                 "operation": "DESCRIBE", "permission": "ALLOW"})
    assert requests.post(f"{server.http}/v1/acls", json={"acls": acls}, auth=ADMIN, timeout=10).status_code == 201
    r = requests.post(f"{server.http}/v1/groups/{VIEWED_GROUP}/offsets/reset", auth=ADMIN, timeout=10,
                      json={"topics": [TOPIC], "to": "earliest", "execute": True})
    assert r.status_code == 200, r.text
    r = browser({"mode": "viewer", "base": server.http, "user": "viewer", "password": "viewer-pw", "topic": TOPIC,
                 "group": VIEWED_GROUP})
    assert r["after_login"] == "ready" and r["partitions"] == 1, r
    assert r["topic_controls"] == [], r
    # Hidden (C15): the Security item (no Describe on the cluster), the produce link (no
    # Write), the export links (`[console] export = false`), and the group's reset, offset
    # deletion and deletion (Describe only).
    assert r["security_nav"] is False and r["produce_links"] == 0, r
    assert r["search_state"] == "ready" and r["search_status"].startswith("Scanned 0 records"), r
    assert r["export_links"] == 0, r
    assert r["group_state"] == "ready" and r["group_offsets"] == 1 and r["group_controls"] == 0, r
    # The security pages are the API's to refuse (Describe on the cluster), shown as such.
    assert r["acls_state"] == "error" and "DESCRIBE" in r["acls_error"].upper(), r
    assert_axe_clean(r, ["topic-viewer"])
    # What the page asked: the viewer's own rights on the topic.
    s, token = cookie_session(server.http, "viewer", "viewer-pw")
    ops = s.get(f"{server.http}/v1/authorized-operations", params={"resource_type": "TOPIC", "resource_name": TOPIC},
                timeout=10).json()
    assert sorted(ops["operations"]) == ["DESCRIBE", "READ"] and ops["read_only"] is False, ops
    # Forged writes with the viewer's cookie: another origin, no token, then a right CSRF
    # check that the authorizer refuses. The topic stays empty.
    url = f"{server.http}/v1/topics/{TOPIC}/records"
    body = {"records": [{"value": "forged"}]}
    r = s.post(url, json=body, headers={"Origin": "http://evil.example", "X-CSRF-Token": token}, timeout=10)
    assert r.status_code == 403 and r.json()["type"].endswith("csrf-check-failed"), r.text
    r = s.post(url, json=body, headers={"Origin": server.http}, timeout=10)
    assert r.status_code == 403 and r.json()["type"].endswith("csrf-check-failed"), r.text
    r = s.post(url, json=body, headers={"Origin": server.http, "X-CSRF-Token": token}, timeout=10)
    assert r.status_code == 403 and "WRITE" in r.json()["detail"], r.text
    topic = requests.get(f"{server.http}/v1/topics/{TOPIC}", auth=ADMIN, timeout=10).json()
    assert topic["partitions"][0]["high_watermark"] == 0, topic
    # The hidden controls are refused by the API too: export, and deleting the group's
    # offsets (Delete on the group) or the group.
    r = s.get(f"{server.http}/v1/topics/{TOPIC}/search", params={"export": "csv"}, timeout=10)
    assert r.status_code == 403 and r.json()["type"].endswith("export-disabled"), r.text
    csrf = {"Origin": server.http, "X-CSRF-Token": token}
    r = s.delete(f"{server.http}/v1/groups/{VIEWED_GROUP}/offsets", params={"topic": TOPIC}, headers=csrf, timeout=10)
    assert r.status_code == 403 and "DELETE" in r.json()["detail"], r.text
    r = s.delete(f"{server.http}/v1/groups/{VIEWED_GROUP}", headers=csrf, timeout=10)
    assert r.status_code == 403, r.text
    d = requests.get(f"{server.http}/v1/groups/{VIEWED_GROUP}", auth=ADMIN, timeout=10).json()
    assert [o["committed_offset"] for o in d["offsets"]] == [0], d
    # Deleting offsets needs Read on the topic too (Kafka's OffsetDelete): with Delete on a
    # group, the viewer deletes its commits on TOPIC but not on a topic it may not Read.
    assert requests.post(f"{server.http}/v1/topics", json={"name": "secret"}, auth=ADMIN, timeout=10).status_code == 201
    acl = [{"resource_type": "GROUP", "resource_name": "cleanup", "principal": "User:viewer", "operation": "DELETE",
            "permission": "ALLOW"}]
    assert requests.post(f"{server.http}/v1/acls", json={"acls": acl}, auth=ADMIN, timeout=10).status_code == 201
    for topic in (TOPIC, "secret"):
        r = requests.post(f"{server.http}/v1/groups/cleanup/offsets/reset", auth=ADMIN, timeout=10,
                          json={"topics": [topic], "to": "earliest", "execute": True})
        assert r.status_code == 200, r.text
    url = f"{server.http}/v1/groups/cleanup/offsets"
    r = s.delete(url, params={"topic": "secret"}, headers=csrf, timeout=10)
    assert r.status_code == 403 and "READ" in r.json()["detail"], r.text
    r = s.delete(url, params={"topic": TOPIC}, headers=csrf, timeout=10)
    assert r.status_code == 200 and r.json()["partitions"] == [{"partition": 0, "deleted_offset": 0}], r.text
    d = requests.get(f"{server.http}/v1/groups/cleanup", auth=ADMIN, timeout=10).json()
    assert [o["topic"] for o in d["offsets"]] == ["secret"], d


@pytest.mark.timeout(300)
def test_console_read_only_setting_hides_controls_and_refuses_cookie_writes(strom_factory, tmp_path):
    server = start(strom_factory, tmp_path, "console_read_only = true\n")
    s, token = cookie_session(server.http, USER, PASSWORD)
    assert s.get(f"{server.http}/v1/whoami", timeout=10).json()["read_only"] is True
    url = f"{server.http}/v1/topics/{TOPIC}/records"
    body = {"records": [{"value": "from the console"}]}
    r = s.post(url, json=body, headers={"Origin": server.http, "X-CSRF-Token": token}, timeout=10)
    assert r.status_code == 403 and "read-only" in r.json()["detail"], r.text
    # Other clients of the API are not affected: the same super user with Basic writes.
    r = requests.post(url, json=body, auth=ADMIN, timeout=10)
    assert r.status_code == 200, r.text
    assert requests.get(f"{server.http}/v1/whoami", auth=ADMIN, timeout=10).json()["read_only"] is False
    # The console shows the super user no mutation control.
    r = browser({"mode": "read-only", "base": server.http, "user": USER, "password": PASSWORD, "topic": TOPIC})
    assert r["after_login"] == "ready" and r["topic_controls"] == [], r
    assert r["acls_state"] == "ready" and r["acl_rows"] == 1 and r["acl_form"] == 0 and r["user_form"] == 0, r


ORDER_V1 = {"type": "record", "name": "Order", "fields": [{"name": "n", "type": "long"}]}
ORDER_V2 = {"type": "record", "name": "Order", "fields": [{"name": "n", "type": "long"},
                                                          {"name": "note", "type": "string", "default": ""}]}
ORDER_BAD = {"type": "record", "name": "Order", "fields": [{"name": "n", "type": "long"},
                                                           {"name": "required_note", "type": "string"}]}


def dead_letters(server, name):
    r = requests.get(f"{server.http}/v1/webhooks/{name}/dlq", auth=ADMIN, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["dead_letters"]


def setup_webhook(server, receiver):
    """`dl-hook` on topic `events`, one attempt per event: three events dead-letter at once."""
    assert requests.post(f"{server.http}/v1/topics", json={"name": "events"}, auth=ADMIN, timeout=10).status_code == 201
    r = requests.post(f"{server.http}/v1/webhooks", auth=ADMIN, timeout=10,
                      json={"name": "dl-hook", "url": receiver.url, "topics": ["events"], "start": "earliest",
                            "retry_schedule_ms": [0]})
    assert r.status_code == 201, r.text
    receiver.secret = r.json()["secret"]
    records = [{"key": f"k{i}", "value": {"i": i}} for i in range(3)]
    r = requests.post(f"{server.http}/v1/topics/events/records", json={"records": records}, auth=ADMIN, timeout=10)
    assert r.status_code == 200, r.text
    wait_for(lambda: len(dead_letters(server, "dl-hook")) == 3, what="three dead letters")


def setup_schemas(server):
    """Subject orders-value v1, and two Avro records written by confluent-kafka's serializer."""
    registry = SchemaRegistryClient({"url": server.http, "basic.auth.user.info": f"{USER}:{PASSWORD}"})
    serializer = AvroSerializer(registry, json.dumps(ORDER_V1))
    producer = Producer({"bootstrap.servers": server.bootstrap})
    for n in (7, 8):
        value = serializer({"n": n}, SerializationContext(TOPIC, MessageField.VALUE))
        producer.produce(TOPIC, key=f"o{n}", value=value)
    assert producer.flush(30) == 0
    return registry


@pytest.mark.timeout(300)
def test_console_webhook_and_schema_pages(strom_factory, tmp_path):
    server = start(strom_factory, tmp_path, authorize=False)
    state = {"fixed": False}
    receiver = Receiver(lambda r: (200, {}, b"ok") if state["fixed"] else (500, {}, b"boom"))
    try:
        setup_webhook(server, receiver)
        registry = setup_schemas(server)
        state["fixed"] = True
        before = len(receiver.delivered())
        got = {}

        def on_sync(name):
            assert name == "REDRIVE_SELECTED"
            got["selected"] = [r.id for r in receiver.delivered()[before:]]

        plan = {"mode": "hooks", "base": server.http, "user": USER, "password": PASSWORD, "topic": TOPIC,
                "webhook": "dl-hook", "webhook_topic": "events", "new_webhook": "made-in-console",
                "receiver_url": receiver.url, "subject": f"{TOPIC}-value",
                "good_schema": json.dumps(ORDER_V2), "bad_schema": json.dumps(ORDER_BAD)}
        r = browser(plan, on_sync)
        # The list and the dead letters with their failure headers as columns.
        assert [w[:2] for w in r["webhooks"]] == [["dl-hook", "active"]] and r["webhooks"][0][2].isdigit(), r
        assert {"event id", "reason", "status", "attempts", "last attempt"} <= set(r["dlq_columns"]), r["dlq_columns"]
        assert r["dlq_rows"] == [[str(i), f"k{i}", f"events/0/{i}", "exhausted", "500"] for i in range(3)], r["dlq_rows"]
        # Redrive of a selection, then of everything since a time: the receiver got the events,
        # with their original ids, verified with the subscription's secret.
        assert r["redrive_selected"] == "Redriven: 1 delivered, 0 failed.", r
        assert got["selected"] == ["events/0/0"], got
        assert r["redrive_since"] == "Redriven: 3 delivered, 0 failed.", r
        ids = [q.id for q in receiver.delivered()[before:]]
        assert sorted(ids[1:4]) == ["events/0/0", "events/0/1", "events/0/2"], ids
        assert all(q.verified for q in receiver.delivered()[before:]), "unsigned request"
        # The test event, pause and resume, the attempts.
        assert r["test_event"] == "Test event sent.", r
        assert any(q.json().get("type") == "strom.test" for q in receiver.delivered()[before:]), ids
        assert r["state_after_pause"] == "paused" and r["state_after_resume"] == "active", r
        assert r["attempts"] >= 5, r
        # Edited and created in the console, read back from the API.
        assert r["edit_notice"] == "Saved.", r
        hook = requests.get(f"{server.http}/v1/webhooks/dl-hook", auth=ADMIN, timeout=10).json()
        assert hook["timeout_ms"] == 5000, hook
        made = requests.get(f"{server.http}/v1/webhooks/made-in-console", auth=ADMIN, timeout=10)
        assert made.status_code == 200 and made.json()["url"] == receiver.url, made.text
        assert made.json()["topics"] == ["events"] and r["new_secret"].startswith("whsec_"), r
    finally:
        receiver.close()
    # Schemas: the verdict before saving, the registered version seen by SchemaRegistryClient.
    assert r["schema_level"] == "Compatibility: BACKWARD (global default)", r
    assert r["bad_verdict"].startswith("Not compatible:") and "required_note" in r["bad_verdict"], r
    assert r["bad_register_disabled"] is True, r
    assert r["good_verdict"] == "Compatible with the subject's level.", r
    assert r["register_notice"] == "Registered: schema id 2.", r
    assert registry.get_versions(f"{TOPIC}-value") == [1, 2]
    latest = registry.get_latest_version(f"{TOPIC}-value")
    assert latest.version == 2 and json.loads(latest.schema.schema_str) == ORDER_V2
    assert any('"name": "note",' in line for line in r["diff_added"]), r["diff_added"]
    assert r["level_after"] == "Compatibility: FULL", r
    assert registry.get_compatibility(f"{TOPIC}-value") == "FULL"
    assert r["decoded"][0][:2] == ["0", "schema id 1"] and '"n": 7' in r["decoded"][0][2], r["decoded"]
    assert r["schema_id_uses"] == f"Used by: {TOPIC}-value v1", r
    assert_axe_clean(r, ["webhook-list", "webhook", "webhook-edit", "webhook-new", "schema-subject", "schema-diff",
                         "schema-records", "schema-id"])
