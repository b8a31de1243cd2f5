"""Schema payloads end to end: validation on produce decodes the payload against the
registered schema (Kafka INVALID_RECORD per record, HTTP 422), confluent-kafka's
serializers pass; HTTP consume, feeds and SSE show Avro written by AvroSerializer as JSON
with its schema id; GET /schemas paging; the `strom schema` CLI; the 40901 setting."""

import base64
import json
import subprocess
import threading

import confluent_kafka as ck
import requests
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from conftest import strom_binary
from kafka_support import create_topic
from test_schema_registry import USER_V1, USER_V2, order_message_class

CT = {"Content-Type": "application/vnd.schemaregistry.v1+json"}
ORDER_JSON = """{"$schema":"http://json-schema.org/draft-07/schema#","title":"Order",
  "type":"object","properties":{"id":{"type":"integer"},"item":{"type":"string"}},
  "required":["id"]}"""
CHECKED = {"confluent.value.schema.validation": "true"}


def ctx(topic):
    return SerializationContext(topic, MessageField.VALUE)


def produce_each(strom, topic, values):
    """Produces each value alone; returns the delivery error (or None) of each."""
    p = ck.Producer({"bootstrap.servers": strom.bootstrap, "linger.ms": 0, "retries": 0})
    results = []
    for value in values:
        box = {}
        p.produce(topic, value=value, on_delivery=lambda err, msg, box=box: box.update(err=err))
        assert p.flush(20) == 0
        results.append(box["err"])
    return results


def high_watermark(strom, topic):
    c = ck.Consumer({"bootstrap.servers": strom.bootstrap, "group.id": "hw"})
    try:
        return c.get_watermark_offsets(ck.TopicPartition(topic, 0), timeout=10)[1]
    finally:
        c.close()


def assert_refused(err, *words):
    assert err is not None and err.code() == ck.KafkaError.INVALID_RECORD, err
    for w in words:
        assert w in err.str(), (w, err.str())


def test_kafka_produce_decodes_payloads_of_each_format(strom):
    client = SchemaRegistryClient({"url": strom.http})
    # Avro: serializer output passes; a truncated datum, trailing bytes and junk after a
    # valid prefix are refused; nothing of them is stored.
    create_topic(strom.bootstrap, "avro-in", config=CHECKED)
    good = AvroSerializer(client, USER_V1)({"name": "ann", "age": 7}, ctx("avro-in"))
    prefix = good[:5]
    results = produce_each(strom, "avro-in", [
        good, good[:-1], good + b"\x00", prefix + b"\x08ab", prefix])
    assert results[0] is None
    for err in results[1:]:
        assert_refused(err)
    assert high_watermark(strom, "avro-in") == 1

    # JSON Schema: a value of the wrong type is refused.
    create_topic(strom.bootstrap, "json-in", config=CHECKED)
    good = JSONSerializer(ORDER_JSON, client)({"id": 1, "item": "x"}, ctx("json-in"))
    results = produce_each(strom, "json-in", [
        good, good[:5] + b'{"id":"one"}', good[:5] + b"{not json"])
    assert results[0] is None
    assert_refused(results[1])
    assert_refused(results[2])
    assert high_watermark(strom, "json-in") == 1

    # Protobuf: a length past the end of the message is refused.
    create_topic(strom.bootstrap, "pb-in", config=CHECKED)
    Order = order_message_class()
    ser = ProtobufSerializer(Order, client, {"use.deprecated.format": False})
    good = ser(Order(id=5, item="pen"), ctx("pb-in"))
    results = produce_each(strom, "pb-in", [good, good[:5] + b"\x00\x12\x50ab"])
    assert results[0] is None
    assert_refused(results[1])
    assert high_watermark(strom, "pb-in") == 1

    # Prefix-only validation (strom.schema.validation.decode=false) accepts the bad datum.
    create_topic(strom.bootstrap, "avro-prefix",
                 config={**CHECKED, "strom.schema.validation.decode": "false"})
    client.register_schema("avro-prefix-value", Schema(USER_V1, "AVRO"))
    assert produce_each(strom, "avro-prefix", [prefix + b"\x08ab"]) == [None]


def test_http_produce_refuses_a_payload_that_does_not_decode(strom):
    create_topic(strom.bootstrap, "h-in", config=CHECKED)
    client = SchemaRegistryClient({"url": strom.http})
    good = AvroSerializer(client, USER_V1)({"name": "bo", "age": 3}, ctx("h-in"))
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    url = f"{strom.http}/v1/topics/h-in/records"
    bad = requests.post(url, json={"records": [{"value_base64": b64(good)},
                                               {"value_base64": b64(good[:-2])}]}, timeout=10)
    assert bad.status_code == 422, bad.text
    assert bad.headers["content-type"].startswith("application/problem+json")
    assert "record 1" in bad.json()["detail"] and "does not decode" in bad.json()["detail"]
    assert high_watermark(strom, "h-in") == 0, "all or nothing: the good record is not stored"
    ok = requests.post(url, json={"records": [{"value_base64": b64(good)}]}, timeout=10)
    assert ok.status_code < 300, ok.text
    assert high_watermark(strom, "h-in") == 1


