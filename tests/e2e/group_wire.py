"""A minimal Kafka request/response round trip over a raw socket, using kafka-python's protocol
structs, for tests that must send exactly the (wrong) request a real client never would."""

import socket
import struct

from kafka.protocol.api import RequestHeader


class Wire:
    def __init__(self, bootstrap: str):
        host, port = bootstrap.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        self.correlation_id = 0

    def call(self, request):
        self.correlation_id += 1
        header = RequestHeader(request, correlation_id=self.correlation_id, client_id="wire-test")
        body = header.encode() + request.encode()
        self.sock.sendall(struct.pack(">i", len(body)) + body)
        size = struct.unpack(">i", self._read(4))[0]
        payload = self._read(size)
        (correlation_id,) = struct.unpack(">i", payload[:4])
        assert correlation_id == self.correlation_id
        return request.RESPONSE_TYPE.decode(payload[4:])

    def _read(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("connection closed by strom")
            out += chunk
        return out

    def close(self):
        self.sock.close()
