"""Dead letters for consumers other than webhooks, in the webhooks' `strom-dlq-*` format.

A REST Proxy v2 consumer instance rejects a record it fetched: it lands in `<group>.dlq`
with its original key, value (non-UTF-8 bytes), timestamp and headers plus the dlq headers,
read back with confluent-kafka; `"commit": true` moves the group past it. Not-assigned
partitions are 409, offsets outside the log 422, unknown instances 404. A feed reader (no
group) reports records to `POST /v1/topics/{topic}/dead-letters`: idempotent on (partition,
offset, consumer), listed by `GET`, 409 when `<topic>.dlq` is an ordinary topic, 422 when
the name would pass 249 characters. With the ACL authorizer, both need Write on the
dead-letter topic (403 without it) and listing needs Read on it; reporting and listing also
need Read on the topic itself.
"""

import json
import subprocess
import time

import requests
from confluent_kafka import Consumer, Producer, TopicPartition
from conftest import strom_binary

V2 = {"content-type": "application/vnd.kafka.v2+json"}
BINARY = {"accept": "application/vnd.kafka.binary.v2+json"}
VALUE = b"\xff\x00order-1"


def produce(strom, topic, n):
    p = Producer({"bootstrap.servers": strom.bootstrap})
    for i in range(n):
        p.produce(topic, key=f"k{i}".encode(), value=VALUE + bytes([i]), partition=0,
                  headers=[("trace", f"t{i}".encode()), ("bin", b"\x01\x02")], timestamp=1_700_000_000_000 + i)
    assert p.flush(30) == 0


