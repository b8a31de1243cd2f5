"""An HTTPS webhook receiver that speaks HTTP/2 (ALPN `h2`, falling back to nothing else) on
the `h2` protocol library, for the delivery-over-HTTP/2 test: it records, per request, the
negotiated protocol, the headers and the body, verifies the signature with the official
`standardwebhooks` library and answers 200."""

import socket
import ssl
import threading

import h2.config
import h2.connection
import h2.events
import h2.exceptions
from standardwebhooks.webhooks import Webhook


class H2Receiver:
    def __init__(self, cert, key):
        self.secret = None
        self.requests = []  # (alpn, headers, body, verified)
        self.lock = threading.Lock()
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        ctx.set_alpn_protocols(["h2"])
        self.ctx = ctx
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self):
        return f"https://localhost:{self.port}/hook"

    def _accept(self):
        while True:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw):
        try:
            conn = self.ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()
            return
        alpn = conn.selected_alpn_protocol()
        h2c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False,
                                                                   header_encoding="utf-8"))
        h2c.initiate_connection()
        conn.sendall(h2c.data_to_send())
        streams = {}
        try:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                for event in h2c.receive_data(data):
                    if isinstance(event, h2.events.RequestReceived):
                        streams[event.stream_id] = [dict(event.headers), b""]
                    elif isinstance(event, h2.events.DataReceived):
                        streams[event.stream_id][1] += event.data
                        h2c.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                    elif isinstance(event, h2.events.StreamEnded):
                        headers, body = streams.pop(event.stream_id)
                        self._record(alpn, headers, body)
                        h2c.send_headers(event.stream_id, [(":status", "200"),
                                                           ("content-length", "2")])
                        h2c.send_data(event.stream_id, b"ok", end_stream=True)
                conn.sendall(h2c.data_to_send())
        except (OSError, ssl.SSLError, h2.exceptions.ProtocolError):
            return
        finally:
            conn.close()

    def _record(self, alpn, headers, body):
        verified = False
        if self.secret:
            try:
                Webhook(self.secret).verify(body, {k.lower(): v for k, v in headers.items()})
                verified = True
            except Exception:  # noqa: BLE001 (recorded, the test asserts on it)
                verified = False
        with self.lock:
            self.requests.append((alpn, headers, body, verified))

    def received(self):
        with self.lock:
            return list(self.requests)

    def close(self):
        self.sock.close()
