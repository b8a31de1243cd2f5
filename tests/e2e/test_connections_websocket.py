"""WebSocket connections count against the HTTP connection limits for the socket's life
(issue 10, hardening follow-up): the upgrade hands the socket over from hyper, and the slot
must go with it, or a flood of WebSockets bypasses `max_connections_per_ip`.

Invariant: an address holding its limit of open WebSockets gets 429 for one more connection,
another address is served, and closing a WebSocket gives its slot back. Bounded counts,
loopback only."""

import json
import socket
import time

from websockets.sync.client import connect as ws_connect

from kafka_support import write_config
from test_connections_limits import FLOOD, OTHER, http_exchange, split_response

LIMIT = 5
DEADLINE = 30.0


def open_ws(port, source):
    sock = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    return ws_connect(f"ws://127.0.0.1:{port}/v1/ws", sock=sock, open_timeout=10)


def status_of(port, source):
    status, _, _ = split_response(http_exchange(port, source))
    return status


def test_open_websockets_hold_their_connection_slots(strom_factory, tmp_path):
    config = write_config(tmp_path, max_connections_per_ip=LIMIT, http_header_read_timeout_ms=1000)
    server = strom_factory(extra_args=["--config", str(config)]).start()
    sockets = []
    deadline = time.monotonic() + DEADLINE
    while len(sockets) < LIMIT:
        try:
            sockets.append(open_ws(server.http_port, FLOOD))
        except Exception:  # the harness's probe may hold a slot for a moment
            assert time.monotonic() < deadline, "WebSockets within the limit must be admitted"
            time.sleep(0.05)
    # Longer than the header-read timeout: an open WebSocket is not an idle HTTP connection.
    time.sleep(1.5)
    for ws in sockets:
        ws.send(json.dumps({"op": "subscribe", "topic": "nope"}))
        # The first subscription creates the topic (created on first use, as on Kafka).
        assert json.loads(ws.recv(timeout=10))["type"] == "subscribed", "the socket still works"
    assert status_of(server.http_port, FLOOD) == "HTTP/1.1 429 Too Many Requests"
    assert status_of(server.http_port, OTHER) == "HTTP/1.1 200 OK"
    sockets.pop().close()
    while status_of(server.http_port, FLOOD) != "HTTP/1.1 200 OK":
        assert time.monotonic() < deadline + DEADLINE, "a closed WebSocket's slot never came back"
        time.sleep(0.05)
    for ws in sockets:
        ws.close()
    assert server.stop() == 0
