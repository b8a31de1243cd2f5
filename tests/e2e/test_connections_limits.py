"""Connection lock-out (issue 10, items 6 and 8): per-address limits on both listeners, the
Kafka idle timeout, the HTTP header-read timeout against slowloris, and the exact bytes of the
HTTP refusals.

Invariant: one address holding or trickling connections cannot lock out a client from another
address, and every held connection is released by a limit or a timeout. Floods come from
127.0.0.3 (the harness's readiness probe uses 127.0.0.1), other clients from 127.0.0.2; all
counts are bounded and all traffic is loopback."""

import json
import socket
import struct
import threading
import time

from kafka_support import write_config

FLOOD = "127.0.0.3"
OTHER = "127.0.0.2"
DEADLINE = 30.0


def connect(port, source, timeout=10.0):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))


def api_versions_frame(correlation_id=1):
    # Header v1 (api key 18, version 0, correlation id, client id), empty v0 body.
    client = b"strom-e2e"
    payload = struct.pack(">hhih", 18, 0, correlation_id, len(client)) + client
    return struct.pack(">i", len(payload)) + payload


def recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed by server")
        buf += chunk
    return buf


def api_versions_ok(sock, correlation_id=1):
    sock.sendall(api_versions_frame(correlation_id))
    (size,) = struct.unpack(">i", recv_exact(sock, 4))
    frame = recv_exact(sock, size)
    corr, error = struct.unpack(">ih", frame[:6])
    return corr == correlation_id and error == 0


