#!/usr/bin/env python3
"""Produce throughput with schema validation off, prefix-only and full payload decoding, in
one run against one server.

    cargo build --release -p strom && python3 tests/bench/schema_bench.py [--records 200000] [--passes 4]

Three topics of one partition: `off` (no validation), `prefix`
(`confluent.value.schema.validation=true`, `strom.schema.validation.decode=false`: only the
magic byte and the schema id are checked) and `full` (the payload is decoded against the Avro
schema). The same Avro records (AvroSerializer output, a record of 8 fields, about 100 bytes)
are produced to each with confluent-kafka (librdkafka: linger 5 ms, batches up to 1 MiB,
acks=1), the topics in a rotated order per pass. Per phase: records/s and the server's CPU
time (from /proc), so the cost of validation shows even when the client is the limit.
Printed: medians, and the ratios prefix/off and full/off of throughput and of server CPU
per record (geometric means of the per-pass ratios).
Then the REST Proxy: the same records produced as JSON through `POST /topics/{t}` in the
`avro` embedded format (`value_schema_id`: the server converts JSON to Avro binary) against
the same Avro bytes sent base64 in the `binary` format, 500 records a request, one client
thread; printed: records/s of each and the ratio avro/binary (`--rest-records`, 0 skips it).
Then Strom's own produce API, `POST /v1/topics/{t}/records`: the same records as JSON with
`value_schema_id` (the server converts them to Avro and frames them) against the same Avro
bytes in `value_base64`, 500 records a request (bodies encoded once, so the client's JSON
encoding is not measured), one client thread, order alternated per pass;
printed the same way (`--native-records`, 0 skips it; `--records 0` skips the Kafka phases).
Then (`--feed-records N`, 0 skips it) the schema-aware readers: the same N records produced
once as Avro (AvroSerializer, the registered schema) to `feed-avro` and once as the
equivalent compact JSON to `feed-json`, then each read whole through the HTTP feed
(`GET /feeds/{t}`, 1,000 events a request) and through SSE (`Accept: text/event-stream`),
with the decoding on, topics alternated per pass; every read uses its own `limit` (1000 - k)
so the server's feed cache never answers from an earlier pass. Printed: records/s and server
CPU µs per record of each, and the ratios Avro/JSON (geometric means of the per-pass ratios).
Not part of the default test run: it starts its own server on ephemeral ports.
"""

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import base64

import confluent_kafka as ck
import requests
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))
from conftest import Strom  # noqa: E402  (the e2e harness: starts the real binary)

SCHEMA = """{"type":"record","name":"Reading","namespace":"bench","fields":[
  {"name":"sensor","type":"string"},{"name":"site","type":"string"},
  {"name":"seq","type":"long"},{"name":"at","type":"long"},
  {"name":"value","type":"double"},{"name":"ok","type":"boolean"},
  {"name":"unit","type":{"type":"enum","name":"Unit","symbols":["C","F","K"]}},
  {"name":"tags","type":{"type":"array","items":"string"}}]}"""
TOPICS = {
    "off": {},
    "prefix": {"confluent.value.schema.validation": "true", "strom.schema.validation.decode": "false"},
    "full": {"confluent.value.schema.validation": "true"},
}


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def payloads(client, n):
    ser = AvroSerializer(client, SCHEMA)
    out = []
    for name in TOPICS:
        # Registers the schema under every topic's subject (one id, shared).
        ser({"sensor": "s", "site": "x", "seq": 0, "at": 0, "value": 0.0, "ok": True,
             "unit": "C", "tags": []}, SerializationContext(name, MessageField.VALUE))
    ctx = SerializationContext("full", MessageField.VALUE)
    for i in range(1000):
        out.append(ser({"sensor": f"sensor-{i % 97}", "site": "north-hall", "seq": i,
                        "at": 1_700_000_000_000 + i, "value": i * 0.25, "ok": i % 3 != 0,
                        "unit": "CFK"[i % 3], "tags": ["a", f"t{i % 7}"]}, ctx))
    return out


def produce(bootstrap, topic, values, n):
    p = ck.Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "batch.size": 1 << 20,
                     "acks": 1, "queue.buffering.max.messages": 1_000_000})
    failed = []
    cb = lambda err, msg: err is not None and failed.append(err)  # noqa: E731
    for i in range(n):
        while True:
            try:
                p.produce(topic, value=values[i % len(values)], on_delivery=cb)
                break
            except BufferError:
                p.poll(0.01)
        if i % 10000 == 0:
            p.poll(0)
    assert p.flush(120) == 0
    assert not failed, failed[:3]


def rest_phase(http, topic, fmt, records, n):
    """Records/s of producing n records through the REST Proxy, 500 a request."""
    session = requests.Session()
    headers = {"content-type": f"application/vnd.kafka.{fmt}.v2+json"}
    start = time.perf_counter()
    for i in range(0, n, 500):
        body = {**records[1], "records": records[0][: min(500, n - i)]}
        r = session.post(f"{http}/topics/{topic}", json=body, headers=headers, timeout=60)
        assert r.status_code == 200, r.text
    return n / (time.perf_counter() - start)


