"""Webhooks against the real binary: events produced by confluent-kafka and HTTP reach a
receiver that verifies each request with the official `standardwebhooks` library, in
partition order; failures are retried, dead-lettered with `strom-dlq-*` headers and
redriven; `block` stops a partition until fixed; a SIGKILL loses nothing; 410 disables;
SSRF targets and bad input are refused with problem+json."""

import base64
import json
import os
import threading
import time

import requests
from confluent_kafka import Consumer, Producer, TopicPartition
from kafka.admin import KafkaAdminClient

from webhook_receiver import Receiver, wait_for

FAST = [0, 100, 100]


def create_topic(strom, name, partitions=1):
    r = requests.post(f"{strom.http}/v1/topics", json={"name": name, "partitions": partitions})
    assert r.status_code == 201, r.text


def subscribe(strom, receiver, name, topics, **extra):
    # The secret is chosen here and given to the receiver before the subscription exists:
    # records already in the topic may be delivered before the create call has returned.
    secret = extra.pop("secret", None) or "whsec_" + base64.b64encode(os.urandom(32)).decode()
    receiver.secret = secret
    body = {"name": name, "url": receiver.url, "topics": topics, "start": "earliest",
            "secret": secret, **extra}
    r = requests.post(f"{strom.http}/v1/webhooks", json=body)
    assert r.status_code == 201, r.text
    sub = r.json()
    assert sub["secret"].startswith("whsec_")
    receiver.secret = sub["secret"]
    return sub


def produce(strom, topic, n, key=lambda i: f"k{i % 3}", headers=None, start=0):
    p = Producer({"bootstrap.servers": strom.bootstrap})
    for i in range(start, start + n):
        p.produce(topic, key=key(i), value=json.dumps({"n": i}).encode(), headers=headers)
    assert p.flush(30) == 0


def delivered_numbers(receiver, ok_status_for=lambda r: True):
    return [r.json()["data"]["n"] for r in receiver.delivered() if ok_status_for(r)]


def metric(strom, name, sub):
    text = requests.get(f"{strom.http}/metrics").text
    for line in text.splitlines():
        if line.startswith(f'{name}{{subscription="{sub}"}}'):
            return float(line.split()[-1])
    return None


def test_delivers_signed_events_in_partition_order(strom):
    receiver = Receiver()
    create_topic(strom, "orders", partitions=3)
    sub = subscribe(strom, receiver, "orders-hook", ["orders"])
    produce(strom, "orders", 60)
    r = requests.post(f"{strom.http}/v1/topics/orders/records",
                      json={"records": [{"key": "http", "value": {"n": 60}}]})
    assert r.status_code == 200, r.text
    wait_for(lambda: len(receiver.delivered()) >= 61, what="61 deliveries")
    got = receiver.delivered()
    assert len(got) == 61 and all(r.verified for r in got), "a signature did not verify"
    assert sorted(r.json()["data"]["n"] for r in got) == list(range(61))
    by_partition = {}
    for r in got:
        event = r.json()
        assert r.id == f"orders/{event['strompartition']}/{event['stromoffset']}"
        assert event["specversion"] == "1.0" and event["source"] == "/strom/topics/orders"
        by_partition.setdefault(event["strompartition"], []).append(event["stromoffset"])
    for offsets in by_partition.values():
        assert offsets == sorted(offsets), "partition order broken"
    # The subscription is a consumer group with its position committed.
    wait_for(lambda: metric(strom, "strom_webhook_lag_records", "orders-hook") == 0, what="lag 0")
    admin = KafkaAdminClient(bootstrap_servers=strom.bootstrap)
    assert sub["group"] in [g[0] for g in admin.list_consumer_groups()]
    admin.close()
    c = Consumer({"bootstrap.servers": strom.bootstrap, "group.id": sub["group"]})
    committed = c.committed([TopicPartition("orders", p) for p in range(3)], timeout=30)
    c.close()
    assert sum(tp.offset for tp in committed) == 61
    assert metric(strom, "strom_webhook_delivered_total", "orders-hook") == 61
    # The secret is not shown again except by the secret endpoint.
    assert "secret" not in requests.get(f"{strom.http}/v1/webhooks/orders-hook").json()
    assert requests.get(f"{strom.http}/v1/webhooks/orders-hook/secret").json()["secret"] == sub["secret"]
    receiver.close()


