"""Mutation stress of the produce path (issue 10, items 3 and 4): valid batches of all four codecs
(and uncompressed), mutated at random from a fixed seed (batch_mutations.py), each sent over a raw
socket. Every batch must be either refused with a Kafka error and leave nothing behind (high
watermark and segment bytes unchanged), or stored at the high watermark and then read back byte
for byte (offsets, timestamps, keys, values, headers) by librdkafka, kafka-python and the HTTP
reader, and again after a restart. The server runs under `prlimit --as`, so a regression that
trusts a huge count or length aborts it instead of exhausting the machine. A strict reference decoder (Kafka's broker-side rules) says which batches are valid:
refusing one of those is a failure too.

Bounded in CI (STROM_STRESS_BATCHES, default 300); for a long run set STROM_STRESS_BATCHES=N and
optionally STROM_STRESS_SEED."""

import base64
import os
import time
from collections import Counter

import confluent_kafka as ck
from kafka import KafkaConsumer, TopicPartition
from kafka.protocol.offset import OffsetRequest
from kafka.protocol.produce import ProduceRequest
import requests

from batch_mutations import TS, generate, verdict
from batch_wire import (
    CORRUPT_MESSAGE, INVALID_RECORD, MESSAGE_TOO_LARGE, UNDER_PRLIMIT, log_bytes,
)
from kafka_support import Wire, consumer, create_topic

BATCHES = int(os.environ.get("STROM_STRESS_BATCHES", "300"))
SEED = int(os.environ.get("STROM_STRESS_SEED", "20261201"))
REFUSED = (CORRUPT_MESSAGE, MESSAGE_TOO_LARGE, INVALID_RECORD)
TOPIC = "stress"


class Client:
    """One raw connection for produce and ListOffsets; reconnects if the server closed it."""

    def __init__(self, port):
        self.port = port
        self.wire = Wire(port, timeout=60)

    def call(self, req):
        try:
            self.wire.send(req)
            return self.wire.recv(req)[1]
        except (ConnectionError, OSError):
            self.wire.close()
            self.wire = Wire(self.port, timeout=60)
            raise

    def produce(self, batch):
        resp = self.call(ProduceRequest[3](transactional_id=None, required_acks=1, timeout=30000,
                                           topics=[(TOPIC, [(0, batch)])]))
        _, error_code, offset, _ = resp.topics[0][1][0]
        return error_code, offset

    def high_watermark(self):
        resp = self.call(OffsetRequest[1](replica_id=-1, topics=[(TOPIC, [(0, -1)])]))
        _, error_code, _, offset = resp.topics[0][1][0]
        assert error_code == 0
        return offset


def expected_rows(base_offset, records):
    return [
        (base_offset + i, TS + r.timestamp_delta, r.key, r.value,
         [(k.decode(), v) for k, v in r.headers])
        for i, r in enumerate(records)
    ]


def send_all(server):
    """Sends every batch; returns (expected rows of stored records, failures, counters)."""
    client = Client(server.kafka_port)
    rows, failures, counts = [], [], Counter()
    hw, size = 0, log_bytes(server, TOPIC)
    for index in range(BATCHES):
        codec, kind, batch = generate(SEED, index)
        records, reason = verdict(batch)
        error_code, offset = client.produce(batch)
        new_hw, new_size = client.high_watermark(), log_bytes(server, TOPIC)
        where = f"seed {SEED} batch {index} ({codec}, {kind})"
        counts[(codec, kind, "stored" if error_code == 0 else "refused")] += 1
        if error_code == 0:
            if records is None:
                failures.append(f"{where}: stored a batch Kafka refuses ({reason})")
            elif offset != hw or new_hw != hw + len(records):
                failures.append(f"{where}: stored at {offset}, high watermark {hw} -> {new_hw}")
            rows += expected_rows(offset, records or [])
        else:
            if error_code not in REFUSED:
                failures.append(f"{where}: refused with unexpected error {error_code}")
            if records is not None:
                failures.append(f"{where}: refused a valid batch with error {error_code}")
            if new_hw != hw or new_size != size:
                failures.append(f"{where}: refused, but high watermark {hw} -> {new_hw}, "
                                f"bytes {size} -> {new_size}")
        hw, size = new_hw, new_size
        assert server.proc.poll() is None, f"strom died at {where}:\n{server.log_text()[-4000:]}"
    return rows, failures, counts


def read_librdkafka(server, count):
    c = consumer(server.bootstrap)
    try:
        c.assign([ck.TopicPartition(TOPIC, 0, ck.OFFSET_BEGINNING)])
        out, deadline = [], time.time() + 120
        while len(out) < count and time.time() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            assert not m.error(), f"librdkafka: {m.error()}"
            out.append((m.offset(), m.timestamp()[1], m.key(), m.value(), list(m.headers() or [])))
        return out
    finally:
        c.close()


def read_kafka_python(server, count):
    c = KafkaConsumer(bootstrap_servers=server.bootstrap, enable_auto_commit=False,
                      consumer_timeout_ms=20000, api_version_auto_timeout_ms=10000)
    try:
        c.assign([TopicPartition(TOPIC, 0)])
        c.seek_to_beginning()
        out = []
        for m in c:
            out.append((m.offset, m.timestamp, m.key, m.value, list(m.headers)))
            if len(out) == count:
                break
        return out
    finally:
        c.close()


def _b64_or_text(obj, name):
    if f"{name}_base64" in obj:
        return base64.b64decode(obj[f"{name}_base64"])
    return None if obj[name] is None else obj[name].encode()


def read_http(server, end):
    out, offset = [], 0
    while offset < end:
        r = requests.get(f"{server.http}/v1/topics/{TOPIC}/partitions/0/records",
                         params={"offset": offset, "limit": 1000, "format": "binary"}, timeout=60)
        assert r.status_code == 200, f"HTTP read at {offset}: {r.status_code} {r.text[:300]}"
        body = r.json()
        for rec in body["records"]:
            value = rec.get("value_base64")
            out.append((rec["offset"], rec["timestamp"], _b64_or_text(rec, "key"),
                        None if value is None else base64.b64decode(value),
                        [(h["key"], _b64_or_text(h, "value")) for h in rec["headers"]]))
        assert body["next_offset"] > offset
        offset = body["next_offset"]
    return out


def first_difference(name, got, want):
    for g, w in zip(got, want):
        if g != w:
            return f"{name} read {g!r}, expected {w!r}"
    return f"{name} read {len(got)} records, expected {len(want)}"


def test_mutated_batches_are_refused_cleanly_or_stored_and_read_by_every_client(strom_factory):
    strom = strom_factory(wrapper=UNDER_PRLIMIT).start()
    create_topic(strom.bootstrap, TOPIC)
    started = time.time()
    rows, failures, counts = send_all(strom)
    stored = sum(n for (_, _, outcome), n in counts.items() if outcome == "stored")
    print(f"\n{BATCHES} batches (seed {SEED}) in {time.time() - started:.1f}s: "
          f"{stored} stored, {BATCHES - stored} refused, {len(rows)} records stored")
    for key in sorted(counts):
        print(f"  {key}: {counts[key]}")
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:30])
    assert stored > 0 and stored < BATCHES, "the generator must produce both outcomes"
    for name, read in (("librdkafka", read_librdkafka), ("kafka-python", read_kafka_python),
                       ("HTTP", read_http)):
        got = read(strom, len(rows))
        assert got == rows, first_difference(name, got, rows)
    strom.restart()
    got = read_http(strom, len(rows))
    assert got == rows, first_difference("HTTP after a restart", got, rows)
    assert strom.stop() == 0
