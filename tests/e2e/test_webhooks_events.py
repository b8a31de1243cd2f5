"""Webhook operational events, resend and partitions added while delivering, against the real
binary with one server for the module: a receiver answering 410 (endpoint disabled), one that
always fails (message exhausted, dead-lettered), one that blocks a partition and is fixed
(blocked, unblocked); `__strom_events` read with confluent-kafka and through the HTTP feed, and
refused to producers. Resend delivers a retained record again with its original webhook-id
(verified by the standardwebhooks receiver) without moving the committed position; bad
resends are problem+json. CreatePartitions while a subscription runs is picked up."""

import json
import time

import pytest
import requests
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewPartitions

from conftest import Strom
from test_webhooks import create_topic, delivered_numbers, metric, produce, subscribe
from webhook_receiver import Receiver, wait_for

EVENTS = "__strom_events"


@pytest.fixture(scope="module")
def strom(tmp_path_factory):
    server = Strom(tmp_path_factory.mktemp("events") / "data").start()
    yield server
    assert server.stop() in (None, 0), server.log_text()


def read_events(strom, until, timeout=60):
    """Every event of __strom_events, read with confluent-kafka until `until(events)` holds."""
    c = Consumer({"bootstrap.servers": strom.bootstrap, "group.id": f"ev-{time.time()}",
                  "enable.auto.commit": False})
    c.assign([TopicPartition(EVENTS, 0, 0)])
    events, deadline = [], time.time() + timeout
    try:
        while not until(events) and time.time() < deadline:
            m = c.poll(0.5)
            if m is not None and m.error() is None:
                doc = json.loads(m.value())
                doc["_key"] = m.key().decode()
                doc["_headers"] = dict(m.headers() or [])
                events.append(doc)
    finally:
        c.close()
    assert until(events), [(e["_key"], e["type"]) for e in events]
    return events


def of(events, sub, kind):
    return [e for e in events if e["_key"] == sub and e["type"] == f"strom.webhook.{kind}"]


def test_operational_events_reach_kafka_and_the_feed(strom):
    gone = Receiver(lambda r: (410, {}, b""))
    failing = Receiver(lambda r: (500, {}, b"boom"))
    state = {"fixed": False}
    blocking = Receiver(lambda r: (200, {}, b"ok") if state["fixed"] else (503, {}, b"no"))
    for t in ["ev-gone", "ev-dead", "ev-blk"]:
        create_topic(strom, t)
    subscribe(strom, gone, "gone-hook", ["ev-gone"])
    subscribe(strom, failing, "dead-hook", ["ev-dead"], retry_schedule_ms=[0, 50])
    subscribe(strom, blocking, "blk-hook", ["ev-blk"], retry_schedule_ms=[0, 50],
              failure_policy="block")
    for t in ["ev-gone", "ev-dead", "ev-blk"]:
        produce(strom, t, 1)
    wait_for(lambda: metric(strom, "strom_webhook_blocked_partitions", "blk-hook") == 1,
             what="the partition blocked")
    state["fixed"] = True
    assert requests.post(f"{strom.http}/v1/webhooks/dead-hook/pause").status_code == 200
    assert requests.post(f"{strom.http}/v1/webhooks/dead-hook/resume").status_code == 200

    def complete(events):
        return all(of(events, s, k) for s, k in [
            ("gone-hook", "endpoint.disabled"), ("dead-hook", "message.exhausted"),
            ("blk-hook", "partition.blocked"), ("blk-hook", "partition.unblocked"),
            ("dead-hook", "subscription.created"), ("dead-hook", "subscription.paused"),
            ("dead-hook", "subscription.resumed")])

    events = read_events(strom, complete)
    disabled = of(events, "gone-hook", "endpoint.disabled")[0]
    assert disabled["source"] == "/strom/webhooks/gone-hook" and disabled["specversion"] == "1.0"
    assert disabled["subject"] == "gone-hook" and "410" in disabled["data"]["reason"]
    assert disabled["time"].endswith("Z") and len(disabled["id"]) == 32
    assert disabled["_headers"]["ce_type"] == b"strom.webhook.endpoint.disabled"
    exhausted = of(events, "dead-hook", "message.exhausted")[0]
    assert exhausted["subject"] == "ev-dead/0/0"
    d = exhausted["data"]
    assert (d["event_id"], d["topic"], d["partition"], d["offset"]) == ("ev-dead/0/0", "ev-dead", 0, 0)
    assert d["attempts"] == 2 and d["status"] == 500 and d["reason"] == "exhausted"
    assert d["dead_letter_topic"] == "dead-hook.dlq" and d["dead_letter_offset"] == 0
    blocked = of(events, "blk-hook", "partition.blocked")[0]
    assert blocked["data"]["offset"] == 0 and blocked["data"]["status"] == 503
    unblocked = of(events, "blk-hook", "partition.unblocked")[0]
    assert unblocked["data"]["event_id"] == "ev-blk/0/0"
    kinds = [e["type"] for e in events if e["_key"] == "dead-hook"]
    assert kinds.index("strom.webhook.subscription.created") < kinds.index(
        "strom.webhook.subscription.paused") < kinds.index("strom.webhook.subscription.resumed")

    # The HTTP feed shows the same events (the record value is the CloudEvent, as data).
    feed = requests.get(f"{strom.http}/feeds/{EVENTS}?limit=1000",
                        headers={"accept": "application/json"})
    assert feed.status_code == 200, feed.text
    shown = [e["data"] for e in feed.json()]
    assert any(e["type"] == "strom.webhook.message.exhausted"
               and e["data"]["dead_letter_offset"] == 0 for e in shown), shown
    assert {e["type"] for e in feed.json()} >= {"strom.webhook.endpoint.disabled"}

    # Nobody but Strom writes it.
    p = Producer({"bootstrap.servers": strom.bootstrap})
    errors = []
    try:
        p.produce(EVENTS, value=b"{}", on_delivery=lambda err, _m: errors.append(err))
        p.flush(30)
    except KafkaException as e:  # librdkafka may refuse at once from the metadata
        errors.append(e.args[0])
    assert errors and errors[0] is not None, errors
    r = requests.post(f"{strom.http}/v1/topics/{EVENTS}/records", json={"records": [{"value": 1}]})
    assert r.status_code == 403 and r.json()["type"].endswith("internal-topic"), r.text
    assert metric_plain(strom, "strom_events_publish_failures_total") == 0
    for receiver in [gone, failing, blocking]:
        receiver.close()


