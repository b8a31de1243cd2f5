"""The web console at /console/ in a real browser (Debian's chromium driven by playwright-core,
tests/e2e/console/console_browser.js) against the real binary: login with the session cookie,
overview, topics, topic detail, message browser paging both ways and permalinks, a 5 MiB value
kept responsive, a consumer group with its lag and an offset reset, produce and re-produce, the
webhook and schema pages, UTC/local time and dark mode; axe-core finds no serious or critical
violation on any page in light and dark mode. Every action the browser takes is checked through
another client: confluent-kafka consumes from the reset offsets, kcat reads the produced record.
`STROM_CONSOLE_SCREENSHOTS=1` writes a screenshot of each page to docs/console/."""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import requests
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from conftest import free_port

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "console" / "console_browser.js"
SHOTS = HERE.parent.parent / "docs" / "console"
USER, PASSWORD = "admin", "console:pw"
TOPIC, BIG, TARGET, GROUP, HOOK = "orders", "big-values", "audit", "billing", "audit-hook"
TRIM = "trim-me"
PER_PARTITION = 12
BIG_BYTES = 5 * 1024 * 1024


def start(strom_factory, tmp_path):
    config = tmp_path / "strom.toml"
    config.write_text('http_auth = "required"\nwebhook_allowed_networks = ["127.0.0.0/8"]\n')
    server = strom_factory(extra_args=["--config", str(config)],
                           env={"STROM_BOOTSTRAP_USER": f"{USER}:{PASSWORD}:SCRAM-SHA-256"})
    return server.start()


def feed(bootstrap):
    """Three topics made and filled by confluent-kafka; a group that consumed part of one."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    topics = [NewTopic(TOPIC, 3, 1), NewTopic(TARGET, 1, 1), NewTopic("grow-me", 1, 1), NewTopic("delete-me", 1, 1),
              NewTopic(TRIM, 1, 1, config={"retention.ms": "-1"}),
              NewTopic(BIG, 1, 1, config={"max.message.bytes": str(8 * 1024 * 1024)})]
    for future in admin.create_topics(topics).values():
        future.result(timeout=30)
    producer = Producer({"bootstrap.servers": bootstrap, "message.max.bytes": 10 * 1024 * 1024})
    for p in range(3):
        for i in range(PER_PARTITION):
            producer.produce(TOPIC, key=f"k{p}-{i}", value=json.dumps({"n": i, "p": p}).encode(),
                             headers=[("trace", f"t{i}"), ("trace", "dup")], partition=p)
    for i in range(10):
        producer.produce(TRIM, key=f"t{i}", value=f"trim {i}".encode())
    line = b"the quick brown fox jumps over the lazy dog 0123456789\n"
    producer.produce(BIG, key=b"big", value=(line * (BIG_BYTES // len(line) + 1))[:BIG_BYTES])
    assert producer.flush(60) == 0
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.assign([TopicPartition(TOPIC, p, 0) for p in range(3)])
    got = 0
    deadline = time.time() + 60
    while got < 15 and time.time() < deadline:
        msg = consumer.poll(1.0)
        if msg is not None and msg.error() is None:
            got += 1
    consumer.commit(offsets=[TopicPartition(TOPIC, p, 5) for p in range(3)], asynchronous=False)
    consumer.close()


def register_schema_and_webhook(http):
    schema = {"type": "record", "name": "Order", "fields": [{"name": "n", "type": "long"}]}
    r = requests.post(f"{http}/subjects/{TOPIC}-value/versions", auth=(USER, PASSWORD), timeout=10,
                      json={"schema": json.dumps(schema)})
    assert r.status_code == 200, r.text
    r = requests.post(f"{http}/v1/webhooks", auth=(USER, PASSWORD), timeout=10,
                      json={"name": HOOK, "url": f"http://127.0.0.1:{free_port()}/hook", "topics": [TARGET]})
    assert r.status_code == 201, r.text


def browser(plan, bootstrap):
    """Runs the browser script; when it says LIVE_READY, produces the live record with kcat."""
    env = {**os.environ}
    if env.get("STROM_CONSOLE_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(["node", str(SCRIPT), json.dumps(plan)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        last = ""
        for line in proc.stdout:
            if line.strip() == "LIVE_READY":
                kcat = subprocess.run(["kcat", "-b", bootstrap, "-P", "-t", plan["produce_topic"], "-K:"],
                                      input=f"noise:left out\n{plan['live_key']}:{plan['live_value']}\n", text=True,
                                      capture_output=True, timeout=60)
                assert kcat.returncode == 0, kcat.stderr
                proc.stdin.write("go\n")
                proc.stdin.flush()
            elif line.strip():
                last = line
        code = proc.wait(timeout=60)
        assert code == 0, proc.stderr.read()[-4000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    return json.loads(last)


def first_offsets(bootstrap):
    """The first offset a new consumer of GROUP gets on each partition of TOPIC."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": GROUP,
                         "auto.offset.reset": "latest", "enable.auto.commit": False})
    consumer.subscribe([TOPIC])
    first = {}
    deadline = time.time() + 60
    while len(first) < 3 and time.time() < deadline:
        msg = consumer.poll(1.0)
        if msg is not None and msg.error() is None:
            first.setdefault(msg.partition(), msg.offset())
    consumer.close()
    return first


