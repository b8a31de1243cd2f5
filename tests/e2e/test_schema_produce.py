"""Strom's own produce API (`POST /v1/topics/{t}/records`) with schemas: JSON keys and values
encoded by the server with a schema named by id or by subject and version (Avro with bare or
tagged unions, JSON Schema, Protobuf), read back by confluent-kafka's deserializers and shown
decoded (keys too) by HTTP consume; the errors (422 naming the record and the field path, 404
with Confluent's codes, nothing written); the schema's visibility through the topic's ACLs;
`strom produce --key-schema` and `strom consume --format json --print-key`; kafkajs with the
npm registry client (@kafkajs/confluent-schema-registry) producing Avro and JSON Schema that
confluent-kafka and HTTP consume read."""

import json
import subprocess
from pathlib import Path

import requests
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.schema_registry.json_schema import JSONDeserializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from kafka_support import consume, create_topic
from test_restproxy_schemas import EVENT, ORDER_JSON, ORDER_PROTO, cli, end_offset
from test_schema_registry import consume_deserialized, order_message_class

NODE_DIR = Path(__file__).resolve().parent / "node"
KEY = '{"type":"record","name":"Key","namespace":"e2e","fields":[{"name":"id","type":"long"}]}'
SR = {"content-type": "application/vnd.schemaregistry.v1+json"}


def register(url, subject, schema, schema_type="AVRO", auth=None):
    r = requests.post(f"{url}/subjects/{subject}/versions", headers=SR, auth=auth, timeout=10,
                      json={"schema": schema, "schemaType": schema_type})
    assert r.status_code == 200, r.text
    return r.json()["id"]


def produce(url, topic, body, status=200, **kw):
    r = requests.post(f"{url}/v1/topics/{topic}/records", json=body, timeout=30, **kw)
    assert r.status_code == status, r.text
    return r.json()


def event(i, note=None):
    return {"id": i, "note": note, "kind": "NEW", "tags": ["t"], "raw": "x"}


def test_json_encoded_by_id_or_subject_reads_with_confluent_deserializers(strom):
    create_topic(strom.bootstrap, "np")
    key_id = register(strom.http, "np-key", KEY)
    value_id = register(strom.http, "np-value", EVENT)
    # Keys by id, values by subject (latest); unions bare (as Strom shows them) or tagged.
    out = produce(strom.http, "np", {"key_schema_id": key_id, "value_subject": "np-value", "records": [
        {"key": {"id": 1}, "value": event(1, "bare")},
        {"key": {"id": 2}, "value": event(2, {"string": "tagged"})},
        {"key": {"id": 3}, "value": event(3)}]})
    assert (out["key_schema_id"], out["value_schema_id"]) == (key_id, value_id), out
    assert [o["offset"] for o in out["offsets"]] == [0, 1, 2], out
    client = SchemaRegistryClient({"url": strom.http})
    values, keys = AvroDeserializer(client), AvroDeserializer(client)
    got = consume(strom.bootstrap, "np", 3)
    assert [(keys(m.key(), SerializationContext("np", MessageField.KEY)),
             values(m.value(), SerializationContext("np", MessageField.VALUE))) for m in got] == [
        ({"id": 1}, {**event(1, "bare"), "raw": b"x"}), ({"id": 2}, {**event(2, "tagged"), "raw": b"x"}),
        ({"id": 3}, {**event(3), "raw": b"x"})]
    # HTTP consume shows both decoded, with their ids; what it shows can be produced again.
    shown = requests.get(f"{strom.http}/v1/topics/np/partitions/0/records", timeout=10).json()["records"]
    assert [(r["key"], r["key_schema_id"], r["value"]["note"], r["value_schema_id"]) for r in shown] == [
        ({"id": 1}, key_id, "bare", value_id), ({"id": 2}, key_id, "tagged", value_id),
        ({"id": 3}, key_id, None, value_id)], shown
    again = produce(strom.http, "np", {"key_schema_id": key_id, "value_schema_id": value_id,
                                       "records": [{"key": r["key"], "value": r["value"]} for r in shown]})
    assert [o["offset"] for o in again["offsets"]] == [3, 4, 5], again
    raw = requests.get(f"{strom.http}/v1/topics/np/partitions/0/records",
                       params={"format": "binary", "limit": 6}, timeout=10).json()["records"]
    assert [r["value_base64"] for r in raw[:3]] == [r["value_base64"] for r in raw[3:]], raw

    # Protobuf by id, JSON Schema by subject and version number.
    create_topic(strom.bootstrap, "np-pb")
    pb_id = register(strom.http, "np-pb-value", ORDER_PROTO, "PROTOBUF")
    produce(strom.http, "np-pb", {"value_schema_id": pb_id, "records": [
        {"key": "k", "value": {"id": "5", "item": "pen"}}, {"value": {"id": 6}}]})
    Order = order_message_class()
    de = ProtobufDeserializer(Order, {"use.deprecated.format": False})
    assert consume_deserialized(strom, "np-pb", de, 2) == [Order(id=5, item="pen"), Order(id=6)]
    create_topic(strom.bootstrap, "np-js")
    register(strom.http, "np-js-value", ORDER_JSON, "JSON")
    produce(strom.http, "np-js", {"value_subject": "np-js-value", "value_subject_version": 1,
                                  "records": [{"value": {"id": 7, "item": "ink"}}]})
    assert consume_deserialized(strom, "np-js", JSONDeserializer(ORDER_JSON), 1) == [{"id": 7, "item": "ink"}]