def metric_plain(strom, name):
    for line in requests.get(f"{strom.http}/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def test_resend_delivers_again_with_the_original_id(strom):
    receiver = Receiver()
    create_topic(strom, "rs")
    subscribe(strom, receiver, "rs-hook", ["rs"])
    produce(strom, "rs", 3)
    wait_for(lambda: len(receiver.delivered()) == 3, what="3 deliveries")
    wait_for(lambda: metric(strom, "strom_webhook_lag_records", "rs-hook") == 0, what="committed")
    url = f"{strom.http}/v1/webhooks/rs-hook/resend"
    r = requests.post(url, json={"topic": "rs", "partition": 0, "offset": 1})
    assert r.status_code == 200, r.text
    assert r.json()["result"] == "delivered" and r.json()["event_id"] == "rs/0/1"
    again = receiver.delivered()[3]
    assert again.id == "rs/0/1" and again.verified and again.json()["data"] == {"n": 1}
    assert again.headers["webhook-id"] == receiver.delivered()[1].headers["webhook-id"]
    produce(strom, "rs", 1, start=3)
    wait_for(lambda: len(receiver.delivered()) == 5, what="the next event")
    assert delivered_numbers(receiver) == [0, 1, 2, 1, 3]  # the position did not move back
    for body, status, kind in [
        ({"topic": "rs", "partition": 0, "offset": 99}, 422, "offset-out-of-range"),
        ({"topic": "rs", "partition": 7, "offset": 0}, 422, "offset-out-of-range"),
        ({"topic": "other", "partition": 0, "offset": 0}, 422, "invalid-request"),
        ({"topic": "rs"}, 400, None),
    ]:
        bad = requests.post(url, json=body)
        assert bad.status_code == status, (body, bad.text)
        assert bad.headers["content-type"] == "application/problem+json"
        if kind:
            assert bad.json()["type"].endswith(kind), bad.json()
    assert "/work" not in bad.text
    receiver.close()


def test_partitions_added_while_delivering_are_picked_up(strom):
    receiver = Receiver()
    create_topic(strom, "grow", partitions=1)
    subscribe(strom, receiver, "grow-hook", ["grow"])
    produce(strom, "grow", 5)
    wait_for(lambda: len(receiver.delivered()) == 5, what="first 5")
    admin = AdminClient({"bootstrap.servers": strom.bootstrap})
    for f in admin.create_partitions([NewPartitions("grow", 3)]).values():
        f.result(30)
    p = Producer({"bootstrap.servers": strom.bootstrap, "topic.metadata.refresh.interval.ms": 200})
    wait_for(lambda: len(p.list_topics("grow", timeout=10).topics["grow"].partitions) == 3,
             what="3 partitions in metadata")
    for i in range(5, 11):
        p.produce("grow", value=json.dumps({"n": i}).encode(), partition=i % 3)
    assert p.flush(30) == 0
    wait_for(lambda: sorted(delivered_numbers(receiver)) == list(range(11)),
             what="events of the new partitions")
    parts = {r.json()["strompartition"] for r in receiver.delivered()}
    assert parts == {0, 1, 2}
    receiver.close()
