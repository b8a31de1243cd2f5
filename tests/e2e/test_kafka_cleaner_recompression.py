"""Two places where Strom rewrites stored batches as Kafka's broker does, against the real
binary with confluent-kafka, checked on the segment files themselves:

- the cleaner's transaction rules on a compacted topic: records of an aborted transaction are
  removed (a read_uncommitted consumer stops seeing them), read_committed sees the committed
  values, the ABORT marker gets a delete horizon (`now + delete.retention.ms` in its base
  timestamp, attribute bit 0x40) once nothing of its transaction is left and is then removed,
  while a COMMIT marker whose records are still there stays;
- broker-side recompression (`compression.type` other than `producer`): batches produced
  uncompressed are stored zstd, lz4 ones gzip, gzip ones uncompressed, with the producer id,
  epoch and sequences kept and the values byte-equal.

The cleaner runs every 200 ms here (--retention-check-interval-ms)."""

import struct
import time
import uuid

import confluent_kafka as ck
import kafka

from batch_wire import HEADER, _read_varint, decompress
from kafka_support import create_topic

FAST = ["--retention-check-interval-ms", "200"]
DRM_MS = 8000
ABORT, COMMIT = 0, 1


def stored_batches(server, topic, partition=0):
    """Every batch in the partition's segment files: (header tuple, first record's key or None)."""
    d = server.data_dir / "topics" / topic / str(partition)
    out = []
    for path in sorted(d.glob("*.log")):
        data = path.read_bytes()
        pos = 0
        while pos + HEADER.size <= len(data):
            h = HEADER.unpack_from(data, pos)
            end = pos + h[1] + 12
            if h[1] <= 0 or end > len(data):
                break
            key = None
            if h[5] & 0x20 and h[12] > 0:  # a control batch: the marker type is in the key
                body = decompress(h[5] & 0x07, data[pos + HEADER.size:end])
                _, p = _read_varint(body, 0, 5)
                p += 1
                _, p = _read_varint(body, p, 10)
                _, p = _read_varint(body, p, 5)
                n, p = _read_varint(body, p, 5)
                key = body[p:p + n]
            out.append((h, key))
            pos = end
    return out


def markers(server, topic):
    """(producer id, marker type, base timestamp, has a delete horizon) of every marker."""
    return [(h[9], struct.unpack(">h", key[2:4])[0], h[7], bool(h[5] & 0x40))
            for h, key in stored_batches(server, topic) if h[5] & 0x20 and key]


def txn_producer(server, txn_id):
    p = ck.Producer({"bootstrap.servers": server.bootstrap, "transactional.id": txn_id,
                     "linger.ms": 0})
    p.init_transactions(30)
    return p


def read_values(server, topic, isolation):
    """{offset: (key, value)} of everything readable, from the beginning."""
    c = ck.Consumer({"bootstrap.servers": server.bootstrap, "group.id": f"r-{uuid.uuid4()}",
                     "enable.auto.commit": False, "isolation.level": isolation,
                     "enable.partition.eof": True})
    try:
        c.assign([ck.TopicPartition(topic, 0, ck.OFFSET_BEGINNING)])
        out, deadline = {}, time.time() + 30
        while time.time() < deadline:
            msg = c.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == ck.KafkaError._PARTITION_EOF:
                    return out
                raise AssertionError(msg.error())
            out[msg.offset()] = (msg.key(), msg.value())
        raise AssertionError("no partition EOF within 30 s")
    finally:
        c.close()


