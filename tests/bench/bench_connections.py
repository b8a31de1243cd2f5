#!/usr/bin/env python3
"""Connection set-up cost per security mechanism, in one run against one server.

    cargo build --release -p strom && python3 tests/bench/bench_connections.py [--connections 300] [--passes 2]

One server with a PLAINTEXT, an SSL and a SASL_PLAINTEXT listener (`[oauth]` with an RS256
JWKS). Each connection is opened, authenticated and used for one ApiVersions round trip, then
closed, sequentially, from raw sockets (the SASL exchanges are written here: SaslHandshake v1
and SaslAuthenticate v1; SCRAM per RFC 5802 with the client's PBKDF2 in hashlib):
PLAINTEXT, TLS (server certificate verified), SASL PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (4096
iterations) and OAUTHBEARER (one RS256 token reused, as clients do until it nears expiry, so
after the first connection the server's verified-token cache answers). Printed per mechanism
and pass: connections/s, the server's CPU milliseconds per connection (from /proc), and the
ratio of connections/s to PLAINTEXT. The client's own work (TLS handshake, PBKDF2) is part of
connections/s; the server CPU column is the server's alone.
Not part of the test run: it starts its own server on ephemeral ports.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import socket
import ssl
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

import jwt
from confluent_kafka.admin import (
    AdminClient, ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion,
)
from cryptography.hazmat.primitives.asymmetric import rsa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "e2e"))
from conftest import Strom, free_port, wait_for_port  # noqa: E402
from tls_support import Pki  # noqa: E402

PASSWORD = "bench-pw"


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _str(s):
    return struct.pack(">h", len(s)) + s


class Conn:
    def __init__(self, sock):
        self.sock, self.correlation = sock, 0

    def call(self, api_key, version, body):
        self.correlation += 1
        payload = struct.pack(">hhi", api_key, version, self.correlation) + _str(b"bench") + body
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)
        size = struct.unpack(">i", self._read(4))[0]
        return self._read(size)[4:]

    def _read(self, n):
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("closed")
            out += chunk
        return out

    def authenticate(self, token):
        reply = self.call(36, 1, struct.pack(">i", len(token)) + token)
        error = struct.unpack_from(">h", reply)[0]
        msg_len = struct.unpack_from(">h", reply, 2)[0]
        at = 4 + max(msg_len, 0)
        assert error == 0, reply[4:at]
        size = struct.unpack_from(">i", reply, at)[0]
        return reply[at + 4:at + 4 + size]

    def sasl(self, mechanism):
        reply = self.call(17, 1, _str(mechanism.encode()))
        assert struct.unpack_from(">h", reply)[0] == 0, reply


def scram(conn, mechanism, user):
    digest = hashlib.sha256 if mechanism.endswith("256") else hashlib.sha512
    conn.sasl(mechanism)
    nonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = f"n={user},r={nonce}"
    server_first = conn.authenticate(f"n,,{first_bare}".encode()).decode()
    fields = dict(part.split("=", 1) for part in server_first.split(","))
    salted = hashlib.pbkdf2_hmac(digest().name, PASSWORD.encode(), base64.b64decode(fields["s"]),
                                 int(fields["i"]))
    client_key = hmac.new(salted, b"Client Key", digest).digest()
    stored = digest(client_key).digest()
    without_proof = f"c=biws,r={fields['r']}"
    auth_message = f"{first_bare},{server_first},{without_proof}".encode()
    signature = hmac.new(stored, auth_message, digest).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, signature))
    final = f"{without_proof},p={base64.b64encode(proof).decode()}"
    assert conn.authenticate(final.encode()).startswith(b"v=")


def connect_once(kind, ports, ctx, token):
    port = ports["ssl"] if kind == "TLS" else ports["plain"] if kind == "PLAINTEXT" else ports["sasl"]
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if kind == "TLS":
        sock = ctx.wrap_socket(sock, server_hostname="localhost")
    conn = Conn(sock)
    if kind == "SASL PLAIN":
        conn.sasl("PLAIN")
        conn.authenticate(f"\0bench\0{PASSWORD}".encode())
    elif kind.startswith("SCRAM"):
        scram(conn, kind, "bench")
    elif kind == "OAUTHBEARER":
        conn.sasl("OAUTHBEARER")
        conn.authenticate(f"n,,\x01auth=Bearer {token}\x01\x01".encode())
    conn.call(18, 0, b"")  # ApiVersions
    sock.close()


def start_server(tmp, pki):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    n = key.public_key().public_numbers()
    b64 = lambda v: base64.urlsafe_b64encode(v.to_bytes((v.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()  # noqa: E731
    jwks = tmp / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{"kty": "RSA", "kid": "k1", "alg": "RS256", "n": b64(n.n), "e": b64(n.e)}]}))
    ports = {"ssl": free_port(), "sasl": free_port()}
    config = tmp / "strom.toml"
    config.write_text(f"""sasl_plain_allow_plaintext = true