def test_ce_id_is_the_webhook_id_and_rotation_signs_with_both(strom):
    receiver = Receiver()
    create_topic(strom, "ce")
    subscribe(strom, receiver, "ce-hook", ["ce"], payload="binary")
    produce(strom, "ce", 1, headers=[("ce_id", b"evt-1"), ("ce_type", b"order.created")])
    wait_for(lambda: receiver.delivered(), what="a delivery")
    first = receiver.delivered()[0]
    assert first.id == "evt-1" and first.verified
    assert first.headers["ce-type"] == "order.created" and first.body == b'{"n": 0}'
    old = receiver.secret
    new = requests.post(f"{strom.http}/v1/webhooks/ce-hook/secret/rotate", json={}).json()["secret"]
    produce(strom, "ce", 1, start=1)
    wait_for(lambda: len(receiver.delivered()) == 2, what="a second delivery")
    second = receiver.delivered()[1]
    assert len(second.headers["webhook-signature"].split(" ")) == 2
    assert second.verified  # with the old secret
    receiver.secret = new
    from standardwebhooks.webhooks import Webhook
    Webhook(new).verify(second.body, second.headers)
    assert old != new
    receiver.close()


def test_fail_n_times_then_succeed_gives_n_extra_deliveries(strom):
    failures = {}

    def flaky(request):
        failures[request.id] = failures.get(request.id, 0) + 1
        return (503, {}, b"busy") if failures[request.id] <= 2 else (200, {}, b"ok")

    receiver = Receiver(flaky)
    create_topic(strom, "flaky")
    subscribe(strom, receiver, "flaky-hook", ["flaky"], retry_schedule_ms=[0, 50, 50, 50, 50])
    produce(strom, "flaky", 10)
    wait_for(lambda: len(receiver.delivered()) >= 30, what="30 requests")
    time.sleep(0.5)
    got = receiver.delivered()
    assert len(got) == 30 and len(set(r.id for r in got)) == 10
    assert sorted(delivered_numbers(receiver)) == sorted(list(range(10)) * 3)
    attempts = requests.get(f"{strom.http}/v1/webhooks/flaky-hook/attempts").json()
    assert {a["result"] for a in attempts} == {"delivered", "http_5xx"}
    receiver.close()


def test_always_failing_fills_the_dead_letter_topic_and_redrive_delivers(strom):
    state = {"fixed": False}
    receiver = Receiver(lambda r: (200, {}, b"ok") if state["fixed"] else (500, {}, b"boom"))
    create_topic(strom, "dead")
    subscribe(strom, receiver, "dead-hook", ["dead"], retry_schedule_ms=FAST)
    produce(strom, "dead", 5, headers=[("trace", b"t1")])
    wait_for(lambda: metric(strom, "strom_webhook_dead_letter_records", "dead-hook") == 5,
             what="5 dead letters")
    assert len(receiver.delivered()) == 15  # 3 attempts each
    c = Consumer({"bootstrap.servers": strom.bootstrap, "group.id": "dlq-reader",
                  "auto.offset.reset": "earliest"})
    c.subscribe(["dead-hook.dlq"])
    letters = []
    deadline = time.time() + 60
    while len(letters) < 5 and time.time() < deadline:
        m = c.poll(1.0)
        if m is not None and m.error() is None:
            letters.append(m)
    c.close()
    assert len(letters) == 5
    h = dict(letters[0].headers())
    assert h["trace"] == b"t1" and h["strom-dlq-topic"] == b"dead"
    assert h["strom-dlq-subscription"] == b"dead-hook" and h["strom-dlq-attempts"] == b"3"
    assert h["strom-dlq-status"] == b"500" and h["strom-dlq-response"] == b"boom"
    assert h["strom-dlq-event-id"] == b"dead/0/0" and "strom-dlq-first-attempt" in h
    assert h["strom-dlq-source"] == b"subscription"
    assert json.loads(letters[0].value()) == {"n": 0}
    listed = requests.get(f"{strom.http}/v1/webhooks/dead-hook/dead-letters").json()
    assert [l["offset"] for l in listed] == [0, 1, 2, 3, 4]
    state["fixed"] = True
    before = len(receiver.delivered())
    r = requests.post(f"{strom.http}/v1/webhooks/dead-hook/dead-letters/redrive", json={})
    assert r.status_code == 200, r.text
    assert r.json()["delivered"] == [0, 1, 2, 3, 4]
    redriven = receiver.delivered()[before:]
    assert [x.id for x in redriven] == [f"dead/0/{i}" for i in range(5)]
    assert all(x.verified for x in redriven)
    receiver.close()


