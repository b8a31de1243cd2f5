"""Log compaction and retention end to end, with real Kafka clients (confluent-kafka) against
the real binary: a compacted topic keeps the latest record per key, tombstones stay for
delete.retention.ms and then vanish, keyless records are refused, and a consumer whose offset
fell out of retention gets OFFSET_OUT_OF_RANGE and recovers with auto.offset.reset=earliest.

Assertions are exact: the test learns each record's offset from the delivery reports and the
base offset of the active segment (which compaction never touches) from the data directory,
so the expected log is "latest per key below the active segment, everything from it on".
The cleaner runs every 200 ms here (--retention-check-interval-ms)."""

import time
import uuid

import pytest
import requests
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

FAST = ["--retention-check-interval-ms", "200"]
WAIT_S = 30


@pytest.fixture
def server(strom_factory):
    return strom_factory(extra_args=FAST).start()


def create_topic(server, name, config, partitions=1):
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    futures = admin.create_topics(
        [NewTopic(name, num_partitions=partitions, replication_factor=1, config=config)]
    )
    futures[name].result(timeout=15)


def produce_each(server, topic, records, **extra):
    """Produces records one batch each (flush after every send) and returns
    [(offset, key, value)] from the delivery reports, in offset order."""
    producer = Producer({"bootstrap.servers": server.bootstrap, "linger.ms": 0, **extra})
    delivered, errors = [], []

    def report(err, msg):
        if err is not None:
            errors.append(err)
        else:
            delivered.append((msg.offset(), msg.key(), msg.value()))

    for rec in records:
        key, value = rec[0], rec[1]
        kwargs = {"timestamp": rec[2]} if len(rec) > 2 else {}
        producer.produce(topic, key=key, value=value, on_delivery=report, **kwargs)
        producer.flush(15)
    assert not errors, errors
    assert len(delivered) == len(records)
    return sorted(delivered)


def partition_dir(server, topic, partition=0):
    return server.data_dir / "topics" / topic / str(partition)


def active_base(server, topic, partition=0):
    bases = sorted(int(p.name[:-4]) for p in partition_dir(server, topic, partition).glob("*.log"))
    return bases[-1]


def consume_all(server, topic, partition=0, start=None):
    """Every record from `start` (default: the beginning) to the high watermark, as
    [(offset, key, value)]."""
    consumer = Consumer({
        "bootstrap.servers": server.bootstrap,
        "group.id": f"check-{uuid.uuid4()}",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    })
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
        begin = low if start is None else start
        consumer.assign([TopicPartition(topic, partition, begin)])
        out = []
        deadline = time.time() + 20
        while time.time() < deadline:
            if out and out[-1][0] >= high - 1:
                break
            if begin >= high:
                break
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            out.append((msg.offset(), msg.key(), msg.value()))
        return out
    finally:
        consumer.close()


def expected_view(delivered, base, drop_tombstones=False):
    """Latest record per key among offsets below `base` (tombstones removed if they have
    expired), then every record from `base` on."""
    latest = {}
    for off, key, value in delivered:
        if off < base:
            latest[key] = (off, key, value)
    cleaned = sorted(r for r in latest.values() if not (drop_tombstones and r[2] is None))
    return cleaned + [r for r in delivered if r[0] >= base]


def wait_until(predicate, what, timeout=WAIT_S):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        ok, last = predicate()
        if ok:
            return last
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}; last observation: {last}")


def compacted_config(**overrides):
    config = {
        "cleanup.policy": "compact",
        "segment.bytes": "1024",
        "segment.ms": "100",
        "min.cleanable.dirty.ratio": "0.01",
        "delete.retention.ms": "600000",
    }
    config.update(overrides)
    return config


def versions(keys, count):
    """`count` rounds of every key: k0 v0, k1 v0, ..., k0 v1, ..."""
    return [(f"k{k}".encode(), f"k{k}-v{n}".encode()) for n in range(count) for k in range(keys)]


def fillers(n):
    return [(f"filler-{i}".encode(), b"f" * 40) for i in range(n)]


