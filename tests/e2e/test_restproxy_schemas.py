"""REST Proxy v2 `avro`, `protobuf` and `jsonschema` embedded formats against confluent-kafka's
serializers: records produced through the REST Proxy are read by the Deserializers with the
registry client, records the Serializers wrote are read by a REST Proxy consumer in that
format (Avro unions as {"type": value}, as Confluent's REST Proxy shows them); then the
REST Proxy's error codes (42201/42202 missing schema, 42203 conversion, 42205 invalid
schema, 40403 unknown id) with nothing written, and a schema id reused by value_schema_id;
`strom produce --schema` and `strom consume --format json` with the real binary."""

import json
import subprocess

import requests
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer

from conftest import strom_binary
from kafka_support import create_topic
from test_restproxy_quickstart import V2
from test_schema_registry import consume_deserialized, order_message_class, produce_serialized

EVENT = """{"type":"record","name":"Event","namespace":"e2e","fields":[
  {"name":"id","type":"long"},
  {"name":"note","type":["null","string"],"default":null},
  {"name":"kind","type":{"type":"enum","name":"Kind","symbols":["NEW","DONE"]}},
  {"name":"tags","type":{"type":"array","items":"string"}},
  {"name":"raw","type":"bytes"}]}"""
ORDER_PROTO = 'syntax = "proto3";\npackage e2e;\nmessage Order {\n  int64 id = 1;\n  string item = 2;\n}\n'
ORDER_JSON = """{"title":"Order","type":"object","properties":{"id":{"type":"integer"},"item":{"type":"string"}},
  "required":["id"]}"""


def rest_produce(strom, topic, fmt, body, status=200):
    r = requests.post(f"{strom.http}/topics/{topic}", json=body, timeout=30,
                      headers={"content-type": f"application/vnd.kafka.{fmt}.v2+json"})
    assert r.status_code == status, r.text
    return r.json()


def rest_consume(strom, topic, fmt, n, group=None):
    group = group or f"g-{topic}"
    r = requests.post(f"{strom.http}/consumers/{group}", headers=V2, timeout=10,
                      json={"name": "c", "format": fmt, "auto.offset.reset": "earliest"})
    assert r.status_code == 200, r.text
    base = r.json()["base_uri"]
    r = requests.post(f"{base}/subscription", headers=V2, json={"topics": [topic]}, timeout=10)
    assert r.status_code == 204, r.text
    got = []
    for _ in range(60):
        if len(got) >= n:
            break
        r = requests.get(f"{base}/records", params={"timeout": 1000}, timeout=30,
                         headers={"accept": f"application/vnd.kafka.{fmt}.v2+json"})
        assert r.status_code == 200, r.text
        got.extend(r.json())
    requests.delete(base, headers=V2, timeout=10)
    return got


def test_avro_rest_proxy_and_serializers_read_each_other(strom):
    client = SchemaRegistryClient({"url": strom.http})
    create_topic(strom.bootstrap, "ev-rest")
    values = [{"id": 1, "note": {"string": "first"}, "kind": "NEW", "tags": ["a"], "raw": "\u0000\u00ff"},
              {"id": 2, "note": None, "kind": "DONE", "tags": [], "raw": ""}]
    out = rest_produce(strom, "ev-rest", "avro", {"value_schema": EVENT, "records": [{"value": v} for v in values]})
    assert [o["offset"] for o in out["offsets"]] == [0, 1], out
    # confluent-kafka's AvroDeserializer reads what the REST Proxy wrote.
    read = consume_deserialized(strom, "ev-rest", AvroDeserializer(client), 2)
    assert read == [{"id": 1, "note": "first", "kind": "NEW", "tags": ["a"], "raw": b"\x00\xff"},
                    {"id": 2, "note": None, "kind": "DONE", "tags": [], "raw": b""}], read
    # value_schema_id reuses the registered schema.
    again = rest_produce(strom, "ev-rest", "avro", {"value_schema_id": out["value_schema_id"],
                                                    "records": [{"value": values[1]}]})
    assert again["value_schema_id"] == out["value_schema_id"] and again["offsets"][0]["offset"] == 2

    # The AvroSerializer's records, read by a REST Proxy avro consumer: unions tagged.
    create_topic(strom.bootstrap, "ev-kafka")
    ser = AvroSerializer(client, EVENT)
    produce_serialized(strom, "ev-kafka", ser, [
        {"id": 7, "note": "hi", "kind": "DONE", "tags": ["x", "y"], "raw": b"\x01"}])
    got = rest_consume(strom, "ev-kafka", "avro", 1)
    assert [r["value"] for r in got] == [
        {"id": 7, "note": {"string": "hi"}, "kind": "DONE", "tags": ["x", "y"], "raw": "\u0001"}], got


