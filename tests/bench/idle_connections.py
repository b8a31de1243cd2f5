"""Memory per idle connection, and the time to serve a new client while they are held.

For each listener (Kafka, HTTP) and each count N (default 1,000 and 10,000), opens N
connections spread over 127.0.0.10.. (at most `--per-address` per address, below the server's
per-address limit), makes one request on each (an ApiVersions / a keep-alive GET, so every
buffer a real client causes exists) and leaves them idle. Reports the server's VmRSS before
and with the N connections held, the difference per connection, and how long a new client
from another address waits for its first answer. Results go into docs/benchmarks.md.

Run after `cargo build --release -p strom`:
    python3 tests/bench/idle_connections.py [--counts 1000,10000]
"""

import argparse
import os
import resource
import socket
import struct
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from conftest import Strom  # noqa: E402

KAFKA_REQUEST = (lambda p: struct.pack(">i", len(p)) + p)(struct.pack(">hhih", 18, 0, 1, 5) + b"bench")
HTTP_REQUEST = b"GET /healthz HTTP/1.1\r\nhost: bench\r\n\r\n"


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def recv_some(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed by server")
        data += chunk
    return data


def recv_some_more(sock, data, total):
    while len(data) < total:
        chunk = sock.recv(total - len(data))
        if not chunk:
            raise ConnectionError("closed by server")
        data += chunk


def exchange(sock, kafka):
    if kafka:
        sock.sendall(KAFKA_REQUEST)
        data = recv_some(sock, 4)
        (size,) = struct.unpack(">i", data[:4])
        recv_some_more(sock, data, 4 + size)
    else:
        sock.sendall(HTTP_REQUEST)
        data = b""
        while b"\r\n\r\n" not in data:
            data += recv_some(sock, 1)
        head, _, body = data.partition(b"\r\n\r\n")
        length = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0].split(b":")[1])
        while len(body) < length:
            body += sock.recv(length - len(body))


def measure(server, kafka, count, per_address):
    port = server.kafka_port if kafka else server.http_port
    pid = server.proc.pid
    before = rss_kib(pid)
    held = []
    for i in range(count):
        source = f"127.0.0.{10 + i // per_address}"
        sock = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(source, 0))
        exchange(sock, kafka)
        held.append(sock)
    with_held = rss_kib(pid)
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30, source_address=("127.0.0.2", 0)) as new:
        exchange(new, kafka)
    served = time.monotonic() - started
    for sock in held:
        sock.close()
    per_conn = (with_held - before) * 1024 / count
    name = "kafka" if kafka else "http"
    print(f"{name:5} {count:6} idle: RSS {before / 1024:7.1f} -> {with_held / 1024:7.1f} MiB, "
          f"{per_conn / 1024:6.1f} KiB per connection, new client served in {served * 1000:.2f} ms")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--counts", default="1000,10000")
    parser.add_argument("--per-address", type=int, default=500)
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    need = max(counts) + 100
    data = Path(tempfile.mkdtemp(prefix="strom-idle-bench-"))
    cfg = data / "strom.toml"
    # Defaults for the per-address limit; the total and the idle timeouts are raised so the
    # connections stay for the measurement.
    cfg.write_text(
        f"max_connections = {need}\nconnections_max_idle_ms = 3600000\n"
        "http_header_read_timeout_ms = 3600000\n"
    )
    os.environ.setdefault("STROM_LOG", "warn")
    for kafka in (True, False):
        for count in counts:
            server = Strom(data / f"data-{kafka}-{count}", extra_args=["--config", str(cfg)]).start()
            try:
                measure(server, kafka, count, args.per_address)
            finally:
                server.stop()


if __name__ == "__main__":
    main()
