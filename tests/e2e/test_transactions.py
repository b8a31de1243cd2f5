"""Kafka transactions (KIP-98) against the real binary with confluent-kafka: committed and
aborted transactions seen by read_committed and read_uncommitted consumers and by the HTTP
feed and REST reads (committed reads); consume-transform-produce with
`send_offsets_to_transaction` over many cycles with aborts (output == input exactly once); a
zombie producer fenced; a producer SIGKILLed mid-transaction (its transaction aborted when a
new instance starts, or on timeout); the broker SIGKILLed mid-transaction (state recovered)."""

import base64
import json
import os
import signal
import subprocess
import sys
import time

import confluent_kafka as ck
import pytest
import requests

from kafka_support import create_topic


def producer(bootstrap, txn_id, **extra):
    conf = {"bootstrap.servers": bootstrap, "transactional.id": txn_id, "linger.ms": 5}
    conf.update(extra)
    p = ck.Producer(conf)
    p.init_transactions(30)
    return p


def read_all(bootstrap, topic, partitions, isolation, idle=2.0, timeout=30):
    """Every value in `topic` (assign, from the beginning) until nothing new for `idle` s."""
    c = ck.Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"reader-{isolation}-{time.time()}",
        "enable.auto.commit": False,
        "isolation.level": isolation,
        "enable.partition.eof": False,
    })
    try:
        c.assign([ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in range(partitions)])
        out = []
        deadline = time.time() + timeout
        last_new = time.time()
        while time.time() < deadline and time.time() - last_new < idle:
            m = c.poll(0.2)
            if m is None:
                continue
            assert not m.error(), m.error()
            out.append(m.value().decode())
            last_new = time.time()
        return out
    finally:
        c.close()


def wait_for_values(bootstrap, topic, partitions, isolation, want, timeout=30):
    """Reads until the set of values equals `want` (a deadline, never a sleep)."""
    deadline = time.time() + timeout
    got = None
    while time.time() < deadline:
        got = read_all(bootstrap, topic, partitions, isolation, idle=1.0)
        if sorted(got) == sorted(want):
            return got
    raise AssertionError(f"{isolation}: got {sorted(got or [])[:20]}... ({len(got or [])}), want {len(want)}")


def text_of(obj, field):
    """A record's value from its HTTP JSON: `field`, or `field_base64` for non-JSON bytes."""
    if obj.get(field) is not None:
        return str(obj[field])
    return base64.b64decode(obj[f"{field}_base64"]).decode()


def http_values(strom, topic, partitions):
    """Values through the REST partition reads (committed reads)."""
    out = []
    for p in range(partitions):
        offset = 0
        while True:
            r = requests.get(f"{strom.http}/v1/topics/{topic}/partitions/{p}/records",
                             params={"offset": offset, "timeout_ms": 0})
            assert r.status_code == 200, r.text
            body = r.json()
            out.extend(text_of(rec, "value") for rec in body["records"])
            if not body["records"]:
                break
            offset = body["next_offset"]
    return out


def feed_values(strom, topic):
    out, last = [], None
    while True:
        params = {"limit": 7}
        if last is not None:
            params["lastEventId"] = last
        r = requests.get(f"{strom.http}/feeds/{topic}", params=params)
        assert r.status_code == 200, r.text
        batch = r.json()
        if not batch:
            return out
        out.extend(text_of(e, "data") for e in batch)
        last = batch[-1]["id"]


def send(p, topic, values, partitions):
    for i, v in enumerate(values):
        p.produce(topic, value=v, key=str(i), partition=i % partitions)
    p.flush(30)