def test_protobuf_rest_proxy_and_serializers_read_each_other(strom):
    client = SchemaRegistryClient({"url": strom.http})
    Order = order_message_class()
    create_topic(strom.bootstrap, "pb-rest")
    out = rest_produce(strom, "pb-rest", "protobuf", {
        "value_schema": ORDER_PROTO, "records": [{"value": {"id": "5", "item": "pen"}}, {"value": {"id": 6}}]})
    assert [o["offset"] for o in out["offsets"]] == [0, 1], out
    de = ProtobufDeserializer(Order, {"use.deprecated.format": False})
    assert consume_deserialized(strom, "pb-rest", de, 2) == [Order(id=5, item="pen"), Order(id=6)]

    create_topic(strom.bootstrap, "pb-kafka")
    ser = ProtobufSerializer(Order, client, {"use.deprecated.format": False})
    produce_serialized(strom, "pb-kafka", ser, [Order(id=9, item="cup")])
    got = rest_consume(strom, "pb-kafka", "protobuf", 1)
    # The Protobuf JSON mapping: int64 as a string.
    assert [r["value"] for r in got] == [{"id": "9", "item": "cup"}], got


def test_json_schema_rest_proxy_and_serializers_read_each_other(strom):
    client = SchemaRegistryClient({"url": strom.http})
    create_topic(strom.bootstrap, "js-rest")
    out = rest_produce(strom, "js-rest", "jsonschema", {
        "value_schema": ORDER_JSON, "records": [{"value": {"id": 1, "item": "pen"}}]})
    assert out["offsets"][0]["offset"] == 0, out
    de = JSONDeserializer(ORDER_JSON)
    assert consume_deserialized(strom, "js-rest", de, 1) == [{"id": 1, "item": "pen"}]

    create_topic(strom.bootstrap, "js-kafka")
    produce_serialized(strom, "js-kafka", JSONSerializer(ORDER_JSON, client), [{"id": 3}])
    got = rest_consume(strom, "js-kafka", "jsonschema", 1)
    assert [r["value"] for r in got] == [{"id": 3}], got


def end_offset(strom, topic):
    r = requests.get(f"{strom.http}/topics/{topic}/partitions/0/offsets", timeout=10)
    return r.json()["end_offset"]