def rest_bench(strom, values, n, passes):
    """The REST Proxy avro format (JSON converted by the server) against binary (the same
    Avro bytes, base64)."""
    client = SchemaRegistryClient({"url": strom.http})
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    de = AvroDeserializer(client)
    ctx = SerializationContext("full", MessageField.VALUE)
    as_json = [de(v, ctx) for v in values[:500]]
    schema_id = int.from_bytes(values[0][1:5], "big")
    avro = ([{"value": v} for v in as_json], {"value_schema_id": schema_id})
    binary = ([{"value": base64.b64encode(v).decode()} for v in values[:500]], {})
    rates = {"binary": [], "avro": []}
    for i in range(passes):
        for fmt, records in (("binary", binary), ("avro", avro))[:: 1 if i % 2 == 0 else -1]:
            rates[fmt].append(rest_phase(strom.http, f"rest-{fmt}", fmt, records, n))
    print(f"REST Proxy, {n} records per phase: binary {statistics.median(rates['binary']):.0f}/s, "
          f"avro (JSON converted) {statistics.median(rates['avro']):.0f}/s, ratio avro/binary "
          f"{geomean([a / b for a, b in zip(rates['avro'], rates['binary'])]):.2f}")


def native_phase(http, topic, body, n):
    """Records/s of producing n records through `POST /v1/topics/{t}/records`, 500 a request."""
    session = requests.Session()
    # Bodies encoded once: the client's JSON encoding is not what is measured.
    full = json.dumps(body).encode()
    last = json.dumps({**body, "records": body["records"][: n % 500]}).encode()
    headers = {"content-type": "application/json"}
    start = time.perf_counter()
    for i in range(0, n, 500):
        data = full if n - i >= 500 else last
        r = session.post(f"{http}/v1/topics/{topic}/records", data=data, headers=headers, timeout=60)
        assert r.status_code == 200, r.text
    return n / (time.perf_counter() - start)


def native_bench(strom, values, n, passes):
    """Strom's produce API: JSON encoded by the server with `value_schema_id` against the
    same Avro bytes in `value_base64`."""
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    de = AvroDeserializer(SchemaRegistryClient({"url": strom.http}))
    ctx = SerializationContext("full", MessageField.VALUE)
    schema_id = int.from_bytes(values[0][1:5], "big")
    bodies = {
        "avro": {"value_schema_id": schema_id, "records": [{"value": de(v, ctx)} for v in values[:500]]},
        "binary": {"records": [{"value_base64": base64.b64encode(v).decode()} for v in values[:500]]},
    }
    rates = {"binary": [], "avro": []}
    for i in range(passes):
        for fmt in ("binary", "avro")[:: 1 if i % 2 == 0 else -1]:
            rates[fmt].append(native_phase(strom.http, f"native-{fmt}", bodies[fmt], n))
    print(f"/v1/topics/{{t}}/records, {n} records per phase: binary {statistics.median(rates['binary']):.0f}/s, "
          f"avro (JSON encoded) {statistics.median(rates['avro']):.0f}/s, ratio avro/binary "
          f"{geomean([a / b for a, b in zip(rates['avro'], rates['binary'])]):.2f}")


def feed_read(http, topic, n, limit):
    """Reads n events of `topic` through `GET /feeds/{t}`; the client only counts them and
    takes the last id (no JSON parsing, so the server's rendering is what is measured)."""
    session = requests.Session()
    cursor, seen = None, 0
    while seen < n:
        params = {"limit": limit, **({"lastEventId": cursor} if cursor else {})}
        r = session.get(f"{http}/feeds/{topic}", params=params, timeout=60)
        assert r.status_code == 200, r.text[:300]
        body = r.content
        count = body.count(b'"specversion"')
        assert count > 0, body[:300]
        at = body.rindex(b'"id":"') + 6
        cursor = body[at:body.index(b'"', at)].decode()
        seen += count
    assert seen == n, (seen, n)


def sse_read(http, topic, n, limit):
    """Reads n events of `topic` through SSE, counting frames (`\n\n`) as they arrive."""
    with requests.get(f"{http}/feeds/{topic}", params={"limit": limit},
                      headers={"accept": "text/event-stream"}, stream=True, timeout=60) as r:
        assert r.status_code == 200, r.text[:300]
        seen, tail = 0, b""
        for chunk in r.iter_content(1 << 16):
            seen += (tail + chunk).count(b"\n\n")
            tail = chunk[-1:]
            if seen >= n:
                break
    assert seen == n, (seen, n)