def read_all(strom, topic, n, timeout=30):
    c = Consumer({"bootstrap.servers": strom.bootstrap, "group.id": f"check-{topic}",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.assign([TopicPartition(topic, 0, 0)])
    out, deadline = [], time.time() + timeout
    while len(out) < n and time.time() < deadline:
        m = c.poll(1.0)
        if m is not None and m.error() is None:
            out.append(m)
    c.close()
    return out


def fetch(base, want, timeout=30):
    got, deadline = [], time.time() + timeout
    while len(got) < want and time.time() < deadline:
        r = requests.get(f"{base}/records", params={"timeout": 500}, headers=BINARY, timeout=30)
        assert r.status_code == 200, r.text
        got += r.json()
    return got


def test_rest_proxy_reject_and_topic_reports(strom):
    requests.post(f"{strom.http}/v1/topics", json={"name": "orders"}, timeout=10)
    requests.post(f"{strom.http}/v1/topics", json={"name": "other"}, timeout=10)
    produce(strom, "orders", 3)
    r = requests.post(f"{strom.http}/consumers/billing", headers=V2, timeout=10,
                      json={"name": "i1", "format": "binary", "auto.offset.reset": "earliest"})
    assert r.status_code == 200, r.text
    base = f"{strom.http}/consumers/billing/instances/i1"
    assert requests.post(f"{base}/subscription", headers=V2, json={"topics": ["orders"]}).status_code == 204
    assert len(fetch(base, 3)) == 3

    reject = f"{base}/records/reject"
    one = {"topic": "orders", "partition": 0, "offset": 1, "reason": "bad total"}
    r = requests.post(reject, headers=V2, json={"records": [{**one, "topic": "other"}]})
    assert r.status_code == 409 and r.json()["error_code"] == 40904, r.text
    r = requests.post(reject, headers=V2, json={"records": [{**one, "offset": 99}]})
    assert r.status_code == 422, r.text
    r = requests.post(f"{strom.http}/consumers/billing/instances/nope/records/reject", headers=V2,
                      json={"records": [one]})
    assert r.status_code == 404 and r.json()["error_code"] == 40403, r.text
    r = requests.post(reject, headers=V2, json={"records": [one], "commit": True})
    assert r.status_code == 200, r.text
    assert r.json()["dead_letter_topic"] == "billing.dlq"
    assert r.json()["records"][0]["dead_letter_offset"] == 0

    [m] = read_all(strom, "billing.dlq", 1)
    assert m.key() == b"k1" and m.value() == VALUE + b"\x01"
    assert m.timestamp()[1] == 1_700_000_000_001
    h = dict(m.headers())
    assert h["trace"] == b"t1" and h["bin"] == b"\x01\x02"
    assert h["strom-dlq-source"] == b"consumer-group"
    assert (h["strom-dlq-topic"], h["strom-dlq-partition"], h["strom-dlq-offset"]) == (b"orders", b"0", b"1")
    assert (h["strom-dlq-group"], h["strom-dlq-instance"]) == (b"billing", b"i1")
    assert h["strom-dlq-reason"] == b"bad total" and h["strom-dlq-principal"] == b"User:ANONYMOUS"
    assert h["strom-dlq-time"].startswith(b"20")
    # The commit moved the group past the rejected record.
    r = requests.get(f"{base}/offsets", params={"partitions": "orders:0"}, timeout=10)
    assert r.status_code == 200 and r.json()["offsets"][0]["offset"] >= 1, r.text

    # A feed reader reports by reference; a retry does not duplicate.
    letters = f"{strom.http}/v1/topics/orders/dead-letters"
    report = {"partition": 0, "offset": 2, "reason": "cannot parse", "consumer": "feed-1"}
    first = requests.post(letters, json=report, timeout=10)
    assert first.status_code == 201, first.text
    again = requests.post(letters, json=report, timeout=10)
    assert again.status_code == 200 and again.json()["duplicate"] is True, again.text
    assert again.json()["dead_letter_offset"] == first.json()["dead_letter_offset"]
    other = requests.post(letters, json={**report, "consumer": "feed-2"}, timeout=10)
    assert other.status_code == 201, other.text
    page = requests.get(letters, timeout=10).json()
    assert [(d["source"], d["consumer"], d["source_offset"]) for d in page["dead_letters"]] == [
        ("topic", "feed-1", 2), ("topic", "feed-2", 2)]
    assert page["dead_letters"][0]["value_base64"] and page["dead_letters"][0]["reason"] == "cannot parse"
    assert requests.post(letters, json={**report, "offset": 50}, timeout=10).status_code == 422
    assert requests.post(f"{strom.http}/v1/topics/missing/dead-letters", json=report,
                         timeout=10).status_code == 404

    # The CLI: the same report through `strom dlq post` is a duplicate; `list` shows both.
    cli, server = [strom_binary(), "dlq"], ["--server", strom.http]
    out = subprocess.run([*cli, "post", "orders", "--offset", "2", "--reason", "x", "--consumer", "feed-1", *server],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "already reported at orders.dlq offset 0" in out.stdout, out
    out = subprocess.run([*cli, "list", "orders", "--json", *server], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out
    assert [d["consumer"] for d in json.loads(out.stdout)["dead_letters"]] == ["feed-1", "feed-2"]

    # `<topic>.dlq` already an ordinary topic: 409; a name that would pass 249 chars: 422.
    for name in ("plain", "plain.dlq", "x" * 247):
        assert requests.post(f"{strom.http}/v1/topics", json={"name": name}, timeout=10).status_code == 201
    produce(strom, "plain", 1)
    produce(strom, "x" * 247, 1)
    r = requests.post(f"{strom.http}/v1/topics/plain/dead-letters", json=report, timeout=10)
    assert r.status_code == 409, r.text
    assert requests.get(f"{strom.http}/v1/topics/plain/dead-letters", timeout=10).status_code == 409
    r = requests.post(f"{strom.http}/v1/topics/{'x' * 247}/dead-letters", json={**report, "offset": 0},
                      timeout=10)
    assert r.status_code == 422, r.text


def test_dead_letter_authorization(strom_factory, tmp_path):
    admin = ("admin", "admin:pw")
    config = tmp_path / "strom.toml"
    config.write_text('http_auth = "required"\nauthorizer_enabled = true\n')
    s = strom_factory(extra_args=["--config", str(config)],
                      env={"STROM_BOOTSTRAP_USER": "admin:admin:pw:SCRAM-SHA-256"}).start()
    assert requests.post(f"{s.http}/v1/topics", json={"name": "a"}, auth=admin).status_code == 201
    r = requests.post(f"{s.http}/v1/topics/a/records", auth=admin, json={"records": [{"value": {"n": 1}}]})
    assert r.status_code == 200, r.text
    acl = lambda rt, name, op: {"resource_type": rt, "resource_name": name, "principal": "User:alice",  # noqa: E731
                                "operation": op, "permission": "ALLOW"}
    r = requests.post(f"{s.http}/v1/acls", auth=admin,
                      json={"acls": [acl("TOPIC", "a", "READ"), acl("GROUP", "g", "READ")]})
    assert r.status_code == 201, r.text
    key = requests.post(f"{s.http}/v1/api-keys", auth=admin, json={"name": "alice", "principal": "User:alice"})
    alice = {"Authorization": f"Bearer {key.json()['key']}"}
    r = requests.post(f"{s.http}/consumers/g", headers={**V2, **alice},
                      json={"name": "c", "format": "binary", "auto.offset.reset": "earliest"})
    assert r.status_code == 200, r.text
    base = f"{s.http}/consumers/g/instances/c"
    assert requests.post(f"{base}/subscription", headers={**V2, **alice}, json={"topics": ["a"]}).status_code == 204
    got, deadline = [], time.time() + 30
    while not got and time.time() < deadline:
        got = requests.get(f"{base}/records", params={"timeout": 500}, headers={**BINARY, **alice}).json()
    assert got, "the instance fetched nothing"
    # Every answer is collected and compared at the end, so one run shows each check that failed.
    seen = {}
    reject = {"records": [{"topic": "a", "partition": 0, "offset": 0, "reason": "no"}]}
    r = requests.post(f"{base}/records/reject", headers={**V2, **alice}, json=reject)
    seen["reject, no Write on g.dlq"] = (r.status_code, r.json().get("error_code"))
    letters = f"{s.http}/v1/topics/a/dead-letters"
    report = {"partition": 0, "offset": 0, "reason": "no"}
    seen["report, no Write on a.dlq"] = requests.post(letters, headers=alice, json=report).status_code
    r = requests.post(f"{s.http}/v1/acls", auth=admin,
                      json={"acls": [acl("TOPIC", "g.dlq", "WRITE"), acl("TOPIC", "a.dlq", "WRITE")]})
    assert r.status_code == 201, r.text
    r = requests.post(f"{base}/records/reject", headers={**V2, **alice}, json=reject)
    seen["reject with Write on g.dlq"] = r.status_code
    seen["report with Write on a.dlq"] = requests.post(letters, headers=alice, json=report).status_code
    seen["list, no Read on a.dlq"] = requests.get(letters, headers=alice).status_code
    requests.post(f"{s.http}/v1/acls", auth=admin, json={"acls": [acl("TOPIC", "a.dlq", "READ")]})
    listed = requests.get(letters, headers=alice)
    seen["list with Read on a.dlq"] = listed.status_code
    # Both rights on `a.dlq` but not Read on `a`: reporting and listing are refused.
    bob_acls = [dict(acl("TOPIC", "a.dlq", op), principal="User:bob") for op in ("WRITE", "READ")]
    assert requests.post(f"{s.http}/v1/acls", auth=admin, json={"acls": bob_acls}).status_code == 201
    key = requests.post(f"{s.http}/v1/api-keys", auth=admin, json={"name": "bob", "principal": "User:bob"})
    bob = {"Authorization": f"Bearer {key.json()['key']}"}
    seen["report, no Read on a"] = requests.post(letters, headers=bob, json=report).status_code
    seen["list, no Read on a"] = requests.get(letters, headers=bob).status_code
    assert seen == {
        "reject, no Write on g.dlq": (403, 40301), "report, no Write on a.dlq": 403,
        "reject with Write on g.dlq": 200, "report with Write on a.dlq": 201,
        "list, no Read on a.dlq": 403, "list with Read on a.dlq": 200,
        "report, no Read on a": 403, "list, no Read on a": 403,
    }, seen
    assert listed.json()["dead_letters"][0]["principal"] == "User:alice", listed.text