def closed_by_server(sock, wait=DEADLINE):
    """Waits (up to `wait`) for the server to close `sock`; False if it stays open."""
    sock.settimeout(wait)
    try:
        while True:
            data = sock.recv(4096)
            if data == b"":
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def http_exchange(port, source, request=b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n"):
    """Sends one request and reads the whole answer until the server closes."""
    with connect(port, source) as sock:
        sock.sendall(request)
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return data
            data += chunk


def hold_http(port, source):
    """An admitted keep-alive connection: retried while the harness's readiness probe may
    still hold a slot, until one request on it is answered 200."""
    deadline = time.monotonic() + DEADLINE
    while True:
        sock = connect(port, source)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        status = recv_exact(sock, 12)
        if status == b"HTTP/1.1 200":
            return sock
        sock.close()
        assert time.monotonic() < deadline, f"never admitted: {status!r}"
        time.sleep(0.05)


def split_response(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return lines[0], {k.lower(): v for k, v in headers.items()}, body


def start(strom_factory, tmp_path, **settings):
    config = write_config(tmp_path, **settings)
    return strom_factory(extra_args=["--config", str(config)]).start()


def test_kafka_per_address_limit_refuses_the_51st_and_serves_another_address(strom_factory, tmp_path):
    server = start(strom_factory, tmp_path, max_connections_per_ip=50)
    held = [connect(server.kafka_port, FLOOD) for _ in range(50)]
    for i, sock in enumerate(held):
        assert api_versions_ok(sock, i + 1), f"connection {i} within the limit is served"
    extra = connect(server.kafka_port, FLOOD)
    assert closed_by_server(extra), "the 51st connection from one address must be closed"
    started = time.monotonic()
    with connect(server.kafka_port, OTHER) as other:
        assert api_versions_ok(other), "another address is served during the flood"
    print(f"kafka: other address served in {time.monotonic() - started:.4f}s with 50 held")
    held.pop().close()
    # The freed slot is available again once the server has seen the close.
    deadline = time.monotonic() + DEADLINE
    while True:
        again = connect(server.kafka_port, FLOOD)
        try:
            if api_versions_ok(again):
                break
        except (ConnectionError, OSError):
            pass
        finally:
            again.close()
        assert time.monotonic() < deadline, "a freed slot never came back"
        time.sleep(0.05)
    for sock in held + [extra]:
        sock.close()
    assert server.stop() == 0


def test_kafka_idle_connection_is_closed_after_connections_max_idle_ms(strom_factory, tmp_path):
    server = start(strom_factory, tmp_path, connections_max_idle_ms=500)
    with connect(server.kafka_port, OTHER) as sock:
        assert api_versions_ok(sock)
        assert closed_by_server(sock), "an idle Kafka connection must be closed"
    # A silent connection that never sent a byte is idle too.
    with connect(server.kafka_port, OTHER) as silent:
        assert closed_by_server(silent)
    assert server.stop() == 0


def test_http_per_address_limit_answers_429_and_serves_another_address(strom_factory, tmp_path):
    server = start(strom_factory, tmp_path, max_connections_per_ip=50, http_header_read_timeout_ms=120000)
    # Each held connection is admitted: it answers a request and stays open (keep-alive).
    held = [hold_http(server.http_port, FLOOD) for _ in range(50)]
    raw = http_exchange(server.http_port, FLOOD)
    status, headers, body = split_response(raw)
    assert status == "HTTP/1.1 429 Too Many Requests"
    assert headers["content-type"] == "application/problem+json"
    assert int(headers["content-length"]) == len(body)
    assert json.loads(body)["type"] == "https://strom.dev/problems/too-many-connections-from-address"
    status, _, _ = split_response(http_exchange(server.http_port, OTHER))
    assert status == "HTTP/1.1 200 OK"
    for sock in held:
        sock.close()
    assert server.stop() == 0


def test_http_503_for_too_many_connections_has_exact_bytes(strom_factory, tmp_path):
    server = start(strom_factory, tmp_path, max_connections=2, http_header_read_timeout_ms=120000)
    held = [hold_http(server.http_port, FLOOD) for _ in range(2)]
    raw = http_exchange(server.http_port, OTHER)
    body = (
        b'{"detail":"too many connections","error_code":50301,"status":503,'
        b'"title":"Service Unavailable","type":"https://strom.dev/problems/too-many-connections"}'
    )
    expected = (
        b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/problem+json\r\n"
        b"retry-after: 1\r\nconnection: close\r\ncontent-length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    assert raw == expected
    for sock in held:
        sock.close()
    assert server.stop() == 0


def test_http_slowloris_connections_are_closed_after_the_header_timeout(strom_factory, tmp_path):
    server = start(strom_factory, tmp_path, max_connections_per_ip=50, http_header_read_timeout_ms=1000)
    # Half never send a byte, half trickle a header forever: all 50 slots of one address.
    silent = [connect(server.http_port, FLOOD) for _ in range(25)]
    trickling = [connect(server.http_port, FLOOD) for _ in range(25)]
    for sock in trickling:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: ")
    stop = threading.Event()

    def trickle():
        while not stop.is_set():
            for sock in trickling:
                try:
                    sock.send(b"a")
                except OSError:
                    pass
            stop.wait(0.1)

    trickler = threading.Thread(target=trickle, daemon=True)
    trickler.start()
    try:
        started = time.monotonic()
        status, _, _ = split_response(http_exchange(server.http_port, OTHER))
        assert status == "HTTP/1.1 200 OK"
        print(f"http: other address served in {time.monotonic() - started:.4f}s during slowloris")
        for sock in silent + trickling:
            assert closed_by_server(sock), "a slowloris connection must be closed"
    finally:
        stop.set()
        trickler.join()
    # The flooding address is served again once its slots are freed.
    status, _, _ = split_response(http_exchange(server.http_port, FLOOD))
    assert status == "HTTP/1.1 200 OK"
    for sock in silent + trickling:
        sock.close()
    assert server.stop() == 0


def test_max_connections_is_lowered_to_fit_the_open_file_limit(strom_factory, tmp_path):
    """Under RLIMIT_NOFILE 512 with 256 files for logs, both listeners' sockets cannot reach
    the default 10,000: the server lowers max_connections to (512 - 256 - 64) / 2 = 96 and
    says so, so a flood is refused with a clean 503 instead of EMFILE on accept."""
    config = write_config(tmp_path, max_open_log_files=256, max_connections_per_ip=10_000)
    server = strom_factory(
        extra_args=["--config", str(config)], wrapper=["prlimit", "--nofile=512:512"]
    ).start()
    assert "lowered_to=96" in server.log_text()
    held, refused = [], None
    for _ in range(200):
        sock = connect(server.http_port, FLOOD)
        sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n")
        status = recv_exact(sock, 12)
        if status == b"HTTP/1.1 503":
            refused = sock
            break
        assert status == b"HTTP/1.1 200", status
        held.append(sock)
    assert refused is not None, f"{len(held)} connections admitted, none refused"
    assert len(held) <= 96
    refused.close()
    for sock in held:
        sock.close()
    assert server.stop() == 0
