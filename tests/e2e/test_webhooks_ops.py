"""Webhook operations against the real binary: dead letters listed with their failure headers
as fields and paged; redrive of one offset, a list, a time range and everything from an
offset, to the subscription (original ids, signatures verified with `standardwebhooks`) or
back to the original topic (new events, which the subscription then delivers); redrive to a
topic needs Write on it, resend Alter on the subscription and Read on the topic; PATCH
changes URL, retry schedule and secret while delivery goes on from the committed position;
GET shows recent attempts, rates and lag; the CLI drives it."""

import json
import subprocess
import time

import requests

from conftest import strom_binary
from test_webhooks import create_topic, metric, produce, subscribe
from webhook_receiver import Receiver, wait_for


def cli(strom, *args):
    out = subprocess.run([strom_binary(), "webhook", *args, "--server", strom.http, "--json"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout) if out.stdout.strip() else None


def numbers(requests_):
    return [r.json()["data"]["n"] for r in requests_]


def test_dlq_lists_failure_fields_and_redrives_selections(strom):
    state = {"fixed": False}
    receiver = Receiver(lambda r: (200, {}, b"ok") if state["fixed"] else (500, {}, b"boom"))
    create_topic(strom, "dl")
    subscribe(strom, receiver, "dl-hook", ["dl"], retry_schedule_ms=[0, 50])
    produce(strom, "dl", 4, headers=[("trace", b"t")])
    wait_for(lambda: metric(strom, "strom_webhook_dead_letter_records", "dl-hook") == 4,
             what="4 dead letters")
    page = requests.get(f"{strom.http}/v1/webhooks/dl-hook/dlq", params={"limit": 3}).json()
    assert [l["offset"] for l in page["dead_letters"]] == [0, 1, 2]
    assert page["next_offset"] == 3 and page["end_offset"] == 4
    first = page["dead_letters"][0]
    assert (first["topic"], first["partition"], first["source_offset"]) == ("dl", 0, 0)
    assert (first["attempts"], first["status"], first["response"]) == (2, 500, "boom")
    assert first["reason"] == "exhausted" and first["event_id"] == "dl/0/0"
    assert first["error"] == "HTTP 500 Internal Server Error" and first["last_attempt"]
    assert first["headers"] == [{"key": "trace", "value": "t"}]
    assert json.loads(first["value"]) == {"n": 0}
    rest = requests.get(f"{strom.http}/v1/webhooks/dl-hook/dlq", params={"from": 3}).json()
    assert [l["offset"] for l in rest["dead_letters"]] == [3] and rest["next_offset"] is None
    assert cli(strom, "dlq", "dl-hook")["end_offset"] == 4

    state["fixed"] = True
    redrive = f"{strom.http}/v1/webhooks/dl-hook/dlq/redrive"
    before = len(receiver.delivered())
    assert requests.post(redrive, json={"offset": 1}).json()["delivered"] == [1]
    got = receiver.delivered()[before:]
    assert [r.id for r in got] == ["dl/0/1"] and got[0].verified
    r = requests.post(redrive, json={"offsets": [0, 77]}).json()
    assert r["delivered"] == [0] and r["not_found"] == [77]
    later = int(time.time() * 1000) + 60_000
    assert requests.post(redrive, json={"since_ms": later}).json()["delivered"] == []
    bad = requests.post(redrive, json={"offset": 1, "since_ms": 5})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    assert cli(strom, "redrive", "dl-hook", "--offset", "2")["delivered"] == [2]
    assert receiver.delivered()[-1].id == "dl/0/2"

    # Back to the topic: new events (new offsets, new ids) the subscription delivers.
    r = requests.post(redrive, json={"from_offset": 2, "to": "topic"}).json()
    assert [(p["offset"], p["topic"], p["partition"], p["new_offset"]) for p in r["produced"]] \
        == [(2, "dl", 0, 4), (3, "dl", 0, 5)]
    wait_for(lambda: {"dl/0/4", "dl/0/5"} <= set(receiver.ids()), what="re-produced events")
    by_id = {r.id: r for r in receiver.delivered()}
    assert by_id["dl/0/4"].json()["data"] == {"n": 2} and by_id["dl/0/5"].verified
    receiver.close()


def test_failed_redrive_is_retried_on_the_schedule_and_dead_lettered_again(strom):
    state = {"fixed": False}
    receiver = Receiver(lambda r: (200, {}, b"ok") if state["fixed"] else (503, {}, b"down"))
    create_topic(strom, "rr")
    subscribe(strom, receiver, "rr-hook", ["rr"], retry_schedule_ms=[0, 100, 100])
    produce(strom, "rr", 1)
    wait_for(lambda: metric(strom, "strom_webhook_dead_letter_records", "rr-hook") == 1,
             what="a dead letter")
    dlq = f"{strom.http}/v1/webhooks/rr-hook/dlq"
    first = requests.get(dlq).json()["dead_letters"][0]
    assert (first["attempts"], first["redrives"]) == (3, 0)

    before = len(receiver.delivered())
    r = requests.post(f"{dlq}/redrive", json={"offset": 0}).json()
    assert r["failed"] == [0] and r["delivered"] == []
    # The rest of the schedule runs in the background, then a new dead letter.
    wait_for(lambda: metric(strom, "strom_webhook_dead_letter_records", "rr-hook") == 2,
             what="the redriven event dead-lettered again")
    again = requests.get(dlq, params={"from": 1}).json()["dead_letters"][0]
    assert (again["attempts"], again["redrives"], again["reason"]) == (6, 1, "exhausted")
    assert again["first_attempt"] == first["first_attempt"]
    assert again["last_attempt"] > first["last_attempt"]
    assert (again["event_id"], again["source_offset"]) == ("rr/0/0", 0)
    assert (again["status"], again["response"]) == (503, "down")
    retried = receiver.delivered()[before:]
    assert [x.id for x in retried] == ["rr/0/0"] * 3 and all(x.verified for x in retried)
    attempts = cli(strom, "attempts", "rr-hook")
    assert [a["attempt"] for a in attempts if a["event_id"] == "rr/0/0"] == [3, 2, 1, 3, 2, 1]

    state["fixed"] = True
    assert requests.post(f"{dlq}/redrive", json={"offset": 1}).json()["delivered"] == [1]
    assert receiver.delivered()[-1].id == "rr/0/0"
    receiver.close()


def test_patch_changes_url_schedule_and_secret_keeping_the_position(strom):
    first, second = Receiver(), Receiver()
    create_topic(strom, "pt", partitions=2)
    sub = subscribe(strom, first, "pt-hook", ["pt"])
    produce(strom, "pt", 10)
    wait_for(lambda: len(first.delivered()) == 10, what="10 deliveries")
    wait_for(lambda: metric(strom, "strom_webhook_lag_records", "pt-hook") == 0, what="lag 0")
    url = f"{strom.http}/v1/webhooks/pt-hook"
    r = requests.patch(url, json={"url": second.url, "retry_schedule_ms": [0, 20],
                                  "ordering": "key", "rotate_secret": True})
    assert r.status_code == 200, r.text
    changed = r.json()
    assert changed["url"] == second.url and changed["retry_schedule_ms"] == [0, 20]
    assert changed["ordering"] == "key" and changed["secret"] != sub["secret"]
    second.secret = changed["secret"]
    produce(strom, "pt", 10, start=10)
    wait_for(lambda: len(second.delivered()) == 10, what="10 deliveries to the new URL")
    assert sorted(numbers(second.delivered())) == list(range(10, 20)), "position not kept"
    assert len(first.delivered()) == 10 and all(r.verified for r in second.delivered())
    assert len(second.delivered()[0].headers["webhook-signature"].split(" ")) == 2
    shown = requests.get(url).json()
    assert "secret" not in shown and shown["ordering"] == "key"
    for body in ({"retry_schedule_ms": []}, {"url": "http://169.254.169.254/"},
                 {"topics": ["other"]}, {"secret": "nope"}):
        bad = requests.patch(url, json=body)
        assert bad.status_code in (400, 422), (body, bad.text)
        assert bad.headers["content-type"] == "application/problem+json"
    assert requests.patch(f"{strom.http}/v1/webhooks/nope", json={}).status_code == 404
    updated = cli(strom, "update", "pt-hook", "--ordering", "none", "--concurrency", "4")
    assert updated["ordering"] == "none" and updated["concurrency"] == 4
    assert cli(strom, "skip", "pt-hook") == {"skipped": 0}
    first.close()
    second.close()


def test_get_shows_recent_attempts_rates_and_lag(strom):
    receiver = Receiver()
    create_topic(strom, "st")
    subscribe(strom, receiver, "st-hook", ["st"])
    produce(strom, "st", 5)
    wait_for(lambda: len(receiver.delivered()) == 5, what="5 deliveries")
    url = f"{strom.http}/v1/webhooks/st-hook"
    wait_for(lambda: requests.get(url).json()["lag_records"] == 0, what="lag 0")
    shown = requests.get(url).json()
    assert len(shown["recent_attempts"]) == 5 and shown["delivered_total"] == 5
    newest = shown["recent_attempts"][0]
    assert newest["status"] == 200 and newest["result"] == "delivered"
    assert newest["event_id"] == "st/0/4" and newest["latency_ms"] >= 0 and newest["at_ms"] > 0
    assert shown["rates"]["delivered_per_sec"] > 0 and shown["rates"]["failed_per_sec"] == 0
    assert shown["lag_seconds"] == 0 and shown["blocked"] == []
    assert metric(strom, "strom_webhook_lag_seconds", "st-hook") == 0
    assert len(cli(strom, "attempts", "st-hook")) == 5
    requests.post(f"{url}/pause")
    produce(strom, "st", 3, start=5)
    wait_for(lambda: requests.get(url).json()["lag_records"] == 3, what="lag 3 while paused")
    assert requests.get(url).json()["lag_seconds"] > 0
    # The same age on /metrics, growing while the events wait.
    wait_for(lambda: metric(strom, "strom_webhook_lag_seconds", "st-hook") >= 1.0,
             what="strom_webhook_lag_seconds at least 1 s while paused")
    receiver.close()


def test_redrive_to_a_topic_needs_write_on_it(strom_factory):
    server = strom_factory().start()
    anon = "User:ANONYMOUS"

    def acl(rtype, name, op):
        return {"resource_type": rtype, "resource_name": name, "principal": anon,
                "operation": op, "permission": "ALLOW"}

    grants = [acl("CLUSTER", "kafka-cluster", "ALL"), acl("GROUP", "webhook.az-hook", "ALL"),
              acl("TOPIC", "az", "READ"), acl("TOPIC", "az", "DESCRIBE"),
              acl("TOPIC", "az-hook.dlq", "READ"), acl("TOPIC", "az", "WRITE")]
    assert requests.post(f"{server.http}/v1/acls", json={"acls": grants}).status_code == 201
    server.stop()
    server.extra_args += ["--authorizer-enabled", "true", "--super-users", "User:admin"]
    server.start()
    receiver = Receiver(lambda r: (500, {}, b"no"))
    create_topic(server, "az")
    subscribe(server, receiver, "az-hook", ["az"], retry_schedule_ms=[0])
    produce(server, "az", 2)
    wait_for(lambda: metric(server, "strom_webhook_dead_letter_records", "az-hook") == 2,
             what="2 dead letters")
    r = requests.delete(f"{server.http}/v1/acls", params={
        "resource_type": "topic", "resource_name": "az", "operation": "write"})
    assert r.status_code == 200 and len(r.json()["acls"]) == 1, r.text
    redrive = f"{server.http}/v1/webhooks/az-hook/dlq/redrive"
    denied = requests.post(redrive, json={"to": "topic"})
    assert denied.status_code == 403, denied.text
    assert requests.post(redrive, json={"offset": 0}).json()["failed"] == [0]
    wait_for(lambda: metric(server, "strom_webhook_dead_letter_records", "az-hook") == 3,
             what="the failed redrive dead-lettered again")
    requests.post(f"{server.http}/v1/acls", json={"acls": [acl("TOPIC", "az", "WRITE")]})
    allowed = requests.post(redrive, json={"to": "topic"})
    assert allowed.status_code == 200 and len(allowed.json()["produced"]) == 3, allowed.text
    # Resend needs Alter on the subscription (its group) and Read on the topic.
    resend, one = f"{server.http}/v1/webhooks/az-hook/resend", {"topic": "az", "partition": 0, "offset": 0}

    def drop(rtype, name, op):
        r = requests.delete(f"{server.http}/v1/acls", params={
            "resource_type": rtype, "resource_name": name, "operation": op})
        assert r.status_code == 200 and len(r.json()["acls"]) == 1, r.text

    seen = {}  # compared at the end, so one run shows each check that failed
    r = requests.post(resend, json=one)
    seen["Alter on the group, Read on az"] = r.status_code
    drop("topic", "az", "read")
    seen["no Read on az"] = requests.post(resend, json=one).status_code
    requests.post(f"{server.http}/v1/acls", json={"acls": [acl("TOPIC", "az", "READ")]})
    drop("group", "webhook.az-hook", "all")
    grants = [acl("GROUP", "webhook.az-hook", op) for op in ("READ", "DESCRIBE", "DELETE")]
    assert requests.post(f"{server.http}/v1/acls", json={"acls": grants}).status_code == 201
    seen["no Alter on the group"] = requests.post(resend, json=one).status_code
    assert seen == {"Alter on the group, Read on az": 200, "no Read on az": 403,
                    "no Alter on the group": 403}, seen
    assert r.json()["event_id"] == "az/0/0", r.text
    receiver.close()
