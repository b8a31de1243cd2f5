#!/usr/bin/env python3
"""What security costs, in one run against one server: throughput of TLS and SCRAM against
plaintext, and the connection set-up cost of every mechanism with and without TLS.

    cargo build --release -p strom && \
        STROM_BIN=target/release/strom python3 tests/bench/security_bench.py [--mib 64] [--rounds 4]

One server with five Kafka listeners: PLAINTEXT, SSL, SSL with client certificates required
(mTLS), SASL_PLAINTEXT and SASL_SSL (certificates from tests/e2e/tls_support.py, ECDSA P-256;
TLS 1.3 negotiated; `[oauth]` with an RS256 JWKS; SCRAM credentials of 4096 iterations).

Throughput: per round, each of the four sides (plaintext, TLS, SCRAM-SHA-512 over plaintext,
SCRAM-SHA-512 over TLS) produces `--mib` MiB of 1 KiB records with confluent-kafka (linger
5 ms, 1 MiB batches, acks=1) into its own topic and then consumes them from the beginning.
The order is ABBA: forward in even rounds, reversed in odd ones, so drift in the machine's
load (other builds) hits every side alike. Printed: MB/s per side and phase (median and
min-max over rounds), the server's CPU seconds (from /proc), and the ratio of medians to
plaintext.

Connection set-up: `--connections` sequential connections per mechanism, each opened,
authenticated and used for one ApiVersions round trip, then closed, from raw sockets (the
SASL exchanges from tests/bench/bench_connections.py): PLAINTEXT, TLS, mTLS, SASL PLAIN,
SCRAM-SHA-256, SCRAM-SHA-512 and OAUTHBEARER, the SASL ones over SASL_PLAINTEXT and SASL_SSL.
ABBA order too. The client's own work (TLS handshake and PBKDF2 in Python) is part of the
milliseconds per connection; the server CPU column is the server's alone.

The machine this runs on in development has 2 cores shared with other engineers' builds:
say so next to any figure, and trust ratios from one run over absolute numbers.
Not part of the test run: it starts its own server on ephemeral ports.
"""

import argparse
import base64
import json
import os
import socket
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path

import jwt
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import (
    AdminClient, ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion,
)
from cryptography.hazmat.primitives.asymmetric import rsa

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))
sys.path.insert(0, str(HERE))
from bench_connections import Conn, cpu_seconds, scram  # noqa: E402
from conftest import Strom, free_port, wait_for_port  # noqa: E402
from tls_support import MAPPING_RULES, Pki  # noqa: E402

PASSWORD = "bench-pw"
RECORD = os.urandom(1024)
SIDES = ["plaintext", "tls", "scram512", "scram512+tls"]


def b64(v):
    return base64.urlsafe_b64encode(v.to_bytes((v.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()


def start_server(tmp, pki):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    n = key.public_key().public_numbers()
    jwks = tmp / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{"kty": "RSA", "kid": "k1", "alg": "RS256",
                                          "n": b64(n.n), "e": b64(n.e)}]}))
    ports = {name: free_port() for name in ("ssl", "mtls", "sasl", "sasl_ssl")}
    tls = f'cert_file = "{pki.server_cert}", key_file = "{pki.server_key}", ca_file = "{pki.ca}"'
    config = tmp / "strom.toml"
    config.write_text(f"""sasl_plain_allow_plaintext = true
[[kafka_listeners]]
name = "SSL"
protocol = "SSL"
listen = "127.0.0.1:{ports['ssl']}"
advertised = "localhost:{ports['ssl']}"
ssl = {{ {tls} }}

[[kafka_listeners]]
name = "MTLS"
protocol = "SSL"
listen = "127.0.0.1:{ports['mtls']}"
advertised = "localhost:{ports['mtls']}"
ssl = {{ {tls}, client_auth = "required", principal_mapping_rules = "{MAPPING_RULES}" }}

[[kafka_listeners]]
name = "SASL_PLAINTEXT"
protocol = "SASL_PLAINTEXT"
listen = "127.0.0.1:{ports['sasl']}"

[[kafka_listeners]]
name = "SASL_SSL"
protocol = "SASL_SSL"
listen = "127.0.0.1:{ports['sasl_ssl']}"
advertised = "localhost:{ports['sasl_ssl']}"
ssl = {{ {tls} }}

[oauth]
jwks_file = "{jwks}"
expected_issuer = "iss"
expected_audience = "strom"
""")
    server = Strom(tmp / "data", extra_args=["--config", str(config)],
                   env={"STROM_LOG": "warn",
                        "STROM_BOOTSTRAP_USER": f"bench:{PASSWORD}:SCRAM-SHA-512"}).start()
    for port in ports.values():
        wait_for_port(port, server.proc)
    ports["plain"] = server.kafka_port
    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{ports['sasl']}",
                         "security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "SCRAM-SHA-512",
                         "sasl.username": "bench", "sasl.password": PASSWORD})
    upserts = [UserScramCredentialUpsertion("bench", ScramCredentialInfo(m, 4096), PASSWORD.encode())
               for m in (ScramMechanism.SCRAM_SHA_256, ScramMechanism.SCRAM_SHA_512)]
    for f in admin.alter_user_scram_credentials(upserts).values():
        f.result(timeout=30)
    now = int(time.time())
    token = jwt.encode({"sub": "bench", "iss": "iss", "aud": "strom", "iat": now, "exp": now + 3600},
                       key, algorithm="RS256", headers={"kid": "k1"})
    return server, ports, token