def test_errors_as_the_rest_proxy_answers_them_and_nothing_written(strom):
    create_topic(strom.bootstrap, "bad")
    for topic in ("pbonly", "bad-js", "bad-pb"):
        create_topic(strom.bootstrap, topic)
    # A record that does not convert fails the whole request: 42203, naming the field.
    body = rest_produce(strom, "bad", "avro", {"value_schema": EVENT, "records": [
        {"value": {"id": 1, "kind": "NEW", "tags": [], "raw": ""}},
        {"value": {"id": "two", "kind": "NEW", "tags": [], "raw": ""}}]}, status=422)
    assert body["error_code"] == 42203, body
    assert body["message"].startswith("Conversion of JSON to Avro failed: record 1: field 'id'"), body
    # An untagged union value is a conversion error too (Avro's JSON encoding tags it).
    body = rest_produce(strom, "bad", "avro", {"value_schema": EVENT, "records": [
        {"value": {"id": 1, "note": "plain", "kind": "NEW", "tags": [], "raw": ""}}]}, status=422)
    assert body["error_code"] == 42203 and "field 'note'" in body["message"], body
    body = rest_produce(strom, "bad-js", "jsonschema", {"value_schema": ORDER_JSON, "records": [
        {"value": {"item": "no id"}}]}, status=422)
    assert body["error_code"] == 42203 and "id" in body["message"], body
    body = rest_produce(strom, "bad-pb", "protobuf", {"value_schema": ORDER_PROTO, "records": [
        {"value": {"nope": 1}}]}, status=422)
    assert body["error_code"] == 42203 and "e2e.Order" in body["message"], body
    # Values without a value schema, keys without a key schema.
    body = rest_produce(strom, "bad", "avro", {"records": [{"value": {"id": 1}}]}, status=422)
    assert body == {"error_code": 42202,
                    "message": "Request includes values but does not include value schema"}, body
    body = rest_produce(strom, "bad", "avro", {"value_schema": EVENT, "records": [
        {"key": 1, "value": {"id": 1, "kind": "NEW", "tags": [], "raw": ""}}]}, status=422)
    assert body == {"error_code": 42201,
                    "message": "Request includes keys but does not include key schema"}, body
    # An unparseable schema, an unknown id, an id of another format.
    body = rest_produce(strom, "bad", "avro", {"value_schema": "{\"type\": \"recor\"}",
                                                "records": [{"value": {}}]}, status=422)
    assert body["error_code"] == 42205 and body["message"].startswith("Invalid schema"), body
    body = rest_produce(strom, "bad", "avro", {"value_schema_id": 4242, "records": [{"value": {}}]}, status=404)
    assert body["error_code"] == 40403, body
    pb = rest_produce(strom, "pbonly", "protobuf", {"value_schema": ORDER_PROTO, "records": [{"value": {"id": 1}}]})
    body = rest_produce(strom, "bad", "avro", {"value_schema_id": pb["value_schema_id"],
                                                "records": [{"value": {}}]}, status=422)
    assert body["error_code"] == 42205 and "PROTOBUF" in body["message"], body
    assert [end_offset(strom, t) for t in ("bad", "bad-js", "bad-pb")] == [0, 0, 0]
    # A consumer in a schema format facing a record without a schema id: 50002, and the
    # position stays on the record.
    r = requests.post(f"{strom.http}/topics/bad", json={"records": [{"value": {"plain": 1}}]},
                      headers={"content-type": "application/vnd.kafka.json.v2+json"}, timeout=10)
    assert r.status_code == 200, r.text
    r = requests.post(f"{strom.http}/consumers/gbad", headers=V2, timeout=10,
                      json={"name": "c", "format": "avro", "auto.offset.reset": "earliest"})
    base = r.json()["base_uri"]
    requests.post(f"{base}/subscription", headers=V2, json={"topics": ["bad"]}, timeout=10)
    for _ in range(2):
        r = requests.get(f"{base}/records", headers={"accept": "application/vnd.kafka.avro.v2+json"}, timeout=30)
        assert r.status_code == 500 and r.json()["error_code"] == 50002, r.text
        assert "bad-0 at offset 0" in r.json()["message"], r.text


def cli(strom, *args, stdin=None, check=True):
    out = subprocess.run([strom_binary(), *args, "--server", strom.http], input=stdin,
                         capture_output=True, text=True, timeout=60)
    assert not check or out.returncode == 0, out.stderr
    return out


