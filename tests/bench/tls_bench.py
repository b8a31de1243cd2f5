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

`--baseline BIN` also starts a second server from another build (say main's binary, copied
aside) and measures its plaintext and TLS sides in the same rounds ("base plaintext", "base
tls"), so a change to the TLS path is judged against the unchanged build under the same load;
each build's own TLS / plaintext ratio per round is printed after the table.

Then the same produce rounds with a second client, Debian's Sarama (tests/bench/sarama_side.py,
skipped with `--skip-sarama` or without Go): its TLS writes whole 16 KiB records where
librdkafka's write many small ones. For each client and build the table is followed by the
server's CPU per byte plaintext / TLS and the ratio a server whose TLS cost nothing would reach
on this machine, from the CPU both processes spent (they share its cores).

Connection set-up: `--connections` sequential connections that each complete one Kafka
ApiVersions round trip: plain TCP, TLS (server certificate verified), and mTLS (client
certificate too). Printed: milliseconds per connection and the ratio to plain TCP.
Not part of the test run: it starts its own server on ephemeral ports.
"""

import argparse
import os
import socket
import statistics
import ssl
import struct
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))
sys.path.insert(0, str(HERE))
import go_build  # noqa: E402
import sarama_side  # noqa: E402
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


def sides_of(server, pki, prefix=""):
    return {
        f"{prefix}plaintext": {"bootstrap.servers": server.bootstrap},
        f"{prefix}tls": {"bootstrap.servers": f"localhost:{server.ssl_port}",
                         "security.protocol": "SSL", "ssl.ca.location": str(pki.ca)},
    }


def own_ratios(results, prefixes):
    """Each build's TLS / plaintext ratio within each round, per phase."""
    for prefix in prefixes:
        for phase in ("produce", "consume"):
            r = [t / p for t, p in zip(results[f"{prefix}tls"][phase],
                                       results[f"{prefix}plaintext"][phase])]
            print(f"{prefix or 'this '}build, {phase}: TLS / plaintext {statistics.median(r):.2f} "
                  f"({min(r):.2f}-{max(r):.2f}); per round " + " ".join(f"{x:.2f}" for x in r))


def start_servers(tmp, pki, baseline):
    """This build's server and, with a baseline binary, a second one from it."""
    servers = {"": start_tls_server(tmp / "this", pki, log="warn")}
    if baseline:
        os.environ["STROM_BIN"], this_bin = baseline, os.environ.get("STROM_BIN")
        try:
            servers["base "] = start_tls_server(tmp / "base", pki, log="warn")
        finally:
            if this_bin is None:
                del os.environ["STROM_BIN"]
            else:
                os.environ["STROM_BIN"] = this_bin
    return servers


def main():
    args = argparse.ArgumentParser()
    args.add_argument("--mib", type=int, default=512)
    args.add_argument("--passes", type=int, default=4)
    args.add_argument("--connections", type=int, default=300)
    args.add_argument("--baseline", help="another strom binary measured in the same rounds")
    args.add_argument("--skip-connections", action="store_true")
    args.add_argument("--skip-sarama", action="store_true")
    opts = args.parse_args()
    print(f"load average at start: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pki = Pki(tmp / "pki")
        for sub in ("this", "base"):
            (tmp / sub).mkdir()
        servers = start_servers(tmp, pki, opts.baseline)
        server = servers[""]
        try:
            sides, pids = {}, {}
            for prefix, srv in servers.items():
                for side, conf in sides_of(srv, pki, prefix).items():
                    sides[side], pids[side] = conf, srv.proc.pid
            results = measure(pids, sides, opts.mib, opts.passes)
            print_table(results, opts.mib, opts.passes)
            own_ratios(results, list(servers))
            for prefix in servers:
                sarama_side.bounds(results, f"{prefix}librdkafka", f"{prefix}plaintext",
                                   f"{prefix}tls")
            if not opts.skip_sarama and go_build.sarama_available():
                go = sarama_side.measure(pids, sides, opts.mib, opts.passes)
                print("\nSarama, the same produce rounds:")
                print_table(go, opts.mib, opts.passes, phases=("produce",),
                            client="Sarama's Go process")
                for prefix in servers:
                    sarama_side.bounds(go, f"{prefix}sarama", f"{prefix}plaintext",
                                       f"{prefix}tls")
            print(f"load average at end: {os.getloadavg()}", flush=True)
            if opts.skip_connections:
                return
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
            for srv in servers.values():
                srv.stop()


if __name__ == "__main__":
    main()
