"""Records written over HTTP read back identically by a Kafka client (confluent-kafka) and
the other way round, including keys, binary values, headers, timestamps and tombstones, and
keyed records land in the partition Kafka's murmur2 partitioner picks."""

import base64

import requests
from confluent_kafka import Consumer, Producer, TopicPartition


def consumer(strom, group):
    return Consumer({"bootstrap.servers": strom.bootstrap, "group.id": group,
                     "auto.offset.reset": "earliest", "enable.auto.commit": False})


def read_all(c, topic, partitions, expected):
    c.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out = []
    for _ in range(100):
        for m in c.consume(num_messages=100, timeout=0.5):
            assert m.error() is None, m.error()
            out.append(m)
        if len(out) >= expected:
            break
    return out


def test_http_to_kafka(strom):
    r = requests.post(f"{strom.http}/v1/topics", json={"name": "h2k", "partitions": 3})
    assert r.status_code == 201
    records = [
        {"key": "user-1", "value": {"n": 1}, "headers": [{"key": "h", "value": "v"}],
         "timestamp": 1_700_000_000_000},
        {"key_base64": base64.b64encode(b"\x00\x01").decode(), "value_base64": base64.b64encode(b"\xff\xfe").decode()},
        {"key": "user-1", "value": None},
    ]
    offsets = requests.post(f"{strom.http}/v1/topics/h2k/records", json={"records": records}).json()["offsets"]
    c = consumer(strom, "h2k")
    msgs = read_all(c, "h2k", 3, 3)
    c.close()
    by_key = {}
    for m in msgs:
        by_key.setdefault(m.key(), []).append(m)
    first, tomb = by_key[b"user-1"]
    assert first.value() == b'{"n":1}'
    assert first.headers() == [("h", b"v")]
    assert first.timestamp()[1] == 1_700_000_000_000
    assert (first.partition(), first.offset()) == (offsets[0]["partition"], offsets[0]["offset"])
    assert tomb.value() is None
    assert by_key[b"\x00\x01"][0].value() == b"\xff\xfe"


def test_kafka_to_http(strom):
    requests.post(f"{strom.http}/v1/topics", json={"name": "k2h", "partitions": 4})
    # librdkafka defaults to CRC32; murmur2_random is the Java client's partitioner.
    p = Producer({"bootstrap.servers": strom.bootstrap, "linger.ms": 5, "compression.type": "gzip",
                  "partitioner": "murmur2_random"})
    keys = [f"key-{i}".encode() for i in range(20)]
    for i, k in enumerate(keys):
        p.produce("k2h", key=k, value=f'{{"i":{i}}}'.encode(), headers=[("src", b"kafka")],
                  timestamp=1_600_000_000_000 + i)
    p.produce("k2h", key=b"gone", value=None)
    assert p.flush(30) == 0
    # Where librdkafka put each key must be where Strom's HTTP produce puts it.
    placed = {}
    seen = []
    for part in range(4):
        body = requests.get(f"{strom.http}/v1/topics/k2h/partitions/{part}/records",
                            params={"offset": 0, "limit": 1000}).json()
        for r in body["records"]:
            placed[r["key"]] = part
            seen.append(r)
    assert len(seen) == 21
    for r in seen:
        if r["key"] == "gone":
            assert r["value"] is None
            continue
        i = int(r["key"].split("-")[1])
        assert r["value"] == {"i": i}
        assert r["timestamp"] == 1_600_000_000_000 + i
        assert r["headers"] == [{"key": "src", "value": "kafka"}]
    for k in keys[:8]:
        out = requests.post(f"{strom.http}/v1/topics/k2h/records",
                            json={"records": [{"key": k.decode(), "value": 0}]}).json()
        assert out["offsets"][0]["partition"] == placed[k.decode()], k
    # The feed shows the same records as CloudEvents, tombstone as DELETE.
    events = requests.get(f"{strom.http}/feeds/k2h", params={"limit": 1000}).json()
    deletes = [e for e in events if e.get("method") == "DELETE"]
    assert [e["subject"] for e in deletes] == ["gone"] and "data" not in deletes[0]


def test_rest_proxy_v2_produce_read_by_kafka(strom):
    requests.post(f"{strom.http}/v1/topics", json={"name": "rp", "partitions": 1})
    r = requests.post(f"{strom.http}/topics/rp",
                      headers={"content-type": "application/vnd.kafka.binary.v2+json"},
                      json={"records": [{"key": base64.b64encode(b"k").decode(),
                                         "value": base64.b64encode(b"\x01\x02").decode()}]})
    assert r.status_code == 200, r.text
    assert r.json()["offsets"] == [{"partition": 0, "offset": 0, "error_code": None, "error": None}]
    r = requests.post(f"{strom.http}/topics/rp",
                      headers={"content-type": "application/vnd.kafka.json.v2+json"},
                      json={"records": [{"value": {"a": 1}}]})
    assert r.status_code == 200
    # Topics are created on first use (the Kafka setting); a missing partition is REST
    # Proxy's 40402.
    r = requests.post(f"{strom.http}/topics/rp/partitions/7",
                      headers={"content-type": "application/vnd.kafka.json.v2+json"},
                      json={"records": [{"value": 1}]})
    assert r.status_code == 404 and r.json()["error_code"] == 40402
    r = requests.post(f"{strom.http}/topics/rp",
                      headers={"content-type": "application/vnd.kafka.avro.v2+json"},
                      json={"records": [{"value": 1}]})
    # The schema formats need a schema (test_restproxy_schemas.py covers them).
    assert r.status_code == 422 and r.json()["error_code"] == 42202
    c = consumer(strom, "rp")
    msgs = read_all(c, "rp", 1, 2)
    c.close()
    assert [(m.key(), m.value()) for m in msgs] == [(b"k", b"\x01\x02"), (None, b'{"a":1}')]
    assert requests.get(f"{strom.http}/topics/rp/partitions/0/offsets").json() == \
        {"beginning_offset": 0, "end_offset": 2}
