"""Webhook positions are committed in the background (at most every 200 ms, coalesced), never
past an event that was not delivered: a SIGKILL of the server in the middle of a stream loses
nothing, and what it redelivers is, per partition, exactly the events delivered after the
last commit that completed (a suffix of what the receiver got before the kill, all of it
received shortly before the kill), with the same `webhook-id`s and bodies."""

import time

from confluent_kafka import Producer

from test_webhooks import create_topic, subscribe
from webhook_receiver import Receiver, wait_for

EVENTS = 3000
PARTITIONS = 4
# Commits are attempted every 200 ms; a loaded CI machine may take a while to complete one.
# An event first received longer than this before the kill must not come again.
REDELIVERY_WINDOW_S = 3.0


def where(request):
    event = request.json()
    return event["strompartition"], event["stromoffset"]


def test_sigkill_mid_stream_redelivers_only_since_the_last_commit(strom):
    def slow(_request):
        time.sleep(0.012)  # 750 events a partition: at least 9 s
        return 204, {}, b""

    receiver = Receiver(slow)
    create_topic(strom, "stream", partitions=PARTITIONS)
    subscribe(strom, receiver, "stream-hook", ["stream"], retry_schedule_ms=[0, 100])
    p = Producer({"bootstrap.servers": strom.bootstrap, "linger.ms": 5})
    for i in range(EVENTS):
        p.produce("stream", partition=i % PARTITIONS, value=b'{"n": %d}' % i)
        if i % 500 == 0:
            p.poll(0)
    assert p.flush(60) == 0

    # Kill once the stream has run well past the redelivery window, before it ends.
    first = wait_for(lambda: receiver.delivered()[:1], what="a first delivery")[0]
    wait_for(lambda: time.time() - first.at > 2 * REDELIVERY_WINDOW_S, what="a running stream")
    killed_at = time.time()
    strom.kill()
    before = receiver.delivered()
    assert 0 < len(before) < EVENTS, "the kill must land mid-stream"
    strom.start()
    everything = {(i % PARTITIONS, i // PARTITIONS) for i in range(EVENTS)}
    wait_for(lambda: {where(r) for r in receiver.delivered()} == everything, timeout=180,
             what="every event after the restart")

    after = receiver.delivered()[len(before):]
    first_seen = {}
    for r in before:
        first_seen.setdefault(where(r), r)
    for r in receiver.delivered():
        assert r.verified
        original = first_seen.get(where(r), r)
        assert (r.id, r.body) == (original.id, original.body), "a redelivery changed"
    for part in range(PARTITIONS):
        got = [where(r)[1] for r in before if where(r)[0] == part]
        assert got == list(range(len(got))), f"partition {part} out of order before the kill"
        again = [where(r)[1] for r in after if where(r)[0] == part]
        resumed = again[0] if again else len(got)
        # Redelivered: exactly the suffix of what it got, from the committed position on.
        assert resumed <= len(got), f"partition {part} skipped from {len(got)} to {resumed}"
        assert again[: len(got) - resumed] == list(range(resumed, len(got)))
        for offset in range(resumed, len(got)):
            age = killed_at - first_seen[(part, offset)].at
            assert age <= REDELIVERY_WINDOW_S, \
                f"partition {part} offset {offset} redelivered, first received {age:.2f} s " \
                f"before the kill"
    receiver.close()
