"""HTTP/2 (h2c with prior knowledge) gets the same protection as HTTP/1.1 (issue 10, item 6
and the hardening follow-up): the header-read timeout and the idle timeout close a connection
that holds no request in progress, whether it sits idle answering keep-alive pings or trickles
a header block; the connection limits refuse with a well-formed HTTP/2 answer; body and header
limits apply per request.

Invariant: an HTTP/2 client cannot hold a connection slot without a request in progress for
longer than `http_header_read_timeout_ms`, and every limit answers with a status, not a broken
connection. Counts are bounded, traffic is loopback."""

import json
import socket
import threading
import time

import requests

from h2_support import H2, frame_head
from kafka_support import write_config

FLOOD = "127.0.0.3"
OTHER = "127.0.0.2"
# Generous against a 1 s timeout; the keep-alive ping timeout (20 s) must not be what closes.
CLOSE_DEADLINE = 15.0


def start(strom_factory, tmp_path, **settings):
    config = write_config(tmp_path, **settings)
    return strom_factory(extra_args=["--config", str(config)]).start()


def test_http2_idle_connection_answering_pings_is_closed_after_the_timeout(strom_factory, tmp_path):
    server = start(strom_factory, tmp_path, http_header_read_timeout_ms=1000)
    client = H2(server.http_port, OTHER)
    status, _, body = client.request("GET", "/healthz")
    assert status == 200, body
    # The client answers every ping: only the server's idle timeout can end this connection.
    assert client.wait_closed(CLOSE_DEADLINE), "an idle HTTP/2 connection must be closed"
    client.close()
    assert server.stop() == 0


def test_http2_slow_header_block_after_a_request_is_timed_out(strom_factory, tmp_path):
    server = start(strom_factory, tmp_path, http_header_read_timeout_ms=1000)
    client = H2(server.http_port, OTHER)
    status, _, _ = client.request("GET", "/healthz")
    assert status == 200
    # A HEADERS frame on stream 3 announcing 200 bytes, sent one byte every 100 ms: the
    # request never completes, and the client cannot answer pings in the middle of a frame.
    sock = client.sock
    sock.sendall(frame_head(200, 0x1, 0x4, 3))
    stop = threading.Event()

    def trickle():
        while not stop.is_set():
            try:
                sock.send(b"\x82")
            except OSError:
                return
            stop.wait(0.1)

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    started = time.monotonic()
    sock.settimeout(CLOSE_DEADLINE)
    closed = False
    try:
        while sock.recv(65536):
            pass
        closed = True
    except (ConnectionResetError, BrokenPipeError):
        closed = True
    except socket.timeout:
        closed = False
    stop.set()
    thread.join()
    assert closed, "a trickled HTTP/2 header block must be timed out"
    print(f"h2 slow header block closed after {time.monotonic() - started:.2f}s")
    client.close()
    assert server.stop() == 0


def test_http2_first_request_never_sent_is_timed_out(strom_factory, tmp_path):
    server = start(strom_factory, tmp_path, http_header_read_timeout_ms=1000)
    client = H2(server.http_port, OTHER)
    assert client.wait_closed(CLOSE_DEADLINE), "a connection with only a preface must be closed"
    client.close()
    assert server.stop() == 0


def test_http2_connection_over_the_limit_gets_a_503_over_http2(strom_factory, tmp_path):
    server = start(strom_factory, tmp_path, max_connections=2, http_header_read_timeout_ms=120000)
    held = []
    deadline = time.monotonic() + 30
    while len(held) < 2:
        # The harness's readiness probe may hold a slot for a moment: retry until admitted.
        client = H2(server.http_port, FLOOD)
        status, _, _ = client.request("GET", "/healthz")
        if status == 200:
            held.append(client)
        else:
            client.close()
            assert time.monotonic() < deadline, f"never admitted: {status}"
            time.sleep(0.05)
    refused = H2(server.http_port, OTHER)
    status, headers, body = refused.request("GET", "/healthz")
    assert status == 503
    assert headers["content-type"] == "application/problem+json"
    assert headers["retry-after"] == "1"
    assert json.loads(body)["type"] == "https://strom.dev/problems/too-many-connections"
    assert refused.wait_closed(CLOSE_DEADLINE), "the refused connection is closed after its answer"
    refused.close()
    for client in held:
        client.close()
    assert server.stop() == 0


def test_http2_body_and_header_limits_apply(strom_factory, tmp_path):
    server = start(strom_factory, tmp_path, http_max_body_bytes=1024)
    r = requests.post(f"{server.http}/v1/topics", json={"name": "h2limits", "partitions": 1}, timeout=10)
    assert r.status_code == 201, r.text
    client = H2(server.http_port, OTHER)
    record = json.dumps({"records": [{"value": "x" * 2048}]}).encode()
    status, headers, body = client.request(
        "POST", "/v1/topics/h2limits/records", body=record, headers=[("content-type", "application/json")])
    assert status == 413, body
    small = json.dumps({"records": [{"value": "ok"}]}).encode()
    status, _, body = client.request(
        "POST", "/v1/topics/h2limits/records", body=small, headers=[("content-type", "application/json")])
    assert status == 200, body
    client.close()
    # A header block over 64 KiB is refused, and the server keeps serving.
    big = H2(server.http_port, OTHER)
    try:
        status, _, _ = big.request("GET", "/healthz", headers=[("x-big", "a" * 70000)])
    except ConnectionError:
        status = None
    assert status != 200
    big.close()
    assert requests.get(f"{server.http}/healthz", timeout=10).status_code == 200
    assert server.stop() == 0