def wait_until(check, what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def fill(server, topic, n, tag):
    """`n` plain records of 600 bytes under their own keys: with segment.bytes 1024 the
    second one rolls the segment holding what came before, which becomes cleanable."""
    p = ck.Producer({"bootstrap.servers": server.bootstrap, "linger.ms": 0})
    for i in range(n):
        p.produce(topic, key=f"fill-{tag}-{i}".encode(), value=b"f" * 600)
        p.flush(15)


def test_cleaner_removes_aborted_records_then_their_marker_after_the_horizon(strom_factory):
    server = strom_factory(extra_args=FAST).start()
    topic = "txn-compacted"
    create_topic(server.bootstrap, topic, config={
        "cleanup.policy": "compact", "segment.bytes": "1024",
        "min.cleanable.dirty.ratio": "0.01", "delete.retention.ms": str(DRM_MS)})
    t0 = time.time() * 1000
    p = txn_producer(server, "cleaner-a")
    q = txn_producer(server, "cleaner-b")
    p.begin_transaction()
    p.produce(topic, key=b"k1", value=b"v1")
    p.produce(topic, key=b"k2", value=b"v1")
    p.commit_transaction(30)
    q.begin_transaction()
    q.produce(topic, key=b"k1", value=b"ABORTED")
    q.produce(topic, key=b"k3", value=b"ABORTED")
    q.flush(30)  # written, so the abort writes a marker (unsent records are just purged)
    q.abort_transaction(30)
    p.begin_transaction()
    p.produce(topic, key=b"k2", value=b"v2")
    p.commit_transaction(30)
    before = markers(server, topic)
    assert sorted(m[1] for m in before) == [ABORT, COMMIT, COMMIT], before
    abort_pid = next(m[0] for m in before if m[1] == ABORT)
    assert read_values(server, topic, "read_uncommitted")  # the aborted records are there
    assert any(v == b"ABORTED" for _, v in read_values(server, topic, "read_uncommitted").values())

    fill(server, topic, 3, "a")
    # The cleaner removes the aborted records: read_uncommitted no longer sees them.
    wait_until(lambda: not any(v == b"ABORTED" for _, v in
                               read_values(server, topic, "read_uncommitted").values()),
               "the aborted records to be cleaned away")
    committed = {k: v for k, v in read_values(server, topic, "read_committed").values()
                 if not k.startswith(b"fill-")}
    assert committed == {b"k1": b"v1", b"k2": b"v2"}
    # The cleaning that removed them met them, so the ABORT marker stays, without a horizon.
    # (No other cleaning has run: of the three filler records only the second closed a
    # segment, the one holding the transactions.)
    assert [m[1:4:2] for m in markers(server, topic) if m[1] == ABORT] == [(ABORT, False)]

    # A later cleaning finds nothing of the aborted transaction left: its marker gets a delete
    # horizon of that cleaning's time + delete.retention.ms ...
    fill(server, topic, 3, "b")
    horizon = wait_until(
        lambda: next((m[2] for m in markers(server, topic) if m[1] == ABORT and m[3]), None),
        "the abort marker's delete horizon")
    assert horizon >= t0 + DRM_MS, (horizon, t0)
    # ... and goes once that has passed; the commit markers stay (k1 = v1 and k2 = v2, records
    # of their transactions, are still there).
    wait_until(lambda: not any(m[1] == ABORT for m in markers(server, topic)),
               "the abort marker to be removed after its horizon", timeout=DRM_MS / 1000 + 60)
    assert time.time() * 1000 >= horizon
    assert not any(m[0] == abort_pid for m in markers(server, topic))
    assert sorted(m[1] for m in markers(server, topic)) == [COMMIT, COMMIT]
    committed = {k: v for k, v in read_values(server, topic, "read_committed").values()
                 if not k.startswith(b"fill-")}
    assert committed == {b"k1": b"v1", b"k2": b"v2"}
    uncommitted = read_values(server, topic, "read_uncommitted").values()
    assert not any(v == b"ABORTED" for _, v in uncommitted)


def produce(server, topic, values, client, codec, idempotent=False):
    """`values` under keys "0", "1"... with `client`'s producer compressing with `codec`.
    librdkafka 2.6 compresses only with zstd against a broker without Produce v0-2 (it logs
    "Broker does not support compression type lz4: not compressing batch", as against
    Kafka 4), so gzip, snappy and lz4 batches come from kafka-python."""
    if client == "kafka-python":
        p = kafka.KafkaProducer(bootstrap_servers=server.bootstrap, linger_ms=50,
                                compression_type=codec)
        for i, v in enumerate(values):
            p.send(topic, key=str(i).encode(), value=v)
        p.flush(30)
        p.close()
        return
    p = ck.Producer({"bootstrap.servers": server.bootstrap, "linger.ms": 50,
                     "compression.type": codec, "enable.idempotence": idempotent})
    errors = []
    for i, v in enumerate(values):
        p.produce(topic, key=str(i).encode(), value=v,
                  on_delivery=lambda err, _m: err and errors.append(err))
    p.flush(30)
    assert not errors, errors


def consume_values(server, topic, n):
    c = ck.Consumer({"bootstrap.servers": server.bootstrap, "group.id": f"c-{uuid.uuid4()}",
                     "auto.offset.reset": "earliest", "enable.auto.commit": False})
    try:
        c.subscribe([topic])
        out, deadline = [], time.time() + 30
        while len(out) < n and time.time() < deadline:
            msg = c.poll(0.5)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            out.append(msg.value())
        return out
    finally:
        c.close()


def test_broker_recompresses_to_the_topic_codec(strom_factory):
    server = strom_factory().start()
    values = [(f"value {i} " * (1 + i % 7)).encode() + bytes([i % 256]) for i in range(300)]
    cases = [  # (topic codec, its attribute value, client, producer codec, idempotent)
        ("zstd", 4, "confluent", "none", True),
        ("gzip", 1, "confluent", "zstd", False),
        ("uncompressed", 0, "kafka-python", "gzip", False),
        ("lz4", 3, "kafka-python", "snappy", False),
        ("snappy", 2, "kafka-python", "lz4", False),
    ]
    for codec, attr, client, sent, idempotent in cases:
        topic = f"to-{codec}"
        config = {"compression.type": codec}
        if codec in ("zstd", "gzip", "lz4"):
            config[f"compression.{codec}.level"] = "5"
        create_topic(server.bootstrap, topic, config=config)
        produce(server, topic, values, client, sent, idempotent)
        batches = stored_batches(server, topic)
        assert batches and all(h[5] & 0x07 == attr for h, _ in batches), \
            (codec, [h[5] for h, _ in batches])
        if idempotent:
            assert all(h[9] >= 0 and h[10] >= 0 for h, _ in batches), "producer id kept"
            seqs = [(h[11], h[12]) for h, _ in batches]
            assert seqs[0][0] == 0 and all(
                a[0] + a[1] == b[0] for a, b in zip(seqs, seqs[1:])), seqs
        assert consume_values(server, topic, len(values)) == values, codec
    # `producer` (the default) keeps what the producer sent.
    create_topic(server.bootstrap, "as-sent")
    produce(server, "as-sent", values, "kafka-python", "gzip")
    produce(server, "as-sent", values, "confluent", "zstd")
    codecs = [h[5] & 0x07 for h, _ in stored_batches(server, "as-sent")]
    # librdkafka may send its first batch uncompressed, before it knows the broker's versions.
    assert 1 in codecs and 4 in codecs and set(codecs) <= {0, 1, 4}, codecs
