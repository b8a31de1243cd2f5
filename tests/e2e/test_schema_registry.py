"""The built-in schema registry against real clients: confluent-kafka's SchemaRegistryClient
with its Avro, JSON Schema and Protobuf serializers producing through the Kafka protocol and
consuming back; Confluent's error codes and two-step deletes over plain HTTP; the registry
surviving SIGKILL."""

import confluent_kafka as ck
import pytest
import requests
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from kafka_support import consume, create_topic

CT = {"Content-Type": "application/vnd.schemaregistry.v1+json"}

USER_V1 = """{"type":"record","name":"User","namespace":"e2e",
  "fields":[{"name":"name","type":"string"},{"name":"age","type":"int"}]}"""
USER_V2 = """{"type":"record","name":"User","namespace":"e2e",
  "fields":[{"name":"name","type":"string"},{"name":"age","type":"int"},
            {"name":"email","type":"string","default":""}]}"""
USER_BAD = """{"type":"record","name":"User","namespace":"e2e",
  "fields":[{"name":"name","type":"string"},{"name":"age","type":"string"}]}"""


def produce_serialized(strom, topic, serializer, values):
    p = ck.Producer({"bootstrap.servers": strom.bootstrap, "linger.ms": 5})
    for v in values:
        p.produce(topic, value=serializer(v, SerializationContext(topic, MessageField.VALUE)))
    assert p.flush(20) == 0


def consume_deserialized(strom, topic, deserializer, n):
    got = consume(strom.bootstrap, topic, n)
    return [deserializer(m.value(), SerializationContext(topic, MessageField.VALUE)) for m in got]


def test_avro_round_trip_evolution_and_state_survives_sigkill(strom_factory):
    strom = strom_factory().start()
    create_topic(strom.bootstrap, "users")
    client = SchemaRegistryClient({"url": strom.http})
    ser = AvroSerializer(client, USER_V1)
    values = [{"name": f"n{i}", "age": i} for i in range(20)]
    produce_serialized(strom, "users", ser, values)
    assert consume_deserialized(strom, "users", AvroDeserializer(client), 20) == values

    v1 = client.get_latest_version("users-value")
    assert v1.version == 1
    # BACKWARD (the default): a field with a default is a compatible change ...
    v2_id = client.register_schema("users-value", Schema(USER_V2, "AVRO"))
    assert v2_id != v1.schema_id
    # ... changing a field's type is not: HTTP 409, and the reason names the field.
    with pytest.raises(SchemaRegistryError) as refused:
        client.register_schema("users-value", Schema(USER_BAD, "AVRO"))
    assert refused.value.http_status_code == 409
    assert "age" in refused.value.error_message
    # The same schema under another subject keeps its global id.
    assert client.register_schema("other-value", Schema(USER_V2, "AVRO")) == v2_id

    strom.kill()
    strom.start()
    fresh = SchemaRegistryClient({"url": strom.http})
    latest = fresh.get_latest_version("users-value")
    assert (latest.version, latest.schema_id) == (2, v2_id)
    assert fresh.get_versions("users-value") == [1, 2]
    assert fresh.get_schema(v1.schema_id).schema_str == v1.schema.schema_str
    # Records written before the crash still decode with a client that knows nothing.
    assert consume_deserialized(strom, "users", AvroDeserializer(fresh), 20) == values
    # New ids continue after the old ones.
    v3 = """{"type":"record","name":"User","namespace":"e2e","fields":[
        {"name":"name","type":"string"},{"name":"age","type":"int"},
        {"name":"email","type":"string","default":""},{"name":"x","type":"int","default":0}]}"""
    assert fresh.register_schema("users-value", Schema(v3, "AVRO")) > v2_id


def test_json_schema_serializer_round_trip(strom):
    create_topic(strom.bootstrap, "orders")
    client = SchemaRegistryClient({"url": strom.http})
    schema = """{"$schema":"http://json-schema.org/draft-07/schema#","title":"Order",
      "type":"object","properties":{"id":{"type":"integer"},"item":{"type":"string"}},
      "required":["id"]}"""
    ser = JSONSerializer(schema, client)
    values = [{"id": i, "item": f"thing {i}"} for i in range(10)]
    produce_serialized(strom, "orders", ser, values)
    assert consume_deserialized(strom, "orders", JSONDeserializer(schema), 10) == values
    registered = client.get_latest_version("orders-value")
    assert registered.schema.schema_type == "JSON"