def client_confs(ports, pki):
    scram512 = {"sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": "bench",
                "sasl.password": PASSWORD}
    return {
        "plaintext": {"bootstrap.servers": f"127.0.0.1:{ports['plain']}"},
        "tls": {"bootstrap.servers": f"localhost:{ports['ssl']}", "security.protocol": "SSL",
                "ssl.ca.location": str(pki.ca)},
        "scram512": {"bootstrap.servers": f"127.0.0.1:{ports['sasl']}",
                     "security.protocol": "SASL_PLAINTEXT", **scram512},
        "scram512+tls": {"bootstrap.servers": f"localhost:{ports['sasl_ssl']}",
                         "security.protocol": "SASL_SSL", "ssl.ca.location": str(pki.ca), **scram512},
    }


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
    assert producer.flush(300) == 0
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
        assert time.monotonic() - start < 600, f"consumed {got} of {count}"
    elapsed = time.monotonic() - start
    consumer.close()
    return elapsed


def abba(items, round_):
    return list(items) if round_ % 2 == 0 else list(reversed(items))


def spread(values):
    return f"{statistics.median(values):7.1f} ({min(values):.1f}-{max(values):.1f})"


def throughput(server, confs, mib, rounds):
    count = mib * 1024
    keys = ("produce", "consume", "cpu_produce", "cpu_consume", "client_produce", "client_consume")
    results = {side: {k: [] for k in keys} for side in SIDES}
    for r in range(rounds):
        for side in abba(SIDES, r):
            topic = f"{side.replace('+', '-')}-{r}"
            cpu0, client0 = cpu_seconds(server.proc.pid), time.process_time()
            t = produce(confs[side], topic, count)
            cpu1, client1 = cpu_seconds(server.proc.pid), time.process_time()
            c = consume(confs[side], topic, count)
            cpu2, client2 = cpu_seconds(server.proc.pid), time.process_time()
            res = results[side]
            res["produce"].append(mib * 1.048576 / t)
            res["consume"].append(mib * 1.048576 / c)
            res["cpu_produce"].append(cpu1 - cpu0)
            res["cpu_consume"].append(cpu2 - cpu1)
            res["client_produce"].append(client1 - client0)
            res["client_consume"].append(client2 - client1)
            print(f"round {r} {side:13}: produce {res['produce'][-1]:7.1f} MB/s (CPU server "
                  f"{cpu1 - cpu0:.2f} s, client {client1 - client0:.2f} s), consume "
                  f"{res['consume'][-1]:7.1f} MB/s (CPU server {cpu2 - cpu1:.2f} s, client "
                  f"{client2 - client1:.2f} s)", flush=True)
    print(f"\n{mib} MiB of 1 KiB records per side and round, {rounds} rounds (ABBA); "
          "median (min-max) MB/s, ratio of medians to plaintext, median CPU seconds of the "
          "server and of the client process (librdkafka's threads included)")
    print("| side | produce MB/s | / plaintext | CPU server / client | consume MB/s | / plaintext "
          "| CPU server / client |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    base = {k: statistics.median(results["plaintext"][k]) for k in ("produce", "consume")}
    med = lambda res, k: statistics.median(res[k])  # noqa: E731
    for side in SIDES:
        res = results[side]
        p, c = med(res, "produce"), med(res, "consume")
        print(f"| {side} | {spread(res['produce'])} | {p / base['produce']:.2f} | "
              f"{med(res, 'cpu_produce'):.2f} / {med(res, 'client_produce'):.2f} s | "
              f"{spread(res['consume'])} | {c / base['consume']:.2f} | "
              f"{med(res, 'cpu_consume'):.2f} / {med(res, 'client_consume'):.2f} s |")


MECHANISMS = ["PLAINTEXT", "TLS", "mTLS", "PLAIN", "PLAIN+TLS", "SCRAM-SHA-256",
              "SCRAM-SHA-256+TLS", "SCRAM-SHA-512", "SCRAM-SHA-512+TLS", "OAUTHBEARER",
              "OAUTHBEARER+TLS"]


def connect_once(kind, ports, contexts, token):
    mech, tls = kind.removesuffix("+TLS"), kind.endswith("+TLS")
    port = {"PLAINTEXT": ports["plain"], "TLS": ports["ssl"], "mTLS": ports["mtls"]}.get(
        mech, ports["sasl_ssl"] if tls else ports["sasl"])
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if mech in ("TLS", "mTLS") or tls:
        sock = contexts[mech == "mTLS"].wrap_socket(sock, server_hostname="localhost")
    conn = Conn(sock)
    if mech == "PLAIN":
        conn.sasl("PLAIN")
        conn.authenticate(f"\0bench\0{PASSWORD}".encode())
    elif mech.startswith("SCRAM"):
        scram(conn, mech, "bench")
    elif mech == "OAUTHBEARER":
        conn.sasl("OAUTHBEARER")
        conn.authenticate(f"n,,\x01auth=Bearer {token}\x01\x01".encode())
    conn.call(18, 0, b"")  # ApiVersions
    sock.close()


def connections(server, ports, pki, token, n, rounds):
    alice = pki.leaf("alice", O="Org", OU="svc", CN="alice")
    tls = ssl.create_default_context(cafile=str(pki.ca))
    mtls = ssl.create_default_context(cafile=str(pki.ca))
    mtls.load_cert_chain(str(alice[0]), str(alice[1]))
    contexts = {False: tls, True: mtls}
    ms = {k: [] for k in MECHANISMS}
    cpu = {k: [] for k in MECHANISMS}
    for r in range(rounds):
        for kind in abba(MECHANISMS, r):
            connect_once(kind, ports, contexts, token)  # warm-up (PLAIN and token caches)
            before, start = cpu_seconds(server.proc.pid), time.monotonic()
            for _ in range(n):
                connect_once(kind, ports, contexts, token)
            ms[kind].append((time.monotonic() - start) * 1000 / n)
            cpu[kind].append((cpu_seconds(server.proc.pid) - before) * 1000 / n)
            print(f"round {r} {kind:18} {ms[kind][-1]:6.2f} ms/conn  server {cpu[kind][-1]:.2f} "
                  "ms CPU/conn", flush=True)
    base = statistics.median(ms["PLAINTEXT"])
    print(f"\n{n} sequential connections per mechanism and round, {rounds} rounds (ABBA): "
          "connect + authenticate + ApiVersions")
    print("| mechanism | ms per connection, median (min-max) | / PLAINTEXT | server CPU ms per connection |")
    print("|---|---:|---:|---:|")
    for kind in MECHANISMS:
        m = statistics.median(ms[kind])
        print(f"| {kind} | {m:.2f} ({min(ms[kind]):.2f}-{max(ms[kind]):.2f}) | {m / base:.1f} | "
              f"{statistics.median(cpu[kind]):.2f} |")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mib", type=int, default=64)
    p.add_argument("--rounds", type=int, default=4)
    p.add_argument("--connections", type=int, default=200)
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--skip-connections", action="store_true")
    args = p.parse_args()
    print(f"load average at start: {os.getloadavg()}, {os.cpu_count()} CPUs", flush=True)
    with tempfile.TemporaryDirectory(prefix="strom-security-bench-") as tmp:
        tmp = Path(tmp)
        pki = Pki(tmp / "pki")
        server, ports, token = start_server(tmp, pki)
        try:
            if not args.skip_throughput:
                throughput(server, client_confs(ports, pki), args.mib, args.rounds)
            if not args.skip_connections:
                connections(server, ports, pki, token, args.connections, args.rounds)
        finally:
            server.stop()
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