def test_cli_produce_with_a_schema_and_consume_as_json(strom, tmp_path):
    create_topic(strom.bootstrap, "cli-ev")
    schema = tmp_path / "event.avsc"
    schema.write_text(EVENT)
    lines = ['{"id": 1, "note": {"string": "a"}, "kind": "NEW", "tags": ["t"], "raw": "x"}',
             '{"id": 2, "kind": "DONE", "tags": [], "raw": ""}']
    done = cli(strom, "produce", "cli-ev", "--schema", str(schema), stdin="\n".join(lines) + "\n")
    assert "produced 2 record(s)" in done.stderr, done.stderr
    schema_id = requests.get(f"{strom.http}/subjects/cli-ev-value/versions/latest", timeout=10).json()["id"]
    # By id: the type is looked up.
    cli(strom, "produce", "cli-ev", "--schema", str(schema_id),
        stdin='{"id": 3, "kind": "NEW", "tags": [], "raw": ""}\n')
    client = SchemaRegistryClient({"url": strom.http})
    read = consume_deserialized(strom, "cli-ev", AvroDeserializer(client), 3)
    assert [(v["id"], v["note"]) for v in read] == [(1, "a"), (2, None), (3, None)], read
    # strom consume --format json: one decoded value per line.
    out = cli(strom, "consume", "cli-ev", "--from-beginning", "--format", "json").stdout
    assert [json.loads(line) for line in out.splitlines()] == [
        {"id": 1, "note": "a", "kind": "NEW", "tags": ["t"], "raw": "x"},
        {"id": 2, "note": None, "kind": "DONE", "tags": [], "raw": ""},
        {"id": 3, "note": None, "kind": "NEW", "tags": [], "raw": ""}], out
    # A line that does not convert: the server's reason, a failure exit, nothing written.
    bad = cli(strom, "produce", "cli-ev", "--schema", str(schema),
              stdin='{"id": "four", "kind": "NEW", "tags": [], "raw": ""}\n', check=False)
    assert bad.returncode != 0 and "field 'id'" in bad.stderr, bad.stderr
    assert end_offset(strom, "cli-ev") == 3
    # Protobuf from a .proto file (type from the extension), read back as JSON.
    create_topic(strom.bootstrap, "cli-pb")
    proto = tmp_path / "order.proto"
    proto.write_text(ORDER_PROTO)
    cli(strom, "produce", "cli-pb", "--schema", str(proto), stdin='{"id": 4, "item": "ink"}\n')
    out = cli(strom, "consume", "cli-pb", "--from-beginning", "--format", "json").stdout
    assert [json.loads(line) for line in out.splitlines()] == [{"id": "4", "item": "ink"}], out


def test_producing_with_schemas_is_authorized_through_the_topic(strom_factory, tmp_path):
    from test_http_auth import ADMIN, api_key, start
    s = start(strom_factory, tmp_path)
    for topic in ("b",):
        assert requests.post(f"{s.http}/v1/topics", json={"name": topic}, auth=ADMIN).status_code == 201
    avro = {"content-type": "application/vnd.kafka.avro.v2+json"}
    # The admin registers EVENT under a-value by producing to a.
    r = requests.post(f"{s.http}/topics/a", headers=avro, auth=ADMIN, timeout=10, json={
        "value_schema": EVENT, "records": [{"value": {"id": 1, "kind": "NEW", "tags": [], "raw": ""}}]})
    assert r.status_code == 200, r.text
    event_id = r.json()["value_schema_id"]
    alice = {"Authorization": f"Bearer {api_key(s, 'User:alice')['key']}"}
    acl = {"resource_type": "topic", "resource_name": "b", "principal": "User:alice",
           "operation": "write", "permission": "allow"}
    assert requests.post(f"{s.http}/v1/acls", json={"acls": [acl]}, auth=ADMIN).status_code == 201
    # Write on b: alice may register under b-value and produce.
    small = '{"type":"record","name":"Small","fields":[{"name":"n","type":"int"}]}'
    r = requests.post(f"{s.http}/topics/b", headers={**avro, **alice}, timeout=10,
                      json={"value_schema": small, "records": [{"value": {"n": 1}}]})
    assert r.status_code == 200, r.text
    # Not on a: neither produce nor register there.
    r = requests.post(f"{s.http}/topics/a", headers={**avro, **alice}, timeout=10,
                      json={"value_schema": small, "records": [{"value": {"n": 1}}]})
    assert r.status_code == 403, r.text
    assert requests.get(f"{s.http}/subjects/a-value/versions", auth=ADMIN).json() == [1]
    # A schema id only a's subject uses is not visible to alice: as unknown.
    r = requests.post(f"{s.http}/topics/b", headers={**avro, **alice}, timeout=10, json={
        "value_schema_id": event_id, "records": [{"value": {"id": 1, "kind": "NEW", "tags": [], "raw": ""}}]})
    assert r.status_code == 404 and r.json()["error_code"] == 40403, r.text