[[kafka_listeners]]
name = "SSL"
protocol = "SSL"
listen = "127.0.0.1:{ports['ssl']}"
ssl = {{ cert_file = "{pki.server_cert}", key_file = "{pki.server_key}" }}

[[kafka_listeners]]
name = "SASL_PLAINTEXT"
protocol = "SASL_PLAINTEXT"
listen = "127.0.0.1:{ports['sasl']}"

[oauth]
jwks_file = "{jwks}"
expected_issuer = "iss"
expected_audience = "strom"
""")
    server = Strom(tmp / "data", extra_args=["--config", str(config)],
                   env={"STROM_BOOTSTRAP_USER": f"bench:{PASSWORD}:SCRAM-SHA-512"}).start()
    wait_for_port(ports["sasl"], server.proc)
    ports["plain"] = server.kafka_port
    admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{ports['sasl']}", "security.protocol": "SASL_PLAINTEXT",
                         "sasl.mechanisms": "SCRAM-SHA-512", "sasl.username": "bench", "sasl.password": PASSWORD})
    upsert = UserScramCredentialUpsertion("bench", ScramCredentialInfo(ScramMechanism.SCRAM_SHA_256, 4096),
                                          PASSWORD.encode())
    for f in admin.alter_user_scram_credentials([upsert]).values():
        f.result(timeout=30)
    now = int(time.time())
    token = jwt.encode({"sub": "bench", "iss": "iss", "aud": "strom", "iat": now, "exp": now + 3600},
                       key, algorithm="RS256", headers={"kid": "k1"})
    return server, ports, token


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--connections", type=int, default=300)
    p.add_argument("--passes", type=int, default=2)
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="strom-conn-bench-"))
    pki = Pki(tmp / "pki")
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    server, ports, token = start_server(tmp, pki)
    kinds = ["PLAINTEXT", "TLS", "SASL PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]
    rates = {k: [] for k in kinds}
    cpu = {k: [] for k in kinds}
    try:
        for i in range(args.passes):
            for kind in kinds if i % 2 == 0 else list(reversed(kinds)):
                connect_once(kind, ports, ctx, token)  # warm-up
                before, start = cpu_seconds(server.proc.pid), time.monotonic()
                for _ in range(args.connections):
                    connect_once(kind, ports, ctx, token)
                elapsed = time.monotonic() - start
                used = cpu_seconds(server.proc.pid) - before
                rates[kind].append(args.connections / elapsed)
                cpu[kind].append(used * 1000 / args.connections)
                print(f"pass {i + 1} {kind:14s} {rates[kind][-1]:8.0f} conn/s  server {cpu[kind][-1]:.2f} ms CPU/conn", flush=True)
    finally:
        server.stop()
    base = statistics.median(rates["PLAINTEXT"])
    print("\n| mechanism | connections/s | / PLAINTEXT | server CPU ms per connection |")
    print("|---|---:|---:|---:|")
    for kind in kinds:
        r = statistics.median(rates[kind])
        print(f"| {kind} | {r:.0f} | {r / base:.2f} | {statistics.median(cpu[kind]):.2f} |")


if __name__ == "__main__":
    main()
