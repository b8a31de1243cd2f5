#!/usr/bin/env python3
"""TLS against plaintext on the same Strom server, in the same run.

    cargo build --release -p strom && python3 tests/bench/tls_bench.py [--mib 64] [--passes 2]

One server with a PLAINTEXT listener and an SSL listener (certificates from
tests/e2e/tls_support.py, ECDSA P-256; TLS 1.3 negotiated). Per pass, for each listener
(order alternating between passes): confluent-kafka produces `--mib` MiB of 1 KiB records
(linger 5 ms, 1 MiB batches, acks=1) and then consumes them from the beginning. Printed:
MB/s per side and phase, the server's CPU seconds (from /proc), and the ratio TLS /
plaintext (median over passes).

Connection set-up: `--connections` sequential connections that each complete one Kafka
ApiVersions round trip: plain TCP, TLS (server certificate verified), and mTLS (client
certificate too). Printed: milliseconds per connection and the ratio to plain TCP.
Not part of the test run: it starts its own server on ephemeral ports.
"""

import argparse
import os
import socket
import ssl
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

from confluent_kafka import Consumer, Producer

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))
from tls_support import Pki, start_tls_server  # noqa: E402

RECORD = os.urandom(1024)
API_VERSIONS = struct.pack(">ihhih", 10, 18, 0, 1, -1)  # size, api key, version, id, no client id


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def produce(conf, topic, count):
    producer = Producer({**conf, "linger.ms": 5, "batch.size": 1 << 20, "acks": 1,
                         "queue.buffering.max.kbytes": 1 << 20})
    start = time.monotonic()
    for _ in range(count):
        while True:
            try:
                producer.produce(topic, RECORD)
                break
            except BufferError:
                producer.poll(0.01)
    assert producer.flush(120) == 0
    return time.monotonic() - start


def consume(conf, topic, count):
    consumer = Consumer({**conf, "group.id": f"bench-{topic}", "auto.offset.reset": "earliest",
                         "enable.auto.commit": False, "fetch.queue.backoff.ms": 1})
    consumer.subscribe([topic])
    got, start = 0, time.monotonic()
    while got < count:
        for msg in consumer.consume(10000, 1.0):
            if msg.error() is None:
                got += 1
        assert time.monotonic() - start < 300, f"consumed {got} of {count}"
    elapsed = time.monotonic() - start
    consumer.close()
    return elapsed


def connect_cost(port, context, n):
    start = time.monotonic()
    for _ in range(n):
        with socket.create_connection(("127.0.0.1", port)) as raw:
            sock = context.wrap_socket(raw, server_hostname="localhost") if context else raw
            sock.sendall(API_VERSIONS)
            header = b""
            while len(header) < 4:
                header += sock.recv(4 - len(header))
            size = struct.unpack(">i", header)[0]
            while size > 0:
                size -= len(sock.recv(size))
            if context:
                sock.close()
    return (time.monotonic() - start) / n * 1000


def main():
    args = argparse.ArgumentParser()
    args.add_argument("--mib", type=int, default=64)
    args.add_argument("--passes", type=int, default=2)
    args.add_argument("--connections", type=int, default=300)
    opts = args.parse_args()
    count = opts.mib * 1024
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pki = Pki(tmp / "pki")
        server = start_tls_server(tmp, pki, log="warn")
        try:
            sides = {
                "plaintext": {"bootstrap.servers": server.bootstrap},
                "tls": {"bootstrap.servers": f"localhost:{server.ssl_port}",
                        "security.protocol": "SSL", "ssl.ca.location": str(pki.ca)},
            }
            results = {side: {"produce": [], "consume": [], "cpu_p": [], "cpu_c": []}
                       for side in sides}
            for p in range(opts.passes):
                order = list(sides) if p % 2 == 0 else list(reversed(sides))
                for side in order:
                    topic = f"{side}-{p}"
                    cpu0 = cpu_seconds(server.proc.pid)
                    t = produce(sides[side], topic, count)
                    cpu1 = cpu_seconds(server.proc.pid)
                    c = consume(sides[side], topic, count)
                    cpu2 = cpu_seconds(server.proc.pid)
                    r = results[side]
                    r["produce"].append(opts.mib * 1.048576 / t)
                    r["consume"].append(opts.mib * 1.048576 / c)
                    r["cpu_p"].append(cpu1 - cpu0)
                    r["cpu_c"].append(cpu2 - cpu1)
                    print(f"pass {p} {side:9}: produce {r['produce'][-1]:7.1f} MB/s "
                          f"(server CPU {cpu1 - cpu0:.2f} s), consume {r['consume'][-1]:7.1f} "
                          f"MB/s (server CPU {cpu2 - cpu1:.2f} s)", flush=True)
            med = {s: {k: statistics.median(v) for k, v in r.items()} for s, r in results.items()}
            for phase, cpu in (("produce", "cpu_p"), ("consume", "cpu_c")):
                p, t = med["plaintext"], med["tls"]
                print(f"{phase}: plaintext {p[phase]:.1f} MB/s, tls {t[phase]:.1f} MB/s, "
                      f"ratio tls/plaintext {t[phase] / p[phase]:.2f}; server CPU "
                      f"plaintext {p[cpu]:.2f} s, tls {t[cpu]:.2f} s, ratio "
                      f"{t[cpu] / max(p[cpu], 0.01):.2f}")
            alice = pki.leaf("alice", O="Org", OU="svc", CN="alice")
            tls = ssl.create_default_context(cafile=str(pki.ca))
            mtls = ssl.create_default_context(cafile=str(pki.ca))
            mtls.load_cert_chain(str(alice[0]), str(alice[1]))
            n = opts.connections
            plain_ms = connect_cost(server.kafka_port, None, n)
            tls_ms = connect_cost(server.ssl_port, tls, n)
            mtls_ms = connect_cost(server.mtls_port, mtls, n)
            print(f"connection + ApiVersions ({n} sequential): plain {plain_ms:.2f} ms, "
                  f"TLS {tls_ms:.2f} ms ({tls_ms / plain_ms:.1f}x), "
                  f"mTLS {mtls_ms:.2f} ms ({mtls_ms / plain_ms:.1f}x)")
        finally:
            server.stop()


if __name__ == "__main__":
    main()
