#!/usr/bin/env python3
"""TLS against plaintext on the same Strom server, in the same run.

    cargo build --release -p strom && python3 tests/bench/tls_bench.py [--mib 512] [--passes 4]

One server with a PLAINTEXT listener and an SSL listener (certificates from
tests/e2e/tls_support.py, ECDSA P-256; TLS 1.3 negotiated). Per pass, for each listener
(ABBA order): confluent-kafka produces `--mib` MiB of 1 KiB records (linger 5 ms, 1 MiB
batches, acks=1) and then consumes them from the beginning (the loop and table of
tests/bench/throughput_support.py, shared with security_bench.py). Printed: MB/s per side
and phase, the server's and client's CPU seconds, and the ratio TLS / plaintext within each
pass (median and min-max).

Connection set-up: `--connections` sequential connections that each complete one Kafka
ApiVersions round trip: plain TCP, TLS (server certificate verified), and mTLS (client
certificate too). Printed: milliseconds per connection and the ratio to plain TCP.
Not part of the test run: it starts its own server on ephemeral ports.
"""

import argparse
import socket
import ssl
import struct
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))
sys.path.insert(0, str(HERE))
from throughput_support import measure, print_table  # noqa: E402
from tls_support import Pki, start_tls_server  # noqa: E402

API_VERSIONS = struct.pack(">ihhih", 10, 18, 0, 1, -1)  # size, api key, version, id, no client id


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
    args.add_argument("--mib", type=int, default=512)
    args.add_argument("--passes", type=int, default=4)
    args.add_argument("--connections", type=int, default=300)
    opts = args.parse_args()
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
            print_table(measure(server.proc.pid, sides, opts.mib, opts.passes), opts.mib,
                        opts.passes)
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