def test_block_mode_stops_at_the_failing_event_and_resumes_in_order(strom):
    state = {"fixed": False}

    def picky(request):
        if request.json()["data"]["n"] == 2 and not state["fixed"]:
            return 500, {}, b"no"
        return 200, {}, b"ok"

    receiver = Receiver(picky)
    create_topic(strom, "blk")
    subscribe(strom, receiver, "blk-hook", ["blk"], retry_schedule_ms=[0, 50],
              failure_policy="block")
    produce(strom, "blk", 6)
    wait_for(lambda: metric(strom, "strom_webhook_blocked_partitions", "blk-hook") == 1,
             what="the partition blocked")
    time.sleep(0.5)
    ok = [r.json()["data"]["n"] for r in receiver.delivered() if not (r.json()["data"]["n"] == 2)]
    assert ok == [0, 1], "delivery went past the blocked event"
    state["fixed"] = True
    wait_for(lambda: 5 in delivered_numbers(receiver), what="resumed delivery")
    tail = [n for n in delivered_numbers(receiver) if n >= 2]
    assert tail[-4:] == [2, 3, 4, 5] and 3 not in tail[:tail.index(2)]
    assert metric(strom, "strom_webhook_blocked_partitions", "blk-hook") == 0
    receiver.close()


def test_sigkill_during_delivery_loses_nothing_and_keeps_ids(strom):
    def slow(_request):
        time.sleep(0.02)
        return 200, {}, b"ok"

    receiver = Receiver(slow)
    create_topic(strom, "crash", partitions=2)
    subscribe(strom, receiver, "crash-hook", ["crash"])
    produce(strom, "crash", 200)
    wait_for(lambda: len(receiver.delivered()) >= 40, what="some deliveries")
    strom.kill()
    strom.start()
    wait_for(lambda: set(delivered_numbers(receiver)) == set(range(200)), timeout=120,
             what="every event after the restart")
    by_id = {}
    for r in receiver.delivered():
        by_id.setdefault(r.id, set()).add(r.body)
        assert r.verified
    assert len(by_id) == 200
    assert all(len(bodies) == 1 for bodies in by_id.values()), "a duplicate changed its id"
    receiver.close()


def test_410_disables_until_resumed(strom):
    state = {"gone": True}
    receiver = Receiver(lambda r: (410, {}, b"") if state["gone"] else (200, {}, b"ok"))
    create_topic(strom, "gone")
    subscribe(strom, receiver, "gone-hook", ["gone"])
    produce(strom, "gone", 3)
    wait_for(lambda: requests.get(f"{strom.http}/v1/webhooks/gone-hook").json()["state"]
             == "disabled", what="disabled")
    time.sleep(0.3)
    assert len(receiver.delivered()) == 1
    state["gone"] = False
    assert requests.post(f"{strom.http}/v1/webhooks/gone-hook/resume").json()["state"] == "active"
    wait_for(lambda: sorted(delivered_numbers(receiver))[-3:] == [0, 1, 2], what="delivered")
    receiver.close()


