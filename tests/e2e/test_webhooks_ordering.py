"""Webhook ordering modes against the real binary, with receivers that answer after a random
delay and note each event when they answer (so the next event of an ordered lane cannot have
been sent yet): `partition` keeps one event in flight, in offset order; `key` keeps offset
order within each key and delivers keys in parallel, and an event retried on one key does not
hold up the others; `none` delivers in parallel. Every event arrives once, signed."""

import base64
import os
import random
import threading

from test_webhooks import create_topic, produce, subscribe
from webhook_receiver import Receiver, wait_for


class Tracker:
    """A receiver behaviour that answers after 5-30 ms, counting requests in flight."""

    def __init__(self):
        self.lock = threading.Lock()
        self.inflight = 0
        self.most = 0
        self.answered = []  # events, in the order they were answered

    def __call__(self, request):
        with self.lock:
            self.inflight += 1
            self.most = max(self.most, self.inflight)
        threading.Event().wait(random.uniform(0.005, 0.03))
        with self.lock:
            self.inflight -= 1
            self.answered.append(request.json())
        return 200, {}, b"ok"

    def offsets(self, key=None):
        with self.lock:
            return [e["stromoffset"] for e in self.answered if key in (None, e["subject"])]


def test_partition_key_and_none_orderings(strom):
    create_topic(strom, "ord")
    produce(strom, "ord", 80, key=lambda i: f"k{i % 4}")
    trackers = {}
    receivers = []
    for ordering in ("partition", "key", "none"):
        trackers[ordering] = Tracker()
        receiver = Receiver(trackers[ordering])
        receivers.append(receiver)
        # Known before creation: the backlog is delivered at once.
        receiver.secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
        subscribe(strom, receiver, f"{ordering}-hook", ["ord"], ordering=ordering,
                  concurrency=8, secret=receiver.secret)
    for ordering, t in trackers.items():
        wait_for(lambda: len(t.offsets()) >= 80, what=f"80 events with ordering {ordering}")
    for receiver in receivers:
        assert len(receiver.delivered()) == 80 and all(r.verified for r in receiver.delivered())
    part, key, none = trackers["partition"], trackers["key"], trackers["none"]
    assert part.offsets() == list(range(80)) and part.most == 1
    for k in ("k0", "k1", "k2", "k3"):
        assert key.offsets(k) == sorted(key.offsets(k)) and len(key.offsets(k)) == 20, \
            f"order within key {k} broken"
    assert key.most > 1, "keys were not delivered in parallel"
    assert sorted(none.offsets()) == list(range(80)) and none.most > 1
    for receiver in receivers:
        receiver.close()


def test_a_retried_key_does_not_hold_up_other_keys(strom):
    others_done, bad_ok = threading.Event(), threading.Event()
    good = []

    def gate(request):
        event = request.json()
        if event["subject"] == "bad":
            if not others_done.is_set():
                return 500, {}, b"not yet"
            bad_ok.set()
            return 200, {}, b"ok"
        good.append(event["data"]["n"])
        if len(good) >= 10:
            others_done.set()
        return 200, {}, b"ok"

    receiver = Receiver(gate)
    create_topic(strom, "gate")
    subscribe(strom, receiver, "gate-hook", ["gate"], ordering="key", failure_policy="block",
              retry_schedule_ms=[0, 200])
    produce(strom, "gate", 1, key=lambda i: "bad")
    wait_for(lambda: receiver.delivered(), what="the first failing attempt")
    produce(strom, "gate", 10, key=lambda i: f"g{i % 3}", start=1)
    wait_for(others_done.is_set, what="the other keys delivered while 'bad' is retried")
    wait_for(bad_ok.is_set, what="'bad' delivered once the others were")
    assert sorted(good) == list(range(1, 11))
    receiver.close()
