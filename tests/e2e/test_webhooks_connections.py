"""Webhook delivery over keep-alive connections the receiver closes, against the real binary.

A receiver's idle timer can close a kept-alive connection just as the next request goes out on
it: the request is then unanswered and the connection gone. That is the pool's race, not a
failure of the endpoint: the request is sent once more on a new connection within the same
attempt, so no failed attempt is counted and nothing waits for the retry schedule. The race
is made deterministic here by a raw-socket receiver that answers the first request of every
connection and closes the connection, unanswered, when a second request arrives on it; a
second receiver closes connections idle for 100 ms. A receiver that never answers is still a
failed attempt, and its recorded error says what happened."""

import socket
import threading
import time

import requests

from test_webhooks import create_topic, metric, produce, subscribe
from webhook_receiver import wait_for

# A failed attempt would be retried only after a minute: far past every wait below.
SLOW_RETRY = [0, 60000]


class ClosingReceiver:
    """Raw HTTP/1.1 receiver. `mode`: `second` closes a connection when its second request
    arrives, `idle` closes a connection idle for `idle_s`, `never` closes every connection
    without answering."""

    def __init__(self, mode, idle_s=0.1):
        self.mode, self.idle_s = mode, idle_s
        self.answered, self.dropped, self.connections = [], 0, 0
        self.lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/hook"

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _request(self, conn, buf):
        """One request's webhook-id (and the bytes after it), or None at the end."""
        while b"\r\n\r\n" not in buf:
            chunk = conn.recv(65536)
            if not chunk:
                return None, b""
            buf += chunk
        head, rest = buf.split(b"\r\n\r\n", 1)
        headers = dict(line.split(b":", 1) for line in head.split(b"\r\n")[1:])
        headers = {k.strip().lower(): v.strip() for k, v in headers.items()}
        length = int(headers.get(b"content-length", b"0"))
        while len(rest) < length:
            chunk = conn.recv(65536)
            if not chunk:
                return None, b""
            rest += chunk
        return headers.get(b"webhook-id", b"").decode(), rest[length:]

    def _serve(self, conn):
        buf, served = b"", 0
        if self.mode == "idle":
            conn.settimeout(self.idle_s)
        try:
            while True:
                webhook_id, buf = self._request(conn, buf)
                if webhook_id is None:
                    return
                if self.mode == "never" or (self.mode == "second" and served >= 1):
                    with self.lock:
                        self.dropped += 1
                    return
                with self.lock:
                    self.answered.append(webhook_id)
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                served += 1
        except (socket.timeout, OSError):
            return
        finally:
            conn.close()

    def close(self):
        self.sock.close()


def failed_attempts(strom, sub):
    text = requests.get(f"{strom.http}/metrics").text
    prefix = f'strom_webhook_failed_attempts_total{{subscription="{sub}"'
    return sum(float(l.split()[-1]) for l in text.splitlines() if l.startswith(prefix))


def attempts(strom, sub):
    return requests.get(f"{strom.http}/v1/webhooks/{sub}/attempts").json()


def test_a_pooled_connection_closed_by_the_receiver_is_no_failed_attempt(strom):
    receiver = ClosingReceiver("second")
    create_topic(strom, "pool")
    subscribe(strom, receiver, "pool-hook", ["pool"], retry_schedule_ms=SLOW_RETRY)
    produce(strom, "pool", 10)
    wait_for(lambda: len(receiver.answered) >= 10, timeout=30, what="10 answered deliveries")
    # Every second request went out on a connection the receiver then closed unanswered.
    assert receiver.dropped >= 4, (receiver.dropped, receiver.connections)
    assert sorted(receiver.answered) == sorted(f"pool/0/{i}" for i in range(10))
    assert failed_attempts(strom, "pool-hook") == 0
    history = attempts(strom, "pool-hook")
    assert [a["result"] for a in history] == ["delivered"] * 10, history
    assert all(a["attempt"] == 1 for a in history), history
    receiver.close()


def test_idle_connections_closed_quickly_and_unanswered_requests(strom):
    idle = ClosingReceiver("idle", idle_s=0.1)
    never = ClosingReceiver("never")
    create_topic(strom, "idle")
    subscribe(strom, idle, "idle-hook", ["idle"], retry_schedule_ms=SLOW_RETRY)
    subscribe(strom, never, "never-hook", ["idle"], retry_schedule_ms=SLOW_RETRY)
    for i in range(6):
        produce(strom, "idle", 1, start=i)
        time.sleep(0.15 if i % 2 else 0.1)  # around the receiver's idle timeout
    wait_for(lambda: len(idle.answered) >= 6, timeout=30, what="6 answered deliveries")
    assert sorted(idle.answered) == sorted(f"idle/0/{i}" for i in range(6))
    assert failed_attempts(strom, "idle-hook") == 0
    # A receiver that never answers: one failed attempt (sent twice), its error says why.
    wait_for(lambda: attempts(strom, "never-hook"), timeout=30, what="a failed attempt")
    failed = attempts(strom, "never-hook")[0]
    assert failed["result"] == "other" and failed["status"] is None, failed
    assert failed["error"] == "the receiver closed the connection before answering", failed
    assert metric(strom, "strom_webhook_delivered_total", "never-hook") == 0
    idle.close()
    never.close()