def test_hanging_huge_and_redirecting_receivers_do_not_stall_others(strom):
    hang = threading.Event()
    bad = {
        "hang": Receiver(lambda r: (hang.wait(30), (200, {}, b""))[1]),
        "huge": Receiver(lambda r: (500, {}, b"x" * (10 << 20))),
        "redirect": Receiver(lambda r: (307, {"location": "http://127.0.0.1:1/"}, b"")),
    }
    good = Receiver()
    create_topic(strom, "mixed")
    for name, receiver in bad.items():
        subscribe(strom, receiver, f"{name}-hook", ["mixed"], timeout_ms=500,
                  retry_schedule_ms=[0, 100])
    subscribe(strom, good, "good-hook", ["mixed"])
    produce(strom, "mixed", 20)
    wait_for(lambda: len(good.delivered()) == 20, what="the good receiver's 20 events")
    wait_for(lambda: metric(strom, "strom_webhook_dead_letter_records", "redirect-hook") == 20,
             what="redirects dead-lettered")
    assert len(bad["redirect"].delivered()) == 40  # 307 never followed
    text = requests.get(f"{strom.http}/metrics").text
    # Each attempt failed on the 307 itself: a followed redirect would fail elsewhere (connect).
    assert 'strom_webhook_failed_attempts_total{subscription="redirect-hook",reason="http_3xx"} 40' in text, \
        [l for l in text.splitlines() if "redirect-hook" in l]
    assert 'strom_webhook_failed_attempts_total{subscription="hang-hook",reason="timeout"}' in text
    hang.set()
    for receiver in [*bad.values(), good]:
        receiver.close()


def test_bad_input_and_ssrf_are_refused(strom):
    create_topic(strom, "t")
    base = {"url": "http://127.0.0.1:9/hook", "topics": ["t"]}

    def post(**body):
        r = requests.post(f"{strom.http}/v1/webhooks", json={**base, **body})
        assert r.headers["content-type"] == "application/problem+json", r.text
        return r

    assert post(name="meta", url="http://169.254.169.254/latest").status_code == 422
    assert post(name="meta6", url="http://[fe80::1]/").json()["type"].endswith("target-refused")
    assert post(name="bad/name").status_code == 422
    assert post(name="x", url="ftp://example/").status_code == 422
    assert post(name="x", topics=["nope"]).status_code == 404
    assert post(name="x", retry_schedule_ms=[]).status_code == 422
    r = requests.post(f"{strom.http}/v1/webhooks", json={**base, "name": "x"})
    assert r.status_code == 201
    assert post(name="x").status_code == 409
    create_topic(strom, "y.dlq")
    assert post(name="y").status_code == 409  # its dead-letter topic belongs to something else
    assert requests.post(f"{strom.http}/v1/webhooks", data="{", headers={
        "content-type": "application/json"}).status_code == 400


def test_cli_manages_subscriptions(strom):
    import subprocess
    from conftest import strom_binary

    receiver = Receiver()
    create_topic(strom, "cli")

    def cli(*args):
        out = subprocess.run([strom_binary(), "webhook", *args, "--server", strom.http, "--json"],
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout) if out.stdout.strip() else None

    created = cli("create", "cli-hook", "--url", receiver.url, "--topic", "cli", "--from-beginning")
    receiver.secret = created["secret"]
    assert [s["name"] for s in cli("list")] == ["cli-hook"]
    assert cli("describe", "cli-hook")["group"] == "webhook.cli-hook"
    assert cli("pause", "cli-hook")["state"] == "paused"
    produce(strom, "cli", 2)
    time.sleep(0.5)
    assert receiver.delivered() == []
    assert cli("resume", "cli-hook")["state"] == "active"
    wait_for(lambda: len(receiver.delivered()) == 2, what="2 deliveries after resume")
    assert cli("test", "cli-hook")["result"] == "delivered"
    assert receiver.delivered()[-1].json()["type"] == "strom.test" and receiver.delivered()[-1].verified
    cli("delete", "cli-hook")
    assert cli("list") == []
    receiver.close()