def test_errors_name_the_record_and_field_and_nothing_is_written(strom):
    create_topic(strom.bootstrap, "np-bad")
    value_id = register(strom.http, "np-bad-value", EVENT)
    ok = {"value": event(1)}
    bad = {"value": {**event(2), "tags": ["t", 3]}}
    r = requests.post(f"{strom.http}/v1/topics/np-bad/records", timeout=10,
                      json={"value_schema_id": value_id, "records": [ok, bad]})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", r.text
    problem = r.json()
    assert problem["error_code"] == 42203, problem
    assert problem["detail"].startswith(f"record 1: value does not convert with schema {value_id} (AVRO): "
                                        "field 'tags.1': expected a string, got a number"), problem
    # JSON Schema: the validator's reason names the property.
    js_id = register(strom.http, "np-bad-js", ORDER_JSON, "JSON")
    body = produce(strom.http, "np-bad", {"value_schema_id": js_id, "records": [{"value": {"item": 1}}]}, 422)
    assert body["detail"].startswith("record 0: value does not convert") and "id" in body["detail"], body
    # A non-text key without a key schema.
    body = produce(strom.http, "np-bad", {"records": [{"key": {"id": 1}, "value": 1}]}, 422)
    assert "key must be a string" in body["detail"], body
    # Unknown schema id, subject, version: 404 with Confluent's codes.
    for naming, code in [({"value_schema_id": 9999}, 40403), ({"value_subject": "nope-value"}, 40401),
                         ({"value_subject": "np-bad-value", "value_subject_version": 7}, 40402)]:
        body = produce(strom.http, "np-bad", {**naming, "records": [ok]}, 404)
        assert body["error_code"] == code, (naming, body)
    body = produce(strom.http, "np-bad", {"value_schema_id": value_id, "value_subject": "np-bad-value",
                                          "records": [ok]}, 422)
    assert "not both" in body["detail"], body
    assert end_offset(strom, "np-bad") == 0


def test_schemas_are_visible_only_through_the_topic(strom_factory, tmp_path):
    from test_http_auth import ADMIN, api_key, start
    s = start(strom_factory, tmp_path)  # with topic "a"
    for topic in ("b",):
        assert requests.post(f"{s.http}/v1/topics", json={"name": topic}, auth=ADMIN).status_code == 201
    a_id = register(s.http, "a-value", EVENT, auth=ADMIN)
    b_id = register(s.http, "b-value", KEY, auth=ADMIN)
    alice = {"Authorization": f"Bearer {api_key(s, 'User:alice')['key']}"}
    acl = {"resource_type": "topic", "resource_name": "b", "principal": "User:alice",
           "operation": "write", "permission": "allow"}
    assert requests.post(f"{s.http}/v1/acls", json={"acls": [acl]}, auth=ADMIN).status_code == 201
    produce(s.http, "b", {"value_schema_id": b_id, "records": [{"value": {"id": 1}}]}, headers=alice)
    produce(s.http, "b", {"value_subject": "b-value", "records": [{"value": {"id": 2}}]}, headers=alice)
    # a's schema, by id or by subject, is as unknown to alice; nothing is written to b.
    body = produce(s.http, "b", {"value_schema_id": a_id, "records": [{"value": event(1)}]}, 404, headers=alice)
    assert body["error_code"] == 40403, body
    body = produce(s.http, "b", {"value_subject": "a-value", "records": [{"value": event(1)}]}, 404,
                   headers=alice)
    assert body["error_code"] == 40401, body
    # And no Write on a.
    produce(s.http, "a", {"value_schema_id": a_id, "records": [{"value": event(1)}]}, 403, headers=alice)
    r = requests.get(f"{s.http}/v1/topics/b/partitions/0/records", auth=ADMIN, timeout=10).json()
    assert [rec["value"] for rec in r["records"]] == [{"id": 1}, {"id": 2}], r


