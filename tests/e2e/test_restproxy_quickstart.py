"""Confluent REST Proxy v2 parity: its quickstart curl sequence run verbatim (only the port
differs) for JSON and binary data, consumer instances, subscriptions, records, offsets,
assignments and delete, and its Avro, Protobuf and JSON Schema sections (schemas registered
in Strom's built-in registry); then the v2 details client code relies on: manual assignment,
`topic_pattern` subscriptions, `auto.offset.reset: none`, the empty commit answer, malformed
JSON and 405 answered in the REST Proxy's own shape."""

import json
import subprocess
import time

import requests

V2 = {"content-type": "application/vnd.kafka.v2+json"}


def curl(strom, command):
    """Runs one quickstart command as documented, pointed at this server's port."""
    command = command.replace("localhost:8082", f"127.0.0.1:{strom.http_port}")
    done = subprocess.run(["bash", "-c", command + " -sS -w '\\n%{http_code}'"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    body, _, status = done.stdout.rpartition("\n")
    return int(status), body


def curl_json(strom, command, status=200):
    code, body = curl(strom, command)
    assert code == status, (code, body)
    return json.loads(body) if body.strip() else None


def records_until(strom, command, want, deadline=60):
    """The quickstart's records GET, repeated as its readers do until the records arrive."""
    end = time.time() + deadline
    got = []
    while time.time() < end and len(got) < want:
        got.extend(curl_json(strom, command))
    return got


def test_quickstart_json_and_binary(strom):
    for topic in ("jsontest", "binarytest"):
        r = requests.post(f"{strom.http}/v1/topics", json={"name": topic, "partitions": 1}, timeout=10)
        assert r.status_code == 201, r.text

    # JSON
    produced = curl_json(strom, """curl -X POST -H "Content-Type: application/vnd.kafka.json.v2+json" \
      -H "Accept: application/vnd.kafka.v2+json" \
      --data '{"records":[{"value":{"foo":"bar"}}]}' "http://localhost:8082/topics/jsontest\"""")
    assert produced["offsets"][0]["offset"] == 0
    created = curl_json(strom, """curl -X POST -H "Content-Type: application/vnd.kafka.v2+json" \
      --data '{"name": "my_consumer_instance", "format": "json", "auto.offset.reset": "earliest"}' \
      http://localhost:8082/consumers/my_json_consumer""")
    assert created["instance_id"] == "my_consumer_instance"
    assert created["base_uri"].endswith("/consumers/my_json_consumer/instances/my_consumer_instance")
    curl_json(strom, """curl -X POST -H "Content-Type: application/vnd.kafka.v2+json" --data '{"topics":["jsontest"]}' \
      http://localhost:8082/consumers/my_json_consumer/instances/my_consumer_instance/subscription""", 204)
    got = records_until(strom, """curl -X GET -H "Accept: application/vnd.kafka.json.v2+json" \
      http://localhost:8082/consumers/my_json_consumer/instances/my_consumer_instance/records""", 1)
    assert [(r["topic"], r["value"], r["partition"], r["offset"]) for r in got] == [("jsontest", {"foo": "bar"}, 0, 0)]
    # Offsets: commit what was read, read it back (the answer to a commit is empty).
    code, body = curl(strom, """curl -X POST -H "Content-Type: application/vnd.kafka.v2+json" \
      --data '{"offsets":[{"topic":"jsontest","partition":0,"offset":0}]}' \
      http://localhost:8082/consumers/my_json_consumer/instances/my_consumer_instance/offsets""")
    assert (code, body) == (200, "")
    committed = curl_json(strom, """curl -X GET -H "Content-Type: application/vnd.kafka.v2+json" \
      --data '{"partitions":[{"topic":"jsontest","partition":0}]}' \
      http://localhost:8082/consumers/my_json_consumer/instances/my_consumer_instance/offsets""")
    # The group stores the next offset to read after the one committed.
    assert committed["offsets"][0]["offset"] == 1, committed
    assignments = curl_json(strom, """curl -X GET -H "Accept: application/vnd.kafka.v2+json" \
      http://localhost:8082/consumers/my_json_consumer/instances/my_consumer_instance/assignments""")
    assert assignments == {"partitions": [{"topic": "jsontest", "partition": 0}]}
    curl_json(strom, """curl -X DELETE -H "Content-Type: application/vnd.kafka.v2+json" \
      http://localhost:8082/consumers/my_json_consumer/instances/my_consumer_instance""", 204)

    # Binary
    produced = curl_json(strom, """curl -X POST -H "Content-Type: application/vnd.kafka.binary.v2+json" \
      -H "Accept: application/vnd.kafka.v2+json" \
      --data '{"records":[{"value":"S2Fma2E="}]}' "http://localhost:8082/topics/binarytest\"""")
    assert produced["offsets"][0]["offset"] == 0
    curl_json(strom, """curl -X POST -H "Content-Type: application/vnd.kafka.v2+json" \
      --data '{"name": "my_consumer_instance", "format": "binary", "auto.offset.reset": "earliest"}' \
      http://localhost:8082/consumers/my_binary_consumer""")
    curl_json(strom, """curl -X POST -H "Content-Type: application/vnd.kafka.v2+json" --data '{"topics":["binarytest"]}' \
      http://localhost:8082/consumers/my_binary_consumer/instances/my_consumer_instance/subscription""", 204)
    got = records_until(strom, """curl -X GET -H "Accept: application/vnd.kafka.binary.v2+json" \
      http://localhost:8082/consumers/my_binary_consumer/instances/my_consumer_instance/records""", 1)
    assert [r["value"] for r in got] == ["S2Fma2E="]
    curl_json(strom, """curl -X DELETE -H "Content-Type: application/vnd.kafka.v2+json" \
      http://localhost:8082/consumers/my_binary_consumer/instances/my_consumer_instance""", 204)


def schema_section(strom, fmt, topic, produce_data, expected_value):
    """One of the quickstart's schema sections: produce with an inline schema, then a consumer
    in that format reads the value back decoded, then the consumer is deleted."""
    produced = curl_json(strom, f"""curl -X POST -H "Content-Type: application/vnd.kafka.{fmt}.v2+json" \
      -H "Accept: application/vnd.kafka.v2+json" \
      --data '{produce_data}' \
      "http://localhost:8082/topics/{topic}\"""")
    assert produced["offsets"] == [{"partition": 0, "offset": 0, "error_code": None, "error": None}], produced
    assert produced["key_schema_id"] is None and isinstance(produced["value_schema_id"], int), produced
    created = curl_json(strom, f"""curl -X POST  -H "Content-Type: application/vnd.kafka.v2+json" \
      --data '{{"name": "my_consumer_instance", "format": "{fmt}", "auto.offset.reset": "earliest"}}' \
      http://localhost:8082/consumers/my_{fmt}_consumer""")
    assert created["instance_id"] == "my_consumer_instance"
    curl_json(strom, f"""curl -X POST -H "Content-Type: application/vnd.kafka.v2+json" --data '{{"topics":["{topic}"]}}' \
      http://localhost:8082/consumers/my_{fmt}_consumer/instances/my_consumer_instance/subscription""", 204)
    got = records_until(strom, f"""curl -X GET -H "Accept: application/vnd.kafka.{fmt}.v2+json" \
      http://localhost:8082/consumers/my_{fmt}_consumer/instances/my_consumer_instance/records""", 1)
    assert [(r["key"], r["value"], r["partition"], r["offset"], r["topic"]) for r in got] == [
        (None, expected_value, 0, 0, topic)], got
    curl_json(strom, f"""curl -X DELETE -H "Content-Type: application/vnd.kafka.v2+json" \
      http://localhost:8082/consumers/my_{fmt}_consumer/instances/my_consumer_instance""", 204)
    return produced["value_schema_id"]


def test_quickstart_avro_protobuf_and_json_schema(strom):
    for topic in ("avrotest", "avrokeytest2", "protobuftest", "jsonschematest"):
        r = requests.post(f"{strom.http}/v1/topics", json={"name": topic, "partitions": 1}, timeout=10)
        assert r.status_code == 201, r.text

    # Avro: the value schema is registered under avrotest-value.
    avro_id = schema_section(strom, "avro", "avrotest", r"""{"value_schema": "{\"type\": \"record\", \"name\": \"User\", \"fields\": [{\"name\": \"name\", \"type\": \"string\"}]}", "records": [{"value": {"name": "testUser"}}]}""",
                             {"name": "testUser"})
    subject = requests.get(f"{strom.http}/subjects/avrotest-value/versions/latest", timeout=10).json()
    assert subject["id"] == avro_id, subject
    # Avro key and value, each schema registered under its own subject.
    produced = curl_json(strom, r"""curl -X POST -H "Content-Type: application/vnd.kafka.avro.v2+json" \
      -H "Accept: application/vnd.kafka.v2+json" \
      --data '{"key_schema": "{\"name\":\"user_id\"  ,\"type\": \"int\"   }", "value_schema": "{\"type\": \"record\", \"name\": \"User\", \"fields\": [{\"name\": \"name\", \"type\": \"string\"}]}", "records": [{"key" : 1 , "value": {"name": "testUser"}}]}' \
      "http://localhost:8082/topics/avrokeytest2" """)
    assert produced["offsets"][0]["offset"] == 0, produced
    assert produced["value_schema_id"] == avro_id, produced
    key_id = requests.get(f"{strom.http}/subjects/avrokeytest2-key/versions/latest", timeout=10).json()["id"]
    assert produced["key_schema_id"] == key_id != avro_id, produced

    # Protobuf.
    schema_section(strom, "protobuf", "protobuftest", r"""{"value_schema": "syntax=\"proto3\"; message User { string name = 1; }", "records": [{"value": {"name": "testUser"}}]}""",
                   {"name": "testUser"})
    # JSON Schema.
    schema_section(strom, "jsonschema", "jsonschematest", r"""{"value_schema": "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\"}}}", "records": [{"value": {"name": "testUser"}}]}""",
                   {"name": "testUser"})


def create(strom, group, name, **config):
    r = requests.post(f"{strom.http}/consumers/{group}", headers=V2,
                      json={"name": name, "format": "json", **config}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()["base_uri"]


def fetch_until(base, want, deadline=60):
    end = time.time() + deadline
    got = []
    while time.time() < end and len(got) < want:
        r = requests.get(f"{base}/records", params={"timeout": 500},
                         headers={"accept": "application/vnd.kafka.json.v2+json"}, timeout=30)
        assert r.status_code == 200, r.text
        got.extend(r.json())
    return got


def produce(strom, topic, partitions, values):
    r = requests.post(f"{strom.http}/v1/topics", json={"name": topic, "partitions": partitions}, timeout=10)
    assert r.status_code == 201, r.text
    r = requests.post(f"{strom.http}/v1/topics/{topic}/records",
                      json={"records": [{"value": v, "partition": p} for p, v in values]}, timeout=10)
    assert r.status_code == 200, r.text


def test_manual_assignment_and_commit(strom):
    produce(strom, "manual", 2, [(0, "a"), (1, "b"), (1, "c")])
    base = create(strom, "manual-group", "m", **{"auto.offset.reset": "earliest"})
    r = requests.post(f"{base}/assignments", headers=V2,
                      json={"partitions": [{"topic": "manual", "partition": 1}]}, timeout=10)
    assert r.status_code == 204, r.text
    r = requests.get(f"{base}/assignments", timeout=10)
    assert r.json() == {"partitions": [{"topic": "manual", "partition": 1}]}
    got = fetch_until(base, 2)
    assert [(r["partition"], r["value"]) for r in got] == [(1, "b"), (1, "c")]
    # Subscribing while manually assigned is refused, as Kafka's consumer does.
    r = requests.post(f"{base}/subscription", headers=V2, json={"topics": ["manual"]}, timeout=10)
    assert r.status_code == 409 and r.json()["error_code"] == 40903, r.text
    r = requests.post(f"{base}/offsets", headers=V2, timeout=10)
    assert (r.status_code, r.text) == (200, "")
    r = requests.get(f"{base}/offsets", params={"partitions": "manual:1"}, timeout=10)
    assert r.json()["offsets"][0]["offset"] == 2, r.text


def test_topic_pattern_follows_new_topics(strom):
    produce(strom, "metrics-a", 1, [(0, 1)])
    produce(strom, "other-topic", 1, [(0, 99)])
    base = create(strom, "pattern-group", "p", **{"auto.offset.reset": "earliest"})
    r = requests.post(f"{base}/subscription", headers=V2, json={"topic_pattern": "metrics-.*"}, timeout=10)
    assert r.status_code == 204, r.text
    assert requests.get(f"{base}/subscription", timeout=10).json() == {"topics": ["metrics-a"]}
    assert [r["value"] for r in fetch_until(base, 1)] == [1]
    # A topic created later that matches joins the subscription.
    produce(strom, "metrics-b", 1, [(0, 2)])
    assert [(r["topic"], r["value"]) for r in fetch_until(base, 1)] == [("metrics-b", 2)]
    r = requests.post(f"{base}/subscription", headers=V2, json={"topic_pattern": "("}, timeout=10)
    assert r.status_code == 422 and r.json()["error_code"] == 42204, r.text


def test_offset_reset_none_fails_until_seek(strom):
    produce(strom, "strict", 1, [(0, "x"), (0, "y")])
    base = create(strom, "strict-group", "s", **{"auto.offset.reset": "none"})
    r = requests.post(f"{base}/assignments", headers=V2,
                      json={"partitions": [{"topic": "strict", "partition": 0}]}, timeout=10)
    assert r.status_code == 204, r.text
    r = requests.get(f"{base}/records", headers={"accept": "application/vnd.kafka.json.v2+json"}, timeout=30)
    assert r.status_code == 500, r.text
    assert r.json() == {"error_code": 50002,
                        "message": "Undefined offset with no reset policy for partitions: [strict-0]"}
    r = requests.post(f"{base}/positions", headers=V2,
                      json={"offsets": [{"topic": "strict", "partition": 0, "offset": 1}]}, timeout=10)
    assert r.status_code == 204, r.text
    assert [r["value"] for r in fetch_until(base, 1)] == ["y"]


def test_malformed_json_and_405_in_rest_proxy_shape(strom):
    r = requests.post(f"{strom.http}/v1/topics", json={"name": "shapes", "partitions": 1}, timeout=10)
    assert r.status_code == 201, r.text
    r = requests.post(f"{strom.http}/topics/shapes", data='{"records": [',
                      headers={"content-type": "application/vnd.kafka.json.v2+json"}, timeout=10)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error_code"] == 400 and body["message"], body
    assert "line" not in body["message"], body
    r = requests.post(f"{strom.http}/consumers/g", data="{nope",
                      headers={"content-type": "application/vnd.kafka.v2+json"}, timeout=10)
    assert r.status_code == 400 and r.json()["error_code"] == 400, r.text
    r = requests.put(f"{strom.http}/topics/shapes", json={}, timeout=10)
    assert r.status_code == 405, r.text
    assert r.json() == {"error_code": 405, "message": "HTTP 405 Method Not Allowed"}
    assert "allow" in r.headers