def test_compacted_topic_keeps_latest_per_key(server):
    topic = "compacted"
    create_topic(server, topic, compacted_config())
    records = versions(5, 40) + [(b"k4", None)] + fillers(30)
    delivered = produce_each(server, topic, records)
    base = active_base(server, topic)
    assert base > 0, "the test needs closed segments"
    # Every k* record must lie in the cleanable range for the assertion to be interesting.
    assert all(off < base for off, key, _ in delivered if key.startswith(b"k")), base
    want = expected_view(delivered, base)

    def cleaned():
        got = consume_all(server, topic)
        return got == want, got

    got = wait_until(cleaned, "the cleaner to compact the closed segments")
    latest = {key: value for _, key, value in got if key.startswith(b"k")}
    assert latest == {b"k0": b"k0-v39", b"k1": b"k1-v39", b"k2": b"k2-v39",
                      b"k3": b"k3-v39", b"k4": None}
    # Still the same after a restart (clean) and after a kill (recovery).
    server.restart()
    assert consume_all(server, topic) == want
    server.kill()
    server.start()
    assert consume_all(server, topic) == want
    # New versions after the restart are compacted again.
    more = produce_each(server, topic, versions(5, 3) + fillers(30))
    base2 = active_base(server, topic)
    want2 = expected_view(delivered + more, base2)
    wait_until(lambda: (consume_all(server, topic) == want2, None), "the second cleaning")


def test_tombstones_expire_after_delete_retention(server):
    topic = "tombstones"
    # delete.retention.ms is long enough that the cleaner (every 200 ms) surely runs inside it
    # even on a loaded machine; the first check only has to happen before it ends.
    create_topic(server, topic, compacted_config(**{"delete.retention.ms": "20000"}))
    records = versions(3, 10) + [(b"k0", None), (b"k2", None)] + fillers(30)
    delivered = produce_each(server, topic, records)
    tombstones_at = time.time()
    base = active_base(server, topic)
    keep_tombstones = expected_view(delivered, base)
    drop_tombstones = expected_view(delivered, base, drop_tombstones=True)
    # First the tombstones are there (inside delete.retention.ms) ...
    got = wait_until(lambda: ((g := consume_all(server, topic)) == keep_tombstones, g),
                     "compaction keeping the tombstones", timeout=15)
    assert time.time() - tombstones_at < 20, "seen only after delete.retention.ms"
    assert {b"k0", b"k2"} <= {k for _, k, v in got if v is None}
    # ... then they, and the key with them, are gone.
    got = wait_until(lambda: ((g := consume_all(server, topic)) == drop_tombstones, g),
                     "the tombstones to expire", timeout=60)
    keys = {k for _, k, _ in got}
    assert b"k0" not in keys and b"k2" not in keys and b"k1" in keys


def test_keyless_record_to_compacted_topic_is_invalid(server):
    topic = "needs-keys"
    create_topic(server, topic, compacted_config())
    producer = Producer({"bootstrap.servers": server.bootstrap, "linger.ms": 0})
    errors = []
    producer.produce(topic, value=b"no key", on_delivery=lambda err, msg: errors.append(err))
    producer.flush(15)
    assert len(errors) == 1 and errors[0] is not None, errors
    assert errors[0].code() == KafkaError.INVALID_RECORD, errors[0]
    # A keyed record still goes through, and nothing of the refused one is stored.
    delivered = produce_each(server, topic, [(b"k", b"v")])
    assert delivered == [(0, b"k", b"v")]
    assert consume_all(server, topic) == [(0, b"k", b"v")]


def test_out_of_retention_offset_and_earliest_reset(server):
    topic = "short-retention"
    create_topic(server, topic, {
        "cleanup.policy": "delete",
        "segment.bytes": "1024",
        "retention.bytes": "2048",
    })
    delivered = produce_each(server, topic, [(None, b"x" * 60) for _ in range(200)])
    # Retention also runs while the producer writes, so wait for the pass after the last
    # write: then at most retention.bytes plus one segment remains.
    def log_bytes():
        return sum(p.stat().st_size for p in partition_dir(server, topic).glob("*.log"))

    wait_until(lambda: ((size := log_bytes()) <= 2048 + 1024, size), "the size bound")
    low = watermarks(server, topic)[0]
    assert low > 0

    # A consumer that must not reset sees OFFSET_OUT_OF_RANGE ...
    consumer = Consumer({
        "bootstrap.servers": server.bootstrap,
        "group.id": f"strict-{uuid.uuid4()}",
        "enable.auto.commit": False,
        "auto.offset.reset": "error",
    })
    try:
        consumer.assign([TopicPartition(topic, 0, 0)])
        err = None
        deadline = time.time() + 15
        while err is None and time.time() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is not None:
                err = msg.error()
            elif msg is not None:
                pytest.fail(f"read offset {msg.offset()} below the log start {low}")
        assert err is not None, "no error for an offset below the log start"
        assert err.code() in (KafkaError.OFFSET_OUT_OF_RANGE, KafkaError._AUTO_OFFSET_RESET), err
        assert "out of range" in err.str().lower(), err
    finally:
        consumer.close()

    # ... and one with auto.offset.reset=earliest resumes at the new log start.
    got = consume_all(server, topic, start=0)
    low_now = watermarks(server, topic)[0]
    assert got and got[0][0] >= low and got[0][0] == low_now, (got[:1], low, low_now)
    assert [o for o, _, _ in got] == list(range(got[0][0], delivered[-1][0] + 1))



