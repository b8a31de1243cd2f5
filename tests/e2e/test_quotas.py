"""Client quotas against the real binary: DescribeClientQuotas / AlterClientQuotas over raw
frames (kafka-python 2.0.2 has no classes for them), a confluent-kafka producer held to its
producer_byte_rate (throttle_cb fires; the rate is measured by the client and from the
broker's high watermark), a throttled Fetch that carries no data and mutes the connection,
HTTP produce answering 429 with Retry-After, the /v1/quotas admin routes, and quotas
surviving SIGKILL."""

import json
import struct
import time

import confluent_kafka as ck
import requests
from kafka.protocol.fetch import FetchRequest

from kafka_support import Wire, create_topic

MIB = 1024 * 1024
INVALID_REQUEST = 42


# --- raw DescribeClientQuotas (48) / AlterClientQuotas (49), version 0 -----------------------

def _str(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def _nstr(s):
    return struct.pack(">h", -1) if s is None else _str(s)


class _Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, fmt):
        (v,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return v

    def nstr(self):
        n = self.take(">h")
        if n < 0:
            return None
        s = self.data[self.pos:self.pos + n].decode()
        self.pos += n
        return s

    def array(self, item):
        n = self.take(">i")
        return None if n < 0 else [item() for _ in range(n)]


def _call(wire, api_key, body):
    wire.correlation += 1
    header = struct.pack(">hhi", api_key, 0, wire.correlation) + _nstr("strom-e2e")
    payload = header + body
    wire.send_raw(struct.pack(">i", len(payload)) + payload)
    frame = wire.recv_frame()
    r = _Reader(frame)
    assert r.take(">i") == wire.correlation
    return r


def _entity(r):
    return r.array(lambda: (r.nstr(), r.nstr()))


def describe_quotas(wire, components, strict=False):
    """components: [(entity_type, match_type, match)] -> (error, message, {entity: values})."""
    body = struct.pack(">i", len(components))
    for kind, how, name in components:
        body += _str(kind) + struct.pack(">b", how) + _nstr(name)
    body += struct.pack(">?", strict)
    r = _call(wire, 48, body)
    r.take(">i")  # throttle_time_ms
    error, message = r.take(">h"), r.nstr()
    entries = r.array(lambda: (tuple(_entity(r)), dict(r.array(lambda: (r.nstr(), r.take(">d")))))) or []
    return error, message, dict(entries)


def alter_quotas(wire, entries, validate_only=False):
    """entries: [([(type, name)], [(key, value, remove)])] -> [(error, message, entity)]."""
    body = struct.pack(">i", len(entries))
    for entity, ops in entries:
        body += struct.pack(">i", len(entity)) + b"".join(_str(t) + _nstr(n) for t, n in entity)
        body += struct.pack(">i", len(ops))
        for key, value, remove in ops:
            body += _str(key) + struct.pack(">d?", value, remove)
    body += struct.pack(">?", validate_only)
    r = _call(wire, 49, body)
    r.take(">i")
    return r.array(lambda: (r.take(">h"), r.nstr(), _entity(r)))


def set_quota(strom, entity, key, value):
    wire = Wire(strom.kafka_port)
    try:
        [(error, message, _)] = alter_quotas(wire, [(entity, [(key, value, False)])])
        assert error == 0, message
    finally:
        wire.close()


# --- the quota APIs -------------------------------------------------------------------------

def test_quota_apis_alter_describe_filter_and_refuse(strom):
    wire = Wire(strom.kafka_port)
    alice_app = (("user", "alice"), ("client-id", "app"))
    default_client = (("client-id", None),)
    # validate_only changes nothing.
    [(error, _, _)] = alter_quotas(wire, [(list(alice_app), [("producer_byte_rate", 1024.0, False)])], True)
    assert error == 0
    assert describe_quotas(wire, [])[2] == {}
    results = alter_quotas(wire, [
        (list(alice_app), [("producer_byte_rate", 1024.0, False), ("consumer_byte_rate", 2048.0, False)]),
        (list(default_client), [("request_percentage", 50.0, False)]),
        ([("client-id", "x")], [("nonsense", 1.0, False)]),
        ([("ip", "127.0.0.1")], [("producer_byte_rate", 1.0, False)]),
        ([("client-id", "y")], [("producer_byte_rate", 1.5, False)]),
    ])
    assert [e for e, _, _ in results] == [0, 0, INVALID_REQUEST, INVALID_REQUEST, INVALID_REQUEST]
    assert "unknown quota key 'nonsense'" in results[2][1]
    assert "not supported" in results[3][1]
    assert "whole number" in results[4][1]
    assert results[0][2] == list(alice_app)

    error, _, everything = describe_quotas(wire, [])
    assert error == 0
    assert everything == {
        alice_app: {"producer_byte_rate": 1024.0, "consumer_byte_rate": 2048.0},
        default_client: {"request_percentage": 50.0},
    }
    # Exact user, non-strict: alice's entity although it also names a client id.
    assert set(describe_quotas(wire, [("user", 0, "alice")])[2]) == {alice_app}
    # Strict: only entities with exactly the filtered types.
    assert describe_quotas(wire, [("user", 0, "alice")], strict=True)[2] == {}
    assert set(describe_quotas(wire, [("client-id", 1, None)])[2]) == {default_client}
    assert set(describe_quotas(wire, [("client-id", 2, None)])[2]) == {alice_app, default_client}
    error, message, _ = describe_quotas(wire, [("user", 0, None)])
    assert (error, "needs a name" in message) == (INVALID_REQUEST, True)
    error, message, _ = describe_quotas(wire, [("user", 2, None), ("user", 1, None)])
    assert (error, "duplicate" in message) == (INVALID_REQUEST, True)

    # Removing the last key removes the entity.
    alter_quotas(wire, [(list(default_client), [("request_percentage", 0.0, True)])])
    assert set(describe_quotas(wire, [])[2]) == {alice_app}
    wire.close()


# --- enforcement on the Kafka listener ------------------------------------------------------

def test_producer_is_held_to_its_byte_rate(strom):
    topic = "quota-produce"
    create_topic(strom.bootstrap, topic)
    set_quota(strom, [("client-id", "quota-producer")], "producer_byte_rate", float(MIB))
    throttles = []
    acked = [0]

    def delivered(err, msg):
        if err is None:
            acked[0] += 1

    producer = ck.Producer({
        "bootstrap.servers": strom.bootstrap,
        "client.id": "quota-producer",
        "throttle_cb": lambda event: throttles.append(event.throttle_time),
        # Small requests, so the overshoot of the request that crosses the quota is small.
        "batch.size": 65536,
        "linger.ms": 5,
        "queue.buffering.max.kbytes": 16384,
    })
    watcher = ck.Consumer({"bootstrap.servers": strom.bootstrap, "group.id": "quota-watch"})
    value = b"x" * 1024
    # Kafka's rate is measured over at least 10 s from a client's first byte, and the first
    # window's bytes expire after 11 s: a run of 10.5 s sees the quota, not an artefact.
    run = 10.5
    start = time.monotonic()
    while time.monotonic() - start < run:
        try:
            producer.produce(topic, value, on_delivery=delivered)
        except BufferError:
            producer.poll(0.005)
            continue
        producer.poll(0)
    producer.poll(0)
    elapsed = time.monotonic() - start
    client_rate = acked[0] * 1024 / elapsed
    _, high = watcher.get_watermark_offsets(ck.TopicPartition(topic, 0), timeout=10)
    broker_rate = high * 1024 / elapsed
    producer.purge()
    producer.flush(10)
    watcher.close()
    print(f"throttle events {len(throttles)}, client {client_rate / MIB:.3f} MiB/s, "
          f"broker {broker_rate / MIB:.3f} MiB/s over {elapsed:.2f} s")
    assert throttles and max(throttles) > 0
    assert 0.8 * MIB <= client_rate <= 1.2 * MIB, client_rate / MIB
    assert 0.8 * MIB <= broker_rate <= 1.2 * MIB, broker_rate / MIB


def test_throttled_fetch_carries_no_data_and_mutes_the_connection(strom):
    topic = "quota-fetch"
    create_topic(strom.bootstrap, topic)
    producer = ck.Producer({"bootstrap.servers": strom.bootstrap, "linger.ms": 0})
    for _ in range(64):
        producer.produce(topic, b"y" * 1024)
        producer.flush(10)  # one batch per record
    # 1000 B/s: a fetch may carry at most 10 000 bytes, and the second one is over quota.
    set_quota(strom, [("client-id", "slow-reader")], "consumer_byte_rate", 1000.0)
    wire = Wire(strom.kafka_port)
    throttled = None
    for _ in range(5):
        request = FetchRequest[4](-1, 0, 1, 1 << 20, 0, [(topic, [(0, 0, 1 << 20)])])
        wire.send_raw(wire.frame(request, client_id="slow-reader"))
        frame = wire.recv_frame()
        response = request.RESPONSE_TYPE.decode(frame[4:])
        if response.throttle_time_ms > 0:
            throttled = (response, time.monotonic())
            break
        records = response.topics[0][1][0][-1]
        assert 0 < len(records) <= 10_000, len(records)  # capped at the quota's window
    assert throttled is not None, "the reader was never throttled"
    response, answered = throttled
    assert response.topics == []
    # KIP-219: the next request is not even read until the delay is over.
    delay = response.throttle_time_ms / 1000
    assert delay >= 1.0, delay
    wire.send_raw(wire.frame(FetchRequest[4](-1, 0, 1, 1024, 0, []), client_id="slow-reader"))
    time.sleep(min(0.5, delay / 2))
    assert wire.server_unread_bytes() > 0
    wire.recv_frame()
    assert time.monotonic() - answered >= delay - 0.05
    wire.close()


# --- HTTP ------------------------------------------------------------------------------------

def test_http_produce_over_quota_is_429_with_retry_after(strom):
    create_topic(strom.bootstrap, "quota-http")
    url = f"{strom.http}/v1/topics/quota-http/records"
    # 1 KiB/s: ten seconds' worth (10 KiB) passes, then the writer is over quota.
    set_quota(strom, [("client-id", "http-writer")], "producer_byte_rate", 1024.0)
    headers = {"Content-Type": "application/octet-stream", "X-Client-Id": "http-writer"}
    refused = None
    for _ in range(30):
        r = requests.post(url, data=b"z" * 1024, headers=headers, timeout=10)
        if r.status_code == 429:
            refused = r
            break
        assert r.status_code == 200, r.text
    assert refused is not None, "never refused"
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/quota-exceeded")
    assert int(refused.headers["Retry-After"]) >= 1
    # Another client id is its own quota group (no quota at all).
    other = {**headers, "X-Client-Id": "someone-else"}
    assert requests.post(url, data=b"z" * 1024, headers=other, timeout=10).status_code == 200
    # Waiting as told lets the writer in again.
    deadline = time.monotonic() + 60
    while True:
        time.sleep(int(refused.headers["Retry-After"]))
        r = requests.post(url, data=b"z", headers=headers, timeout=10)
        if r.status_code == 200:
            break
        assert r.status_code == 429 and time.monotonic() < deadline, r.text
        refused = r


def test_http_quota_admin_and_quotas_survive_sigkill(strom):
    base = f"{strom.http}/v1/quotas"
    r = requests.post(base, json={"entity": {"user": None}, "set": {"consumer_byte_rate": 4096}}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json() == {"entity": {"user": None}, "values": {"consumer_byte_rate": 4096.0}}
    r = requests.post(base, json={"entity": {"user": "bob", "client-id": "cli"},
                                  "set": {"producer_byte_rate": 8192}}, timeout=10)
    assert r.status_code == 200, r.text
    bad = requests.post(base, json={"entity": {"group": "g"}, "set": {"producer_byte_rate": 1}}, timeout=10)
    assert bad.status_code == 422 and "unknown entity type" in bad.json()["detail"]
    bad = requests.post(base, json={"entity": {"user": "bob"}, "set": {"producer_byte_rate": -1}}, timeout=10)
    assert bad.status_code == 422
    set_quota(strom, [("client-id", "via-kafka")], "producer_byte_rate", 1000.0)
    removed = requests.delete(base, json={"entity": {"user": None}}, timeout=10)
    assert removed.status_code == 204

    strom.kill()
    strom.start()
    listed = requests.get(base, timeout=10).json()["quotas"]
    canonical = lambda entries: sorted(json.dumps(e, sort_keys=True) for e in entries)  # noqa: E731
    assert canonical(listed) == canonical([
        {"entity": {"user": "bob", "client-id": "cli"}, "values": {"producer_byte_rate": 8192.0}},
        {"entity": {"client-id": "via-kafka"}, "values": {"producer_byte_rate": 1000.0}},
    ])
    wire = Wire(strom.kafka_port)
    assert set(describe_quotas(wire, [])[2]) == {
        (("user", "bob"), ("client-id", "cli")), (("client-id", "via-kafka"),),
    }
    wire.close()
