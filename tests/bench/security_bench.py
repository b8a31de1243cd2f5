#!/usr/bin/env python3
"""What security costs, in one run against one server: throughput of TLS and SCRAM against
plaintext, and the connection set-up cost of every mechanism with and without TLS.

    cargo build --release -p strom && \
        STROM_BIN=target/release/strom python3 tests/bench/security_bench.py [--mib 512] [--rounds 4]

One server with five Kafka listeners: PLAINTEXT, SSL, SSL with client certificates required
(mTLS), SASL_PLAINTEXT and SASL_SSL (certificates from tests/e2e/tls_support.py, ECDSA P-256;
TLS 1.3 negotiated; `[oauth]` with an RS256 JWKS; SCRAM credentials of 4096 iterations).

Throughput (the loop of tests/bench/throughput_support.py): per round, each of the four sides
(plaintext, TLS, SCRAM-SHA-512 over plaintext, SCRAM-SHA-512 over TLS) produces `--mib` MiB
of 1 KiB records with confluent-kafka (linger 5 ms, 1 MiB batches, acks=1) into its own topic,
consumes them from the beginning, and deletes the topic. The order is ABBA: forward in even
rounds, reversed in odd ones, so drift in the machine's load (other builds) hits every side
alike. Printed: MB/s per side and phase (median and min-max over rounds), the ratio to
plaintext within each round (median and min-max), and the CPU seconds of the server (from
/proc) and of the client process. Use a size that makes a round last seconds (the default
512 MiB does on this machine); at 64 MiB a round is a fraction of a second and the ratios
are noise.

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
from confluent_kafka.admin import (
    AdminClient, ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion,
)
from cryptography.hazmat.primitives.asymmetric import rsa

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))
sys.path.insert(0, str(HERE))
from bench_connections import Conn, scram  # noqa: E402
from conftest import Strom, free_port, wait_for_port  # noqa: E402
from throughput_support import abba, cpu_seconds, measure, print_table  # noqa: E402
from tls_support import MAPPING_RULES, Pki, listener  # noqa: E402

PASSWORD = "bench-pw"


def b64(v):
    return base64.urlsafe_b64encode(v.to_bytes((v.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()


def start_server(tmp, pki):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    n = key.public_key().public_numbers()
    jwks = tmp / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{"kty": "RSA", "kid": "k1", "alg": "RS256",
                                          "n": b64(n.n), "e": b64(n.e)}]}))
    ports = {name: free_port() for name in ("ssl", "mtls", "sasl", "sasl_ssl")}
    config = tmp / "strom.toml"
    config.write_text(
        "sasl_plain_allow_plaintext = true\n"
        + listener(pki, "SSL", "SSL", ports["ssl"])
        + listener(pki, "MTLS", "SSL", ports["mtls"], client_auth="required",
                   principal_mapping_rules=MAPPING_RULES)
        + listener(pki, "SASL_PLAINTEXT", "SASL_PLAINTEXT", ports["sasl"])
        + listener(pki, "SASL_SSL", "SASL_SSL", ports["sasl_ssl"])
        + f"""[oauth]
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


def throughput(server, confs, mib, rounds):
    results = measure(server.proc.pid, confs, mib, rounds)
    print_table(results, mib, rounds)


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
    p.add_argument("--mib", type=int, default=512)
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