def order_message_class():
    fd = descriptor_pb2.FileDescriptorProto(name="e2e_order.proto", package="e2e", syntax="proto3")
    msg = fd.message_type.add(name="Order")
    msg.field.add(name="id", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
                  label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    msg.field.add(name="item", number=2, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
                  label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("e2e.Order"))


def test_protobuf_serializer_round_trip_and_text_schema(strom):
    create_topic(strom.bootstrap, "pb")
    client = SchemaRegistryClient({"url": strom.http})
    Order = order_message_class()
    ser = ProtobufSerializer(Order, client, {"use.deprecated.format": False})
    values = [Order(id=i, item=f"x{i}") for i in range(10)]
    produce_serialized(strom, "pb", ser, values)
    de = ProtobufDeserializer(Order, {"use.deprecated.format": False})
    assert consume_deserialized(strom, "pb", de, 10) == values
    # A .proto text schema: reusing field number 2 with another type is refused.
    text = 'syntax = "proto3";\npackage e2e;\nmessage Order {\n  int64 id = 1;\n  int64 item = 2;\n}\n'
    r = requests.post(f"{strom.http}/compatibility/subjects/pb-value/versions/latest?verbose=true",
                      json={"schema": text, "schemaType": "PROTOBUF"}, headers=CT, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["is_compatible"] is False
    assert any("number 2" in m for m in r.json()["messages"]), r.json()


def test_error_codes_two_step_delete_and_unknown_fields_kept(strom):
    base = strom.http

    def call(method, path, **kw):
        r = requests.request(method, base + path, headers=CT, timeout=10, **kw)
        assert r.headers["content-type"].startswith("application/vnd.schemaregistry.v1+json"), r.headers
        return r

    assert call("GET", "/subjects/nope/versions").json()["error_code"] == 40401
    assert call("GET", "/schemas/ids/999").json()["error_code"] == 40403
    bad = call("POST", "/subjects/t-value/versions", json={"schema": "{not avro"})
    assert (bad.status_code, bad.json()["error_code"]) == (422, 42201)
    body = {"schema": USER_V1, "metadata": {"properties": {"owner": "team-a"}},
            "ruleSet": {"domainRules": []}}
    first = call("POST", "/subjects/t-value/versions", json=body).json()["id"]
    got = call("GET", "/subjects/t-value/versions/latest").json()
    assert got["metadata"] == {"properties": {"owner": "team-a"}} and got["id"] == first
    assert call("GET", "/subjects/t-value/versions/7").json()["error_code"] == 40402
    assert call("GET", "/subjects/t-value/versions/abc").json()["error_code"] == 42202
    assert call("PUT", "/config", json={"compatibility": "SIDEWAYS"}).json()["error_code"] == 42203
    assert call("PUT", "/config/t-value", json={"compatibility": "full"}).json() == {"compatibility": "FULL"}
    assert call("GET", "/config/t-value").json() == {"compatibilityLevel": "FULL"}
    assert call("GET", "/config").json() == {"compatibilityLevel": "BACKWARD"}
    assert call("GET", "/config/other").json()["error_code"] == 40408
    assert sorted(call("GET", "/schemas/types").json()) == ["AVRO", "JSON", "PROTOBUF"]
    # Two-step delete: permanent first is refused, soft then permanent works.
    assert call("DELETE", "/subjects/t-value?permanent=true").json()["error_code"] == 40405
    assert call("DELETE", "/subjects/t-value").json() == [1]
    assert call("GET", "/subjects").json() == []
    assert call("GET", "/subjects?deleted=true").json() == ["t-value"]
    assert call("DELETE", "/subjects/t-value").json()["error_code"] == 40404
    assert call("GET", f"/schemas/ids/{first}").status_code == 200
    assert call("DELETE", "/subjects/t-value?permanent=true").json() == [1]
    assert call("GET", f"/schemas/ids/{first}").json()["error_code"] == 40403
    # Read-only mode refuses registration.
    assert call("PUT", "/mode", json={"mode": "READONLY"}).json() == {"mode": "READONLY"}
    refused = call("POST", "/subjects/t-value/versions", json={"schema": USER_V1})
    assert (refused.status_code, refused.json()["error_code"]) == (422, 42205)


def test_validation_on_produce_refuses_records_without_a_registered_schema_id(strom):
    create_topic(strom.bootstrap, "checked", config={"confluent.value.schema.validation": "true"})
    client = SchemaRegistryClient({"url": strom.http})
    ser = AvroSerializer(client, USER_V1)
    good = ser({"name": "a", "age": 1}, SerializationContext("checked", MessageField.VALUE))
    other_id = client.register_schema("elsewhere-value", Schema(USER_V2, "AVRO"))
    wrong_id = b"\x00" + other_id.to_bytes(4, "big") + good[5:]
    results = {}

    def report(name):
        def cb(err, msg):
            results[name] = err
        return cb

    p = ck.Producer({"bootstrap.servers": strom.bootstrap, "linger.ms": 0, "retries": 0})
    for name, value in [("good", good), ("junk", b"not avro at all"), ("wrong-subject", wrong_id)]:
        p.produce("checked", value=value, on_delivery=report(name))
        p.flush(20)
    assert results["good"] is None
    for name in ("junk", "wrong-subject"):
        err = results[name]
        assert err is not None and err.code() == ck.KafkaError.INVALID_RECORD, (name, err)
    # Only the valid record was stored.
    got = consume(strom.bootstrap, "checked", 1)
    assert got[0].value() == good
    end = ck.Consumer({"bootstrap.servers": strom.bootstrap, "group.id": "x"})
    try:
        low, high = end.get_watermark_offsets(ck.TopicPartition("checked", 0), timeout=10)
        assert (low, high) == (0, 1)
    finally:
        end.close()
