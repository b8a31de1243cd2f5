"""`/metrics` reports the limits' figures (issue 10, hardening follow-up): open log files and
their budget, open connections per listener, refusals by reason, idle closes, HTTP header-read
timeouts, and Kafka request bytes in flight against `queued_max_request_bytes`; and the whole
exposition passes `promtool check metrics`.

Invariant: each counter moves when, and because, the client did what it counts. Bounded
counts, loopback only."""

import re
import socket
import struct
import subprocess
import time

import requests
from confluent_kafka import Producer

from kafka_support import write_config
from test_connections_limits import FLOOD, OTHER, api_versions_ok, closed_by_server, connect, http_exchange

DEADLINE = 30.0


def scrape(server):
    r = requests.get(f"{server.http}/metrics", timeout=10)
    assert r.status_code == 200
    return r.text


def sample(text, name, **labels):
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    pattern = rf"^{name}\{{{re.escape(want)}\}} (\S+)$" if labels else rf"^{name} (\S+)$"
    m = re.search(pattern, text, re.M)
    return float(m.group(1)) if m else None


def wait_metric(server, name, predicate, **labels):
    deadline = time.monotonic() + DEADLINE
    while True:
        value = sample(scrape(server), name, **labels)
        if value is not None and predicate(value):
            return value
        assert time.monotonic() < deadline, f"{name}{labels} stayed at {value}"
        time.sleep(0.05)


KAFKA = {"frontend": "kafka", "listener": "PLAINTEXT"}
HTTP = {"frontend": "http", "listener": "http"}


def test_connection_and_limit_metrics_follow_clients(strom_factory, tmp_path):
    config = write_config(
        tmp_path, max_connections=100, max_connections_per_ip=3, connections_max_idle_ms=5000,
        http_header_read_timeout_ms=1000, max_frame_bytes=1_000_000,
        queued_max_request_bytes=1_000_000)
    server = strom_factory(extra_args=["--config", str(config)]).start()

    # Kafka: three connections from one address are open, the fourth is refused.
    held = [connect(server.kafka_port, FLOOD) for _ in range(3)]
    for i, sock in enumerate(held):
        assert api_versions_ok(sock, i + 1)
    wait_metric(server, "strom_connections_open", lambda v: v == 3, **KAFKA)
    assert sample(scrape(server), "strom_connections_max", **KAFKA) == 100
    extra = connect(server.kafka_port, FLOOD)
    assert closed_by_server(extra)
    wait_metric(server, "strom_connections_refused_total", lambda v: v == 1,
                **KAFKA, reason="max_connections_per_ip")
    assert sample(scrape(server), "strom_connections_refused_total", **KAFKA, reason="max_connections") == 0

    # A frame announced at 200,000 bytes and half sent holds its bytes of the budget.
    held[0].sendall(struct.pack(">i", 200_000) + b"\0" * 100_000)
    text = scrape(server)
    assert sample(text, "strom_kafka_queued_max_request_bytes", listener="PLAINTEXT") == 1_000_000
    wait_metric(server, "strom_kafka_request_bytes_in_flight", lambda v: v == 200_000, listener="PLAINTEXT")
    # All three go silent and are closed as idle; the reservation is given back.
    for sock in held:
        assert closed_by_server(sock)
    wait_metric(server, "strom_connections_idle_closed_total", lambda v: v == 3, **KAFKA)
    wait_metric(server, "strom_kafka_request_bytes_in_flight", lambda v: v == 0, listener="PLAINTEXT")
    wait_metric(server, "strom_connections_open", lambda v: v == 0, **KAFKA)

    # HTTP: a connection that never sends is idle; one trickling a head is a header timeout.
    silent = connect(server.http_port, OTHER)
    partial = connect(server.http_port, OTHER)
    partial.sendall(b"GET /healthz HTTP/1.1\r\nho")
    assert closed_by_server(silent) and closed_by_server(partial)
    wait_metric(server, "strom_connections_idle_closed_total", lambda v: v >= 1, **HTTP)
    wait_metric(server, "strom_http_header_read_timeouts_total", lambda v: v == 1, listener="http")
    # Three keep-alive connections from one address fill its share; the fourth gets 429.
    keep = []
    for _ in range(3):
        sock = connect(server.http_port, FLOOD)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        assert sock.recv(12) == b"HTTP/1.1 200"
        keep.append(sock)
    assert http_exchange(server.http_port, FLOOD).startswith(b"HTTP/1.1 429")
    wait_metric(server, "strom_connections_refused_total", lambda v: v == 1,
                **HTTP, reason="max_connections_per_ip")
    for sock in keep + [silent, partial, extra]:
        sock.close()
    assert server.stop() == 0


def test_open_log_files_and_promtool(strom_factory, tmp_path):
    server = strom_factory().start()
    r = requests.post(f"{server.http}/v1/topics", json={"name": "files", "partitions": 4}, timeout=10)
    assert r.status_code == 201, r.text
    producer = Producer({"bootstrap.servers": server.bootstrap})
    for p in range(4):
        producer.produce("files", value=b"v", partition=p)
    assert producer.flush(10) == 0
    text = scrape(server)
    budget = sample(text, "strom_open_log_files_budget")
    open_files = sample(text, "strom_open_log_files")
    assert budget is not None and budget >= 16, text
    # Each written partition has its active segment open at least.
    assert open_files is not None and 4 <= open_files <= budget
    check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert server.stop() == 0