def kcat_read(bootstrap, topic, count):
    out = subprocess.run(["kcat", "-b", bootstrap, "-C", "-t", topic, "-o", "beginning", "-c", str(count),
                          "-e", "-J"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


@pytest.mark.timeout(300)
def test_console_pages_and_actions_in_chromium(strom_factory, tmp_path):
    server = start(strom_factory, tmp_path)
    feed(server.bootstrap)
    register_schema_and_webhook(server.http)
    plan = {"base": server.http, "user": USER, "password": PASSWORD, "topic": TOPIC, "big_topic": BIG,
            "filter": "ord", "group": GROUP, "produce_topic": TARGET, "produce_key": "k1",
            "produce_value": "hello from the console", "subject": f"{TOPIC}-value",
            "live_key": "live-1", "live_value": "tailed by the browser", "trim_topic": TRIM,
            "screenshots": str(SHOTS)}
    auth = (USER, PASSWORD)
    topics = requests.get(f"{server.http}/v1/topics", auth=auth, timeout=10).json()
    groups = sorted(g["group"] for g in requests.get(f"{server.http}/v1/groups", auth=auth, timeout=10).json())
    assert {TOPIC, BIG, TARGET} <= {t["name"] for t in topics} and GROUP in groups
    r = browser(plan, server.bootstrap)

    # Built in (C1): everything on the origin, nothing the CSP blocked, no script error.
    assert r["foreign_requests"] == [] and r["csp_violations"] == [], r
    # (Refused API calls are shown on the page; Chromium logs each as a failed resource.)
    scripts = [e for e in r["console_errors"] if not e.startswith("Failed to load resource")]
    assert scripts == [], r["console_errors"]
    # Login (C15) with the session cookie.
    assert r["login_shown"] and r["after_login"] == "ready" and r["who"] == f"User:{USER}", r
    # Overview (C2): the counts the server has.
    assert sum(t["records"] for t in topics) == 3 * PER_PARTITION + 1 + 10
    assert r["overview"] == {"count-topics": str(len(topics)),
                             "count-partitions": str(sum(t["partition_count"] for t in topics)),
                             "count-records": str(3 * PER_PARTITION + 1 + 10),
                             "count-groups": str(len(groups)), "disk-state": "writable"}, r["overview"]
    status = requests.get(f"{server.http}/v1/status", auth=auth, timeout=10).json()
    assert 0 <= status["uptime_seconds"] < 600 and " s" in r["uptime"], (status, r["uptime"])
    # Topics (C3): filter and sort, in the URL; cleanup policy and retention of each.
    policies = {name: (policy, retention) for name, policy, retention in r["topics_policy"]}
    assert policies[TRIM] == ("delete", "forever") and policies[TOPIC] == ("delete", "7 d"), policies
    assert r["topics_all"] == sorted(t["name"] for t in topics), r["topics_all"]
    assert r["topics_filtered"] == [TOPIC] and "q=ord" in r["topics_filtered_hash"]
    assert r["topics_by_size_desc"][0] == BIG
    # Topic detail (C4): the high watermark of each partition, configs.
    assert r["partitions"] == [str(PER_PARTITION)] * 3 and r["segments"] == ["1"] * 3, r
    # Delete records (C4): the log start moved to 4; kcat reads from there.
    assert r["trim_notice"] == "Records deleted." and r["trim_log_start"] == ["4"], r
    assert [m["offset"] for m in kcat_read(server.bootstrap, TRIM, 6)] == [4, 5, 6, 7, 8, 9]
    assert "cleanup.policy" in r["configs"] and "max.message.bytes" in r["configs"]
    # Topic admin (C4), checked with confluent-kafka's admin client and kcat.
    assert r["config_notice"] == "Config changed." and r["config_row"] == ["retention.ms", "86400000", "topic"], r
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    described = admin.describe_configs([ConfigResource("topic", TOPIC)])
    config = list(described.values())[0].result(timeout=30)
    assert config["retention.ms"].value == "86400000"
    assert r["grown_partitions"] == 3
    meta = subprocess.run(["kcat", "-b", server.bootstrap, "-L", "-t", "grow-me", "-J"], capture_output=True,
                          text=True, timeout=60)
    assert len(json.loads(meta.stdout)["topics"][0]["partitions"]) == 3, meta.stdout
    assert r["delete_disabled_before"] and r["after_delete_hash"] == "#/topics?deleted=delete-me", r
    assert "delete-me" not in r["after_delete_topics"] and "delete-me" not in admin.list_topics(timeout=30).topics
    # Message browser (C5): paging forward and back gives every offset once.
    assert r["forward_offsets"] == list(range(PER_PARTITION)), r["forward_offsets"]
    assert sorted(r["backward_offsets"]) == list(range(PER_PARTITION)), r["backward_offsets"]
    assert len(set(r["backward_offsets"])) == PER_PARTITION
    # Record view (C7): keys, duplicate headers, JSON values; permalinks reproduce the page (C17).
    assert r["page_keys"] == ["text\n4 B\nk0-2", "text\n4 B\nk0-3", "text\n4 B\nk0-4"], r["page_keys"]
    assert r["permalink_keys"] == r["page_keys"]
    assert r["page_headers"][0].split() == ["trace", "t2", "trace", "dup"], r["page_headers"]
    assert '"n": 2' in r["page_values"][0], r["page_values"]
    # Time (C8): UTC first, the browser's zone (Sydney) after the toggle.
    assert r["first_time_utc"].endswith("Z") and r["first_time_local"][-6:] in ("+11:00", "+10:00"), r
    # A 5 MiB value: a bounded preview, then a larger one, never the whole value; no long task.
    assert r["big_pre_chars"] <= 2049 and 2049 < r["big_pre_chars_more"] <= 16385, r
    assert "5.0 MiB" in r["big_meta"], r["big_meta"]
    assert r["dom_chars"] < 200_000, r["dom_chars"]
    assert max(r["long_tasks_ms"], default=0) < 200, r["long_tasks_ms"]
    print(f"5 MiB record page: opened in {r['big_open_ms']} ms, long tasks {r['long_tasks_ms']}")
    # Consumer group (C11) and offset reset (C12): preview, apply, then a real consumer.
    assert r["groups"] == groups, r["groups"]
    assert r["group_lag"] == str(3 * (PER_PARTITION - 5)) and r["group_offsets"] == ["5"] * 3, r
    assert "to=earliest" in r["reset_hash"] and r["reset_preview_new"] == ["0"] * 3, r
    assert r["reset_result"] == "Offsets reset on 3 partitions.", r["reset_result"]
    assert r["group_lag_after"] == str(3 * PER_PARTITION), r
    assert first_offsets(server.bootstrap) == {0: 0, 1: 0, 2: 0}
    # Produce (C10) and re-produce, read back by kcat.
    assert r["produce_result"] == "Written to partition 0 at offset 0.", r["produce_result"]
    # (The re-produced record is the console's own: HTTP produce refuses repeated header keys,
    # so a record of TOPIC, with its duplicate `trace` headers, cannot be re-produced yet.)
    assert r["reproduce_value"] == "hello from the console", r["reproduce_value"]
    assert r["reproduce_result"] == "Written to partition 0 at offset 1.", r["reproduce_result"]
    records = kcat_read(server.bootstrap, TARGET, 2)
    assert records[0]["key"] == "k1" and records[0]["payload"] == "hello from the console", records[0]
    assert records[0]["headers"] == ["origin", "console"], records[0]
    assert records[1]["key"] == "k1" and records[1]["payload"] == "hello from the console", records[1]
    assert records[1]["headers"] == ["origin", "console"], records[1]
    # Live tail (C9): the record kcat produced appears; Pause closes the stream.
    assert r["live_value"] == "tailed by the browser" and r["live_after_pause"] == "paused", r
    assert r["live_rows"] == 1 and r["live_skipped"].strip() == "Left out by the filter: 1.", r
    print(f"live tail: the kcat record showed {r['live_ms']} ms after kcat returned")
    # Webhooks: listed, paused from the console (the API says so); schemas listed and shown.
    assert r["webhooks_state"] == "ready" and r["webhooks"] == [HOOK], r
    assert r["webhook_state_after_pause"] == "paused", r
    state = requests.get(f"{server.http}/v1/webhooks/{HOOK}", auth=(USER, PASSWORD), timeout=10).json()["state"]
    assert state == "paused", state
    assert r["schemas_state"] == "ready" and r["schemas"] == [f"{TOPIC}-value"], r
    assert r["schema_meta"] == "Version 1, schema id 1, type AVRO", r["schema_meta"]
    assert '"name": "Order"' in r["schema_text"], r["schema_text"]
    # Dark mode (C18) persists; axe-core: nothing serious or critical, light and dark.
    assert r["theme_after_toggle"] == "dark" and r["theme_after_reload"] == "dark"
    assert len(r["axe"]) == 2 * 12, sorted(r["axe"])
    bad = {page: v for page, v in r["axe"].items() if v}
    assert bad == {}, bad


def test_console_files_are_public_with_csp_and_etag(strom_factory, tmp_path):
    server = start(strom_factory, tmp_path)
    r = requests.get(f"{server.http}/console", allow_redirects=False, timeout=10)
    assert r.status_code == 308 and r.headers["Location"] == "/console/"
    r = requests.get(f"{server.http}/console/", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe" not in csp
    r = requests.get(f"{server.http}/console/app.js", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/javascript")
    etag = r.headers["ETag"]
    again = requests.get(f"{server.http}/console/app.js", headers={"If-None-Match": etag}, timeout=10)
    assert again.status_code == 304 and again.content == b""
    assert requests.get(f"{server.http}/console/nope.js", timeout=10).status_code == 404
    # The data is not public: the API still needs credentials. The console's requests get no
    # Basic challenge (the browser would open its own dialog); others still do.
    r = requests.get(f"{server.http}/v1/status", timeout=10)
    assert r.status_code == 401 and "Basic" in r.headers["WWW-Authenticate"]
    r = requests.get(f"{server.http}/v1/status", headers={"X-Requested-With": "XMLHttpRequest"}, timeout=10)
    assert r.status_code == 401 and "WWW-Authenticate" not in r.headers


def test_console_read_only_principal_is_refused_by_the_api(strom_factory, tmp_path):
    """C15: the console has no permissions of its own. A principal with Describe and Read
    only sees the topic and its records; the topic's delete form is left out, its produce from
    the console is refused by the API's authorizer (403, shown on the page), and the topic is
    untouched."""
    config = tmp_path / "strom.toml"
    config.write_text('http_auth = "required"\nauthorizer_enabled = true\n')
    server = strom_factory(extra_args=["--config", str(config)],
                           env={"STROM_BOOTSTRAP_USER": f"{USER}:{PASSWORD}:SCRAM-SHA-256"}).start()
    admin = (USER, PASSWORD)
    assert requests.post(f"{server.http}/v1/topics", json={"name": TOPIC}, auth=admin, timeout=10).status_code == 201
    r = requests.post(f"{server.http}/v1/topics/{TOPIC}/records", auth=admin, timeout=10,
                      json={"records": [{"key": "a", "value": {"n": 1}}]})
    assert r.status_code == 200, r.text
    r = requests.put(f"{server.http}/v1/users/viewer", auth=admin, timeout=10,
                     json={"mechanism": "SCRAM-SHA-256", "password": "viewer-pw"})
    assert r.status_code in (200, 201, 204), r.text
    acls = [{"resource_type": "TOPIC", "resource_name": TOPIC, "principal": "User:viewer",
             "operation": op, "permission": "ALLOW"} for op in ("DESCRIBE", "READ")]
    r = requests.post(f"{server.http}/v1/acls", json={"acls": acls}, auth=admin, timeout=10)
    assert r.status_code == 201, r.text
    r = browser({"mode": "read-only", "base": server.http, "user": "viewer", "password": "viewer-pw",
                 "topic": TOPIC, "screenshots": str(SHOTS)}, server.bootstrap)
    assert r["after_login"] == "ready" and r["partitions"] == ["0"], r
    assert r["delete_forms"] == 0, r
    assert r["produce_refused"] == f"not authorized to WRITE TOPIC '{TOPIC}'", r
    assert r["records_state"] == "ready" and r["record_count"] == 1, r
    topic = requests.get(f"{server.http}/v1/topics/{TOPIC}", auth=admin, timeout=10).json()
    assert topic["partitions"][0]["high_watermark"] == 1
    assert r["foreign_requests"] == [] and r["csp_violations"] == [], r
