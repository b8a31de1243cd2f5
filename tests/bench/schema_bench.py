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
Not part of the default test run: it starts its own server on ephemeral ports.
"""

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import confluent_kafka as ck
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
    for i in range(min(n, 1000)):
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


def geomean(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--passes", type=int, default=4)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        strom = Strom(Path(tmp) / "data").start()
        try:
            admin = AdminClient({"bootstrap.servers": strom.bootstrap})
            for f in admin.create_topics([NewTopic(t, 1, 1, config=c) for t, c in TOPICS.items()]).values():
                f.result(30)
            values = payloads(SchemaRegistryClient({"url": strom.http}), args.records)
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
        finally:
            strom.stop()


if __name__ == "__main__":
    main()