def test_committed_aborted_and_open_transactions(strom):
    create_topic(strom.bootstrap, "tx", partitions=2)
    p = producer(strom.bootstrap, "tx-1")
    committed = [f"c{i}" for i in range(10)]
    p.begin_transaction()
    send(p, "tx", committed, 2)
    p.commit_transaction(30)
    aborted = [f"a{i}" for i in range(10)]
    p.begin_transaction()
    send(p, "tx", aborted, 2)
    p.abort_transaction(30)
    opened = [f"o{i}" for i in range(4)]
    p.begin_transaction()
    send(p, "tx", opened, 2)
    # Open transaction: read_committed stops at the LSO, read_uncommitted sees everything.
    wait_for_values(strom.bootstrap, "tx", 2, "read_uncommitted", committed + aborted + opened)
    assert sorted(read_all(strom.bootstrap, "tx", 2, "read_committed")) == sorted(committed)
    assert sorted(http_values(strom, "tx", 2)) == sorted(committed)
    assert sorted(feed_values(strom, "tx")) == sorted(committed)
    p.commit_transaction(30)
    want = committed + opened
    wait_for_values(strom.bootstrap, "tx", 2, "read_committed", want)
    assert sorted(http_values(strom, "tx", 2)) == sorted(want)
    assert sorted(feed_values(strom, "tx")) == sorted(want)
    # After a restart the aborted-transactions index and the LSO are rebuilt.
    strom.restart(signal.SIGKILL)
    wait_for_values(strom.bootstrap, "tx", 2, "read_committed", want)
    assert sorted(feed_values(strom, "tx")) == sorted(want)


def test_consume_transform_produce_exactly_once(strom):
    n, cycles_abort_every = 300, 3
    create_topic(strom.bootstrap, "ctp-in", partitions=3)
    create_topic(strom.bootstrap, "ctp-out", partitions=3)
    plain = ck.Producer({"bootstrap.servers": strom.bootstrap})
    for i in range(n):
        plain.produce("ctp-in", value=f"m{i}", partition=i % 3)
    plain.flush(30)
    c = ck.Consumer({
        "bootstrap.servers": strom.bootstrap, "group.id": "ctp", "enable.auto.commit": False,
        "auto.offset.reset": "earliest", "isolation.level": "read_committed",
    })
    c.subscribe(["ctp-in"])
    p = producer(strom.bootstrap, "ctp-1")
    done, cycle, aborts = 0, 0, 0
    deadline = time.time() + 120
    while done < n and time.time() < deadline:
        msgs = [m for m in c.consume(25, 1.0) if not m.error()]
        if not msgs:
            continue
        cycle += 1
        p.begin_transaction()
        for m in msgs:
            p.produce("ctp-out", value=m.value().decode().upper(), partition=m.partition())
        p.send_offsets_to_transaction(c.position(c.assignment()), c.consumer_group_metadata(), 30)
        if cycle % cycles_abort_every == 0:
            p.abort_transaction(30)
            aborts += 1
            # Rewind to the committed positions: the aborted work is done again.
            committed = c.committed(c.assignment(), 30)
            for tp in committed:
                tp.offset = tp.offset if tp.offset >= 0 else ck.OFFSET_BEGINNING
                c.seek(tp)
        else:
            p.commit_transaction(30)
            done += len(msgs)
    c.close()
    assert done == n and aborts >= 3, (done, aborts)
    want = [f"M{i}" for i in range(n)]
    got = wait_for_values(strom.bootstrap, "ctp-out", 3, "read_committed", want)
    assert len(got) == len(set(got)) == n


def test_zombie_producer_is_fenced(strom):
    create_topic(strom.bootstrap, "zombie", partitions=1)
    old = producer(strom.bootstrap, "z-1")
    old.begin_transaction()
    send(old, "zombie", ["zombie0"], 1)
    new = producer(strom.bootstrap, "z-1")  # fences `old` and aborts its transaction
    new.begin_transaction()
    send(new, "zombie", ["fresh0"], 1)
    new.commit_transaction(30)
    old.produce("zombie", value="zombie1", partition=0)
    with pytest.raises(ck.KafkaException) as raised:
        old.flush(10)
        old.commit_transaction(10)
    assert raised.value.args[0].fatal() or raised.value.args[0].code() in (
        ck.KafkaError._FENCED, ck.KafkaError.PRODUCER_FENCED, ck.KafkaError.INVALID_PRODUCER_EPOCH)
    wait_for_values(strom.bootstrap, "zombie", 1, "read_committed", ["fresh0"])