def feed_bench(strom, values, n, passes):
    """Avro-encoded records read decoded through the feed and SSE against the same records
    stored as JSON."""
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    de = AvroDeserializer(SchemaRegistryClient({"url": strom.http}))
    ctx = SerializationContext("full", MessageField.VALUE)
    as_json = [json.dumps(de(v, ctx), separators=(",", ":")).encode() for v in values]
    print(f"feed records: Avro {statistics.mean(len(v) for v in values):.0f} bytes, "
          f"JSON {statistics.mean(len(v) for v in as_json):.0f} bytes")
    for topic, vals in (("feed-avro", values), ("feed-json", as_json)):
        produce(strom.bootstrap, topic, vals, n)
    rates = {(k, f): [] for k in ("feed", "sse") for f in ("avro", "json")}
    cpu = {key: [] for key in rates}
    limit = 1000
    for i in range(passes):
        for kind, read in (("feed", feed_read), ("sse", sse_read)):
            for fmt in ("avro", "json")[:: 1 if i % 2 == 0 else -1]:
                c0, t0 = cpu_seconds(strom.proc.pid), time.perf_counter()
                read(strom.http, f"feed-{fmt}", n, limit)
                t1, c1 = time.perf_counter(), cpu_seconds(strom.proc.pid)
                rates[(kind, fmt)].append(n / (t1 - t0))
                cpu[(kind, fmt)].append((c1 - c0) * 1e6 / n)
                limit -= 1
    print(f"{n} records per read, {passes} passes, load average {os.getloadavg()[0]:.1f}")
    print(f"{'reader':<6} {'format':<6} {'records/s':>10} {'server CPU us/record':>21}")
    for (kind, fmt), r in rates.items():
        print(f"{kind:<6} {fmt:<6} {statistics.median(r):>10.0f} {statistics.median(cpu[(kind, fmt)]):>21.2f}")
    for kind in ("feed", "sse"):
        thr = geomean([a / b for a, b in zip(rates[(kind, "avro")], rates[(kind, "json")])])
        per = geomean([a / b for a, b in zip(cpu[(kind, "avro")], cpu[(kind, "json")]) if b > 0])
        print(f"{kind} avro/json: throughput ratio {thr:.2f}, server CPU per record ratio {per:.2f}")


def geomean(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--passes", type=int, default=4)
    ap.add_argument("--rest-records", type=int, default=50_000)
    ap.add_argument("--native-records", type=int, default=50_000)
    ap.add_argument("--feed-records", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        strom = Strom(Path(tmp) / "data").start()
        try:
            admin = AdminClient({"bootstrap.servers": strom.bootstrap})
            for f in admin.create_topics([NewTopic(t, 1, 1, config=c) for t, c in TOPICS.items()]).values():
                f.result(30)
            values = payloads(SchemaRegistryClient({"url": strom.http}), args.records)
            if args.records > 0:
                size = statistics.mean(len(v) for v in values)
                rates = {t: [] for t in TOPICS}
                cpu = {t: [] for t in TOPICS}
                names = list(TOPICS)
                for i in range(args.passes):
                    for topic in names[i % 3:] + names[:i % 3]:
                        c0, t0 = cpu_seconds(strom.proc.pid), time.perf_counter()
                        produce(strom.bootstrap, topic, values, args.records)
                        t1, c1 = time.perf_counter(), cpu_seconds(strom.proc.pid)
                        rates[topic].append(args.records / (t1 - t0))
                        cpu[topic].append((c1 - c0) * 1e6 / args.records)
                print(f"{args.records} records of {size:.0f} bytes per phase, {args.passes} passes, "
                      f"load average {os.getloadavg()[0]:.1f}")
                print(f"{'validation':<10} {'records/s':>10} {'server CPU us/record':>21}")
                for t in TOPICS:
                    print(f"{t:<10} {statistics.median(rates[t]):>10.0f} {statistics.median(cpu[t]):>21.2f}")
                for t in ("prefix", "full"):
                    thr = geomean([a / b for a, b in zip(rates[t], rates["off"])])
                    per = geomean([a / b for a, b in zip(cpu[t], cpu["off"]) if b > 0])
                    print(f"{t}/off: throughput ratio {thr:.2f}, server CPU per record ratio {per:.2f}")
            if args.rest_records > 0:
                for f in admin.create_topics([NewTopic(f"rest-{t}", 1, 1) for t in ("binary", "avro")]).values():
                    f.result(30)
                rest_bench(strom, values, args.rest_records, args.passes)
            if args.native_records > 0:
                for f in admin.create_topics([NewTopic(f"native-{t}", 1, 1) for t in ("binary", "avro")]).values():
                    f.result(30)
                native_bench(strom, values, args.native_records, args.passes)
            if args.feed_records > 0:
                for f in admin.create_topics([NewTopic(f"feed-{t}", 1, 1) for t in ("avro", "json")]).values():
                    f.result(30)
                feed_bench(strom, values, args.feed_records, args.passes)
        finally:
            strom.stop()


if __name__ == "__main__":
    main()