def test_cli_keys_with_a_schema_and_consume_prints_them_decoded(strom, tmp_path):
    create_topic(strom.bootstrap, "cli-keys")
    key_file, value_file = tmp_path / "key.avsc", tmp_path / "event.avsc"
    key_file.write_text(KEY)
    value_file.write_text(EVENT)
    lines = [f'{{"id": {i}}}\t{json.dumps(event(i))}' for i in (1, 2)]
    cli(strom, "produce", "cli-keys", "--key-separator", "\t", "--key-schema", str(key_file),
        "--schema", str(value_file), stdin="\n".join(lines) + "\n")
    key_id = requests.get(f"{strom.http}/subjects/cli-keys-key/versions/latest", timeout=10).json()["id"]
    # A key schema by id, values as plain text.
    cli(strom, "produce", "cli-keys", "--key-separator", "=", "--key-schema", str(key_id),
        stdin='{"id": 3}=plain\n')
    client = SchemaRegistryClient({"url": strom.http})
    got = consume(strom.bootstrap, "cli-keys", 3)
    keys = AvroDeserializer(client)
    assert [keys(m.key(), SerializationContext("cli-keys", MessageField.KEY)) for m in got] == [
        {"id": 1}, {"id": 2}, {"id": 3}]
    assert got[2].value() == b"plain"
    out = cli(strom, "consume", "cli-keys", "--from-beginning", "--format", "json", "--print-key").stdout
    rows = [line.split("\t") for line in out.splitlines()]
    assert [(json.loads(k), json.loads(v)) for k, v in rows[:2]] == [({"id": 1}, event(1)), ({"id": 2}, event(2))]
    assert rows[2][0] == '{"id":3}', rows


USER = ('{"type":"record","name":"User","namespace":"e2e","fields":[{"name":"name","type":"string"},'
        '{"name":"age","type":"int"},{"name":"email","type":["null","string"],"default":null}]}')
PING_PROTO = 'syntax = "proto3";\npackage e2e;\nmessage Ping {\n  int32 n = 1;\n  string s = 2;\n}\n'


def kafkajs_schemas(strom, topic, schema_type, schema_file, values):
    out = subprocess.run(["node", str(NODE_DIR / "kafkajs_schemas.js"), strom.bootstrap, strom.http, topic,
                          schema_type, str(schema_file)], input=json.dumps(values),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_kafkajs_with_the_npm_registry_client(strom, tmp_path):
    """Avro and JSON Schema written by kafkajs with the npm registry client read back by it,
    by confluent-kafka's deserializers and by HTTP consume."""
    users = [{"name": "ann", "age": 30, "email": None}, {"name": "bob", "age": 41, "email": "b@x"}]
    (tmp_path / "user.avsc").write_text(USER)
    create_topic(strom.bootstrap, "js-avro")
    got = kafkajs_schemas(strom, "js-avro", "AVRO", tmp_path / "user.avsc", users)
    assert got["values"] == users, got
    # The same records through confluent-kafka's deserializer and HTTP consume.
    client = SchemaRegistryClient({"url": strom.http})
    assert consume_deserialized(strom, "js-avro", AvroDeserializer(client), 2) == users
    shown = requests.get(f"{strom.http}/v1/topics/js-avro/partitions/0/records", timeout=10).json()["records"]
    assert [(r["value"], r["value_schema_id"]) for r in shown] == [(u, got["id"]) for u in users], shown

    orders = [{"id": 1, "item": "pen"}, {"id": 2}]
    (tmp_path / "order.json").write_text(ORDER_JSON)
    create_topic(strom.bootstrap, "js-json")
    got = kafkajs_schemas(strom, "js-json", "JSON", tmp_path / "order.json", orders)
    assert got["values"] == orders, got
    assert consume_deserialized(strom, "js-json", JSONDeserializer(ORDER_JSON), 2) == orders

    # The npm client writes Protobuf without Confluent's message indexes
    # (kafkajs/confluent-schema-registry#152): it reads its own records back, Confluent's
    # deserializers cannot, and Strom shows why instead of failing the read.
    (tmp_path / "ping.proto").write_text(PING_PROTO)
    create_topic(strom.bootstrap, "js-proto")
    pings = [{"n": 1, "s": "a"}]
    assert kafkajs_schemas(strom, "js-proto", "PROTOBUF", tmp_path / "ping.proto", pings)["values"] == pings
    shown = requests.get(f"{strom.http}/v1/topics/js-proto/partitions/0/records", timeout=10).json()["records"]
    assert "message index" in shown[0]["value_schema_error"], shown


def test_webhooks_deliver_schema_encoded_values_as_json(strom):
    from test_webhooks import subscribe
    from webhook_receiver import Receiver, wait_for
    create_topic(strom.bootstrap, "wh-avro")
    value_id = register(strom.http, "wh-avro-value", USER)
    receiver = Receiver()
    subscribe(strom, receiver, "wh-avro-hook", ["wh-avro"])
    users = [{"name": "ann", "age": 30, "email": None}, {"name": "bob", "age": 41, "email": None}]
    produce(strom.http, "wh-avro", {"value_schema_id": value_id, "records": [{"value": u} for u in users]})
    produce(strom.http, "wh-avro", {"records": [{"value": {"plain": True}}]})
    wait_for(lambda: len(receiver.delivered()) >= 3, what="3 deliveries")
    events = sorted((r.json() for r in receiver.delivered()), key=lambda e: e["stromoffset"])
    assert [e["data"] for e in events] == [*users, {"plain": True}], events
    assert [e.get("dataschema") for e in events] == [f"/schemas/ids/{value_id}"] * 2 + [None], events
    assert all(e["datacontenttype"] == "application/json" for e in events), events
    receiver.close()
