"""Schema-encoded keys read decoded, and Protobuf `normalize`, end to end.

Keys written by confluent-kafka's AvroSerializer (a string schema and a record schema) show
decoded in the feed's and SSE's CloudEvent `subject`, REST consume's `key` and a webhook's
`subject` (a string as itself, a record as compact JSON text); `format=binary` keeps the
stored bytes. Protobuf files registered with `normalize_schemas=True` by confluent-kafka's
SchemaRegistryClient: equivalent files (layout, comments, import and option order, type
names) get one id and the canonical text; a real change gets a new id; the
ProtobufSerializer with `normalize.schemas` round-trips through it."""

import json
import time

import confluent_kafka as ck
import requests
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from kafka_support import create_topic
from test_schema_payloads import read_sse
from test_schema_registry import order_message_class

KEY_RECORD = """{"type":"record","name":"CustomerKey","namespace":"e2e","fields":[
  {"name":"id","type":"long"},{"name":"region","type":"string"}]}"""


def produce_keyed(strom, topic, key_ser, keys):
    p = ck.Producer({"bootstrap.servers": strom.bootstrap, "linger.ms": 5})
    kctx = SerializationContext(topic, MessageField.KEY)
    for i, k in enumerate(keys):
        p.produce(topic, key=key_ser(k, kctx), value=json.dumps({"n": i}).encode())
    assert p.flush(20) == 0


def test_schema_encoded_keys_read_decoded_in_feeds_sse_consume_and_webhooks(strom):
    from test_webhooks import subscribe
    from webhook_receiver import Receiver, wait_for
    client = SchemaRegistryClient({"url": strom.http})
    text_keys = ["user-1", "user-2"]
    record_keys = [{"id": 7, "region": "eu"}, {"id": 8, "region": "us"}]
    create_topic(strom.bootstrap, "keys-text")
    create_topic(strom.bootstrap, "keys-rec")
    produce_keyed(strom, "keys-text", AvroSerializer(client, '"string"'), text_keys)
    produce_keyed(strom, "keys-rec", AvroSerializer(client, KEY_RECORD), record_keys)

    feed = requests.get(f"{strom.http}/feeds/keys-text", timeout=10).json()
    assert [e["subject"] for e in feed] == text_keys, feed
    feed = requests.get(f"{strom.http}/feeds/keys-rec", timeout=10).json()
    assert [json.loads(e["subject"]) for e in feed] == record_keys, feed
    assert "\n" not in feed[0]["subject"] and ": " not in feed[0]["subject"], "compact JSON"
    events = read_sse(f"{strom.http}/feeds/keys-rec", 2)
    assert [json.loads(e["subject"]) for e in events] == record_keys, events
    events = read_sse(f"{strom.http}/feeds/keys-text", 2)
    assert [e["subject"] for e in events] == text_keys, events

    url = f"{strom.http}/v1/topics/keys-rec/partitions/0/records"
    records = requests.get(url, timeout=10).json()["records"]
    assert [r["key"] for r in records] == record_keys, records
    raw = requests.get(url + "?format=binary", timeout=10).json()["records"]
    assert all(r.get("key") != k for r, k in zip(raw, record_keys)), raw
    assert "key_schema_id" not in raw[0], raw

    receiver = Receiver()
    subscribe(strom, receiver, "keys-hook", ["keys-text", "keys-rec"])
    wait_for(lambda: len(receiver.delivered()) >= 4, what="4 deliveries")
    subjects = {}
    for d in receiver.delivered():
        e = d.json()
        subjects.setdefault(e["stromtopic"], []).append((e["stromoffset"], e["subject"]))
    assert [s for _, s in sorted(subjects["keys-text"])] == text_keys, subjects
    assert [json.loads(s) for _, s in sorted(subjects["keys-rec"])] == record_keys, subjects
    receiver.close()


PROTO_A = """syntax = "proto3";
package e2e.norm;
import "google/protobuf/timestamp.proto";
import "google/protobuf/duration.proto";
option java_package = "dev.strom.e2e";
option go_package = "strom/e2e";
message Visit {
  string page = 1;
  google.protobuf.Timestamp at = 2;
  google.protobuf.Duration spent = 3;
}
"""

# The same file: comments, layout, import and option order, fully qualified type names.
PROTO_B = """// visits
syntax="proto3"; package e2e.norm;
import "google/protobuf/duration.proto";  import "google/protobuf/timestamp.proto";
option go_package="strom/e2e"; option java_package="dev.strom.e2e";
/* one visit */ message Visit { string page=1; .google.protobuf.Timestamp at=2;
  .google.protobuf.Duration spent=3; }
"""


def test_protobuf_normalize_gives_equivalent_files_one_id_and_canonical_text(strom):
    client = SchemaRegistryClient({"url": strom.http})
    a = client.register_schema("norm-a", Schema(PROTO_A, "PROTOBUF"), normalize_schemas=True)
    b = client.register_schema("norm-b", Schema(PROTO_B, "PROTOBUF"), normalize_schemas=True)
    assert a == b
    text = client.get_schema(a).schema_str
    assert text.index("duration.proto") < text.index("timestamp.proto"), text
    assert ".google.protobuf.Timestamp at = 2;" in text, text
    assert "//" not in text and text != PROTO_A, text
    found = client.lookup_schema("norm-b", Schema(PROTO_A, "PROTOBUF"), normalize_schemas=True)
    assert found.schema_id == a and found.version == 1
    changed = PROTO_A.replace("string page = 1;", "bytes page = 1;")
    c = client.register_schema("norm-c", Schema(changed, "PROTOBUF"), normalize_schemas=True)
    assert c != a
    # Without normalize the text is kept as written (and an equivalent file finds its id).
    d = client.register_schema("norm-d", Schema(PROTO_B, "PROTOBUF"))
    assert d == a and client.get_schema(a).schema_str == text

    # The serializer normalizing what it registers (a FileDescriptorProto from Python).
    create_topic(strom.bootstrap, "norm-pb")
    Order = order_message_class()
    ser = ProtobufSerializer(Order, client, {"use.deprecated.format": False, "normalize.schemas": True})
    p = ck.Producer({"bootstrap.servers": strom.bootstrap})
    vctx = SerializationContext("norm-pb", MessageField.VALUE)
    values = [Order(id=i, item=f"x{i}") for i in range(1, 4)]
    for v in values:
        p.produce("norm-pb", value=ser(v, vctx))
    assert p.flush(20) == 0
    registered = client.get_latest_version("norm-pb-value").schema.schema_str
    assert "message Order {" in registered and "int64 id = 1;" in registered, registered
    de = ProtobufDeserializer(Order, {"use.deprecated.format": False})
    c = ck.Consumer({"bootstrap.servers": strom.bootstrap, "group.id": "norm",
                     "auto.offset.reset": "earliest"})
    c.subscribe(["norm-pb"])
    got, deadline = [], time.monotonic() + 60
    try:
        while len(got) < 3 and time.monotonic() < deadline:
            m = c.poll(1)
            if m is not None:
                assert m.error() is None, m.error()
                got.append(de(m.value(), vctx))
    finally:
        c.close()
    assert got == values
    shown = requests.get(f"{strom.http}/v1/topics/norm-pb/partitions/0/records", timeout=10).json()
    assert [r["value"] for r in shown["records"]] == [{"id": str(i), "item": f"x{i}"} for i in range(1, 4)]
