"""Log lines an operator reads: one line per admin action (HTTP or Kafka) naming who did it
(principal, peer, listener) without Rust debug syntax, and the optional HTTP access log
(`--http-access-log`, off by default) with its common fields and no secret from the request."""

import re
import time

import requests
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic


def lines(server, pattern):
    return [l for l in server.log_text().splitlines() if re.search(pattern, l)]


def wait_lines(server, pattern, n=1, deadline=30):
    end = time.time() + deadline
    while time.time() < end:
        found = lines(server, pattern)
        if len(found) >= n:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no {n} lines matching {pattern!r} in:\n{server.log_text()}")


def test_admin_actions_log_one_line_with_who(strom_factory):
    server = strom_factory().start()
    r = requests.post(f"{server.http}/v1/topics", json={"name": "audited", "partitions": 2}, timeout=10)
    assert r.status_code == 201, r.text
    r = requests.patch(f"{server.http}/v1/topics/audited/configs",
                       json={"configs": {"retention.ms": "7200000"}}, timeout=10)
    assert r.status_code == 200, r.text

    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    admin.create_topics([NewTopic("audited-kafka", num_partitions=1)])["audited-kafka"].result(30)
    resource = ConfigResource("topic", "audited-kafka", set_config={"retention.ms": "3600000"})
    admin.alter_configs([resource])[resource].result(30)
    admin.delete_topics(["audited-kafka"])["audited-kafka"].result(30)

    created = wait_lines(server, r"topic created.*topic=audited(\s|$)")
    assert len(created) == 1, created
    assert "principal=User:ANONYMOUS" in created[0] and "peer=127.0.0.1:" in created[0], created
    assert "listener=http" in created[0], created
    altered = wait_lines(server, r"topic config altered.*topic=audited(\s|$)")
    assert len(altered) == 1 and "retention.ms=7200000" in altered[0], altered

    kafka_created = wait_lines(server, r"topic created.*topic=audited-kafka")
    assert len(kafka_created) == 1 and "listener=PLAINTEXT" in kafka_created[0], kafka_created
    assert "peer=127.0.0.1:" in kafka_created[0], kafka_created
    kafka_altered = wait_lines(server, r"topic config altered.*topic=\"?audited-kafka")
    assert len(kafka_altered) == 1 and "retention.ms=3600000" in kafka_altered[0], kafka_altered
    assert len(wait_lines(server, r"topic deleted.*topic=audited-kafka")) == 1
    text = server.log_text()
    assert "Some(" not in text, text


def test_access_log_is_optional_and_keeps_secrets_out(strom_factory):
    quiet = strom_factory(name="quiet").start()
    assert requests.get(f"{quiet.http}/v1/topics", timeout=10).status_code == 200
    assert requests.get(f"{quiet.http}/metrics", timeout=10).status_code == 200
    assert not lines(quiet, r"http request"), quiet.log_text()

    server = strom_factory(["--http-access-log", "true"], name="loud").start()
    r = requests.get(f"{server.http}/v1/topics", params={"token": "sekrit-query"},
                     headers={"x-client-id": "sekrit-header", "cookie": "s=sekrit-cookie"},
                     timeout=10)
    assert r.status_code == 200, r.text
    assert requests.get(f"{server.http}/v1/topics/missing", timeout=10).status_code == 404
    found = wait_lines(server, r"strom::access.*http request.*path=/v1/topics(\s|$)")
    line = found[0]
    for field in ("peer=127.0.0.1:", "principal=", "method=GET", "route=/v1/topics", "status=200",
                  "duration_ms="):
        assert field in line, line
    missing = wait_lines(server, r"http request.*path=/v1/topics/missing")
    assert "status=404" in missing[0] and "route=/v1/topics/{topic}" in missing[0], missing
    assert "sekrit" not in server.log_text()
