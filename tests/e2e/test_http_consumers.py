"""REST Proxy v2 consumer groups over HTTP on the shared group coordinator: two HTTP
instances split a topic's partitions, commits survive a restart, a Kafka-committed offset is
visible over HTTP, and an HTTP and a Kafka consumer of one group split the partitions."""

import time

import requests
from confluent_kafka import Consumer

V2 = {"content-type": "application/vnd.kafka.v2+json"}
JSON_ACCEPT = {"accept": "application/vnd.kafka.json.v2+json"}


def create_instance(strom, group, name, reset="earliest"):
    r = requests.post(f"{strom.http}/consumers/{group}", headers=V2,
                      json={"name": name, "format": "json", "auto.offset.reset": reset})
    assert r.status_code == 200, r.text
    return f"{strom.http}/consumers/{group}/instances/{name}"


def assignment(base):
    return sorted((p["topic"], p["partition"]) for p in requests.get(f"{base}/assignments").json()["partitions"])


def wait_for(pred, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.2)
    return False


def fetch_all(base, want, timeout=30):
    got = []
    deadline = time.time() + timeout
    while len(got) < want and time.time() < deadline:
        r = requests.get(f"{base}/records", params={"timeout": 1000}, headers=JSON_ACCEPT)
        assert r.status_code == 200, r.text
        got.extend(r.json())
    return got


def test_http_consumers_split_and_commit_across_restart(strom):
    requests.post(f"{strom.http}/v1/topics", json={"name": "orders", "partitions": 4})
    requests.post(f"{strom.http}/v1/topics/orders/records",
                  json={"records": [{"value": i, "partition": i % 4} for i in range(40)]})
    a = create_instance(strom, "billing", "a")
    b = create_instance(strom, "billing", "b")
    for base in (a, b):
        assert requests.post(f"{base}/subscription", headers=V2, json={"topics": ["orders"]}).status_code == 204
    assert wait_for(lambda: len(assignment(a)) == 2 and len(assignment(b)) == 2), (assignment(a), assignment(b))
    assert set(assignment(a)).isdisjoint(assignment(b))
    records = fetch_all(a, 20) + fetch_all(b, 20)
    assert sorted(r["value"] for r in records) == list(range(40))
    assert all(set(r) >= {"topic", "key", "value", "partition", "offset"} for r in records)
    for base in (a, b):
        assert requests.post(f"{base}/offsets", headers=V2, json={}).status_code == 200
        assert requests.delete(base).status_code == 204
    strom.restart()
    requests.post(f"{strom.http}/v1/topics/orders/records",
                  json={"records": [{"value": 100 + i, "partition": i} for i in range(4)]})
    c = create_instance(strom, "billing", "c")
    requests.post(f"{c}/subscription", headers=V2, json={"topics": ["orders"]})
    assert wait_for(lambda: len(assignment(c)) == 4)
    # Committed offsets survived the restart: only the new records are delivered.
    assert sorted(r["value"] for r in fetch_all(c, 4)) == [100, 101, 102, 103]
    assert requests.get(f"{c}/records", params={"timeout": 300}, headers=JSON_ACCEPT).json() == []


def test_consumer_api_errors(strom):
    r = requests.get(f"{strom.http}/consumers/g/instances/none/records")
    assert r.status_code == 404 and r.json()["error_code"] == 40403
    r = requests.post(f"{strom.http}/consumers/g", headers=V2, json={"format": "xml"})
    assert r.status_code == 422 and r.json()["error_code"] == 42204
    base = create_instance(strom, "g", "x")
    r = requests.post(f"{strom.http}/consumers/g", headers=V2, json={"name": "x"})
    assert r.status_code == 409 and r.json()["error_code"] == 40902
    r = requests.post(f"{base}/subscription", headers=V2, json={"topics": ["missing"]})
    assert r.status_code == 404 and r.json()["error_code"] == 40401
    r = requests.get(f"{base}/records", headers={"accept": "application/vnd.kafka.binary.v2+json"})
    assert r.status_code == 406 and r.json()["error_code"] == 40601


def test_kafka_committed_offset_is_visible_over_http(strom):
    """Both front ends run on one group coordinator: an offset a Kafka client commits is the
    offset the HTTP consumer API reports for that group."""
    from confluent_kafka import KafkaError, KafkaException, TopicPartition
    requests.post(f"{strom.http}/v1/topics", json={"name": "probe", "partitions": 1})
    requests.post(f"{strom.http}/v1/topics/probe/records", json={"records": [{"value": 0}, {"value": 1}]})
    c = Consumer({"bootstrap.servers": strom.bootstrap, "group.id": "shared-offsets"})
    try:
        # librdkafka looks the coordinator up in the background: retry while it says so.
        deadline = time.time() + 20
        while True:
            try:
                c.commit(offsets=[TopicPartition("probe", 0, 1)], asynchronous=False)
                break
            except KafkaException as e:
                if e.args[0].code() != KafkaError._WAIT_COORD:
                    raise
                assert time.time() < deadline, "FindCoordinator never answered"
                c.poll(0.2)
    finally:
        c.close()
    base = create_instance(strom, "shared-offsets", "probe")
    r = requests.get(f"{base}/offsets", params={"partitions": "probe:0"})
    assert r.status_code == 200, r.text
    assert [(o["topic"], o["partition"], o["offset"]) for o in r.json()["offsets"]] == [("probe", 0, 1)]
    assert requests.delete(base).status_code == 204


def test_http_and_kafka_consumer_share_a_group(strom):
    requests.post(f"{strom.http}/v1/topics", json={"name": "shared", "partitions": 2})
    requests.post(f"{strom.http}/v1/topics/shared/records",
                  json={"records": [{"value": i, "partition": i % 2} for i in range(10)]})
    base = create_instance(strom, "mixed", "h")
    requests.post(f"{base}/subscription", headers=V2, json={"topics": ["shared"]})
    k = Consumer({"bootstrap.servers": strom.bootstrap, "group.id": "mixed",
                  "auto.offset.reset": "earliest", "session.timeout.ms": 10000,
                  "partition.assignment.strategy": "range"})
    k.subscribe(["shared"])
    kafka_values = []
    deadline = time.time() + 60
    while time.time() < deadline and not (len(assignment(base)) == 1 and len(k.assignment()) == 1):
        for m in k.consume(10, timeout=0.5):
            if m.error() is None:
                kafka_values.append(int(m.value()))
    assert len(assignment(base)) == 1 and len(k.assignment()) == 1
    assert {p for _, p in assignment(base)}.isdisjoint(p.partition for p in k.assignment())
    http_values = [r["value"] for r in fetch_all(base, 5)]
    while len(kafka_values) < 5 and time.time() < deadline:
        for m in k.consume(10, timeout=0.5):
            if m.error() is None:
                kafka_values.append(int(m.value()))
    k.close()
    assert sorted(http_values + kafka_values) == list(range(10))
