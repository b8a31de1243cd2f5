"""A webhook receiver for the end-to-end tests: a threaded HTTP server that verifies every
request with the official `standardwebhooks` library and records what it got. Its answer is
decided per request by `behaviour(request) -> (status, headers, body)`, which tests swap."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook


class Received:
    def __init__(self, webhook_id, headers, body, verified):
        self.id = webhook_id
        self.headers = headers
        self.body = body
        self.verified = verified
        self.at = time.time()

    def json(self):
        return json.loads(self.body)


def ok(_request):
    return 200, {}, b"ok"


class Receiver:
    def __init__(self, behaviour=ok):
        self.behaviour = behaviour
        self.secret = None
        self.requests = []  # every request, in arrival order
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                verified = False
                if receiver.secret:
                    try:
                        Webhook(receiver.secret).verify(body, headers)
                        verified = True
                    except Exception:  # noqa: BLE001 (recorded, the test asserts on it)
                        verified = False
                request = Received(headers.get("webhook-id"), headers, body, verified)
                with receiver.lock:
                    receiver.requests.append(request)
                status, extra, answer = receiver.behaviour(request)
                self.send_response(status)
                for k, v in extra.items():
                    self.send_header(k, v)
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def delivered(self):
        """Requests answered 2xx are not known here; tests track them by behaviour."""
        with self.lock:
            return list(self.requests)

    def ids(self):
        return [r.id for r in self.delivered()]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def wait_for(condition, timeout=60.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