def test_committed_offset_out_of_retention_resets_to_earliest(server):
    topic = "committed-retention"
    create_topic(server, topic, {
        "cleanup.policy": "delete",
        "segment.bytes": "1024",
        "retention.bytes": "2048",
    })
    produce_each(server, topic, [(None, b"x" * 60) for _ in range(200)])
    # Wait for the retention pass after the last write, so the log start stays put.
    wait_until(lambda: ((size := sum(p.stat().st_size for p in
                                     partition_dir(server, topic).glob("*.log"))) <= 3072, size),
               "the size bound")
    low_now = watermarks(server, topic)[0]
    assert low_now > 1
    group = f"committed-{uuid.uuid4()}"
    c = Consumer({"bootstrap.servers": server.bootstrap, "group.id": group,
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        # The coordinator is looked up in the background; retry until it is known.
        deadline = time.time() + 15
        while True:
            try:
                c.commit(offsets=[TopicPartition(topic, 0, 1)], asynchronous=False)
                break
            except KafkaException as e:
                if e.args[0].code() != KafkaError._WAIT_COORD:
                    raise
                assert time.time() < deadline, "FindCoordinator never answered: no group coordinator"
                c.poll(0.2)
        committed = c.committed([TopicPartition(topic, 0)], timeout=10)
        assert committed[0].offset == 1, committed
        c.subscribe([topic])
        first = None
        deadline = time.time() + 20
        while first is None and time.time() < deadline:
            msg = c.poll(0.5)
            if msg is not None and msg.error() is None:
                first = msg.offset()
        assert first == low_now, (first, low_now)
    finally:
        c.close()


def test_time_retention_deletes_only_old_segments(server):
    topic = "time-retention"
    create_topic(server, topic, {
        "cleanup.policy": "delete",
        "segment.bytes": "1024",
        "retention.ms": "60000",
    })
    old_ts = int(time.time() * 1000) - 3_600_000
    old = produce_each(server, topic, [(None, b"o" * 60, old_ts) for _ in range(60)])
    new = produce_each(server, topic, [(None, b"n" * 60) for _ in range(60)])
    first_new = new[0][0]
    wait_until(lambda: ((w := watermarks(server, topic))[0] > 0, w), "time retention")
    low, high = watermarks(server, topic)
    # Only segments made entirely of old records went; every new record is still readable.
    assert 0 < low <= first_new, (low, first_new)
    got = consume_all(server, topic)
    assert [o for o, _, _ in got] == list(range(low, high))
    assert [o for o, _, v in got if v.startswith(b"n")] == [o for o, _, _ in new]
    assert old[-1][0] < first_new


def watermarks(server, topic, partition=0):
    consumer = Consumer({"bootstrap.servers": server.bootstrap, "group.id": f"wm-{uuid.uuid4()}"})
    try:
        return consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
    finally:
        consumer.close()


def feed_events(server, topic):
    """Every event of the topic's HTTP feed, following the cursor."""
    events, last = [], None
    while True:
        params = {"limit": 1000}
        if last is not None:
            params["lastEventId"] = last
        r = requests.get(f"{server.http}/feeds/{topic}", params=params, timeout=10)
        r.raise_for_status()
        batch = r.json()
        if not batch:
            return events
        events.extend(batch)
        last = batch[-1]["id"]


def test_http_feed_agrees_with_compaction(server):
    topic = "feed-compacted"
    create_topic(server, topic, compacted_config())
    records = versions(4, 20) + [(b"k1", None)] + fillers(30)
    delivered = produce_each(server, topic, records)
    base = active_base(server, topic)
    want = expected_view(delivered, base)
    wait_until(lambda: ((g := consume_all(server, topic)) == want, g), "compaction")
    events = feed_events(server, topic)
    assert [e["offset"] for e in events] == [o for o, _, _ in want]
    cleaned = [e for e in events if e["offset"] < base]
    subjects = [e["subject"] for e in cleaned]
    assert len(subjects) == len(set(subjects)), "one event per subject in the cleaned range"
    by_subject = {e["subject"]: e for e in cleaned}
    assert by_subject["k1"]["method"] == "DELETE" and "data" not in by_subject["k1"]
    for k in ("k0", "k2", "k3"):
        assert by_subject[k]["method"] == "PUT"
        assert by_subject[k]["data"] == f"{k}-v19"