def read_sse(url, n):
    got = []
    with requests.get(url, headers={"accept": "text/event-stream"}, stream=True, timeout=30) as r:
        for line in r.iter_lines(decode_unicode=True):
            if line.startswith("data:"):
                got.append(json.loads(line[5:]))
                if len(got) >= n:
                    break
    return got


def test_avro_reads_as_json_over_http_consume_feeds_and_sse(strom):
    create_topic(strom.bootstrap, "people")
    client = SchemaRegistryClient({"url": strom.http})
    ser = AvroSerializer(client, USER_V2)
    values = [{"name": f"p{i}", "age": i, "email": f"p{i}@x"} for i in range(5)]
    p = ck.Producer({"bootstrap.servers": strom.bootstrap, "linger.ms": 5})
    for v in values:
        p.produce("people", value=ser(v, ctx("people")))
    p.produce("people", value=b'{"plain":true}')
    assert p.flush(20) == 0
    schema_id = client.get_latest_version("people-value").schema_id

    r = requests.get(f"{strom.http}/v1/topics/people/partitions/0/records", timeout=10).json()
    records = r["records"]
    assert [rec["value"] for rec in records[:5]] == values
    assert all(rec["value_schema_id"] == schema_id for rec in records[:5])
    assert records[5]["value"] == {"plain": True} and "value_schema_id" not in records[5]
    raw = requests.get(f"{strom.http}/v1/topics/people/partitions/0/records?format=binary",
                       timeout=10).json()["records"]
    assert "value" not in raw[0] and raw[0]["value_base64"]

    feed = requests.get(f"{strom.http}/feeds/people", timeout=10).json()
    assert [e["data"] for e in feed[:5]] == values
    assert feed[0]["dataschema"] == f"/schemas/ids/{schema_id}"
    assert feed[0]["datacontenttype"] == "application/json"

    events = read_sse(f"{strom.http}/feeds/people", 6)
    assert [e["data"] for e in events[:5]] == values
    assert events[5]["data"] == {"plain": True} and "dataschema" not in events[5]


def test_schemas_listing_paging_and_the_cli(strom, tmp_path):
    def cli(*args, check=True):
        out = subprocess.run([strom_binary(), "schema", *args, "--server", strom.http],
                             capture_output=True, text=True, timeout=60)
        assert not check or out.returncode == 0, out.stderr
        return out

    v1 = tmp_path / "user.avsc"
    v1.write_text(USER_V1)
    first = json.loads(cli("register", "a-value", "--file", str(v1), "--json").stdout)["id"]
    assert f"id {first}" in cli("register", "b-value", "--file", str(v1)).stdout
    v2 = tmp_path / "user2.avsc"
    v2.write_text(USER_V2)
    assert "compatible" in cli("check", "a-value", "--file", str(v2)).stdout
    cli("register", "a-value", "--file", str(v2))
    bad = tmp_path / "bad.avsc"
    bad.write_text(USER_V1.replace('"int"', '"string"'))
    refused = cli("check", "a-value", "--file", str(bad), check=False)
    assert refused.returncode == 1 and "age" in refused.stdout, refused
    listed = cli("list").stdout
    assert "a-value" in listed and "b-value" in listed
    got = json.loads(cli("get", "a-value", "--version", "1", "--json").stdout)
    assert (got["version"], got["id"]) == (1, first)
    assert '"name": "User"' in cli("get", "--id", str(first)).stdout

    every = requests.get(f"{strom.http}/schemas", timeout=10).json()
    assert [(s["subject"], s["version"]) for s in every] == [("a-value", 1), ("a-value", 2), ("b-value", 1)]
    page = requests.get(f"{strom.http}/schemas?offset=1&limit=1", timeout=10).json()
    assert [(s["subject"], s["version"]) for s in page] == [("a-value", 2)]
    latest = requests.get(f"{strom.http}/schemas?latestOnly=true", timeout=10).json()
    assert [(s["subject"], s["version"]) for s in latest] == [("a-value", 2), ("b-value", 1)]
    cli("delete", "b-value")
    assert [s["subject"] for s in requests.get(f"{strom.http}/schemas", timeout=10).json()] == ["a-value"] * 2
    assert len(requests.get(f"{strom.http}/schemas?deleted=true", timeout=10).json()) == 3


def test_incompatible_error_code_is_configurable(strom_factory, tmp_path):
    config = tmp_path / "strom.toml"
    config.write_text("schema_incompatible_error_code = 40901\n")
    strom = strom_factory(extra_args=["--config", str(config)]).start()
    url = f"{strom.http}/subjects/c-value/versions"
    assert requests.post(url, json={"schema": USER_V1}, headers=CT, timeout=10).status_code == 200
    bad = requests.post(url, json={"schema": USER_V1.replace('"int"', '"string"')}, headers=CT,
                        timeout=10)
    assert (bad.status_code, bad.json()["error_code"]) == (409, 40901), bad.text