CHILD = r"""
import sys, confluent_kafka as ck
p = ck.Producer({"bootstrap.servers": sys.argv[1], "transactional.id": sys.argv[2],
                 "transaction.timeout.ms": int(sys.argv[3])})
p.init_transactions(30)
p.begin_transaction()
for i in range(20):
    p.produce(sys.argv[4], value=f"killed{i}", partition=i % 2)
p.flush(30)
print("ready", flush=True)
sys.stdin.read()
"""


def start_child(strom, txn_id, timeout_ms, topic):
    child = subprocess.Popen([sys.executable, "-c", CHILD, strom.bootstrap, txn_id, str(timeout_ms), topic],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert child.stdout.readline().strip() == b"ready"
    return child


def test_sigkilled_producer_is_aborted_by_its_successor_or_the_timeout(strom):
    create_topic(strom.bootstrap, "pk", partitions=2)
    # A successor with the same transactional id aborts the dead one's transaction at once.
    child = start_child(strom, "pk-1", 60000, "pk")
    child.send_signal(signal.SIGKILL)
    child.wait()
    p = producer(strom.bootstrap, "pk-1")
    p.begin_transaction()
    send(p, "pk", ["after0", "after1"], 2)
    p.commit_transaction(30)
    wait_for_values(strom.bootstrap, "pk", 2, "read_committed", ["after0", "after1"])
    # Without a successor, the transaction timeout aborts it.
    child = start_child(strom, "pk-2", 2000, "pk")
    child.send_signal(signal.SIGKILL)
    child.wait()
    other = producer(strom.bootstrap, "pk-3")
    other.begin_transaction()
    send(other, "pk", ["later0", "later1"], 2)
    other.commit_transaction(30)
    wait_for_values(strom.bootstrap, "pk", 2, "read_committed", ["after0", "after1", "later0", "later1"])


def test_broker_sigkill_mid_transaction(strom):
    create_topic(strom.bootstrap, "bk", partitions=2)
    committed = []
    for round_ in range(3):
        p = producer(strom.bootstrap, f"bk-{round_}", **{"transaction.timeout.ms": 60000})
        p.begin_transaction()
        values = [f"r{round_}-{i}" for i in range(10)]
        send(p, "bk", values, 2)
        strom.restart(signal.SIGKILL)
        # The coordinator recovered the open transaction: the producer commits it.
        p.commit_transaction(60)
        committed += values
        wait_for_values(strom.bootstrap, "bk", 2, "read_committed", committed)
        # An open transaction across a restart, then a successor: aborted, never visible.
        z = producer(strom.bootstrap, f"bk-z{round_}")
        z.begin_transaction()
        send(z, "bk", [f"z{round_}"], 2)
        strom.restart(signal.SIGKILL)
        producer(strom.bootstrap, f"bk-z{round_}")
        wait_for_values(strom.bootstrap, "bk", 2, "read_committed", committed)


NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")


def test_kafkajs_transactions(strom):
    """kafkajs: a committed, an aborted and a committed transaction; its read_committed
    consumer sees exactly the committed records (a missing node/kafkajs fails the test)."""
    create_topic(strom.bootstrap, "jstx", partitions=1)
    result = subprocess.run(["node", os.path.join(NODE_DIR, "kafkajs_txn.js"), strom.bootstrap, "jstx"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)["seen"]
    assert sorted(seen) == ["js-c0", "js-c1", "js-c2", "js-c3"], seen
    wait_for_values(strom.bootstrap, "jstx", 1, "read_committed", ["js-c0", "js-c1", "js-c2", "js-c3"])
