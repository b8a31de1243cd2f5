"""ConsumerGroupDescribe (API 69, version 0) over a raw socket, written from Kafka's
ConsumerGroupDescribeRequest.json / ConsumerGroupDescribeResponse.json (flexible: compact
strings and arrays, uuids, tagged-field sections), for what AdminClient does not show: the
group epoch, the assignment epoch and each member's epoch."""

import socket
import struct


def _uvarint(n):
    out = b""
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n])


class _Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, n):
        out = self.data[self.pos:self.pos + n]
        assert len(out) == n, "truncated ConsumerGroupDescribe response"
        self.pos += n
        return out

    def int(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def uvarint(self):
        out, shift = 0, 0
        while True:
            byte = self.take(1)[0]
            out |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return out
            shift += 7

    def string(self):
        n = self.uvarint() - 1
        return None if n < 0 else self.take(n).decode()

    def array(self, item):
        return [item() for _ in range(self.uvarint() - 1)]

    def tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())


def _assignment(r):
    def topic():
        r.take(16)
        name = r.string()
        parts = r.array(lambda: r.int(">i"))
        r.tags()
        return name, parts
    out = {name: sorted(parts) for name, parts in r.array(topic)}
    r.tags()
    return out


def _member(r):
    m = {"member_id": r.string(), "instance_id": r.string(), "rack_id": r.string(),
         "member_epoch": r.int(">i"), "client_id": r.string(), "client_host": r.string(),
         "topics": r.array(r.string), "regex": r.string()}
    m["assignment"] = _assignment(r)
    m["target"] = _assignment(r)
    r.tags()
    return m


def describe(bootstrap, group):
    """{error_code, state, group_epoch, assignment_epoch, assignor, members: {id: member}}."""
    host, port = bootstrap.rsplit(":", 1)
    client = b"kip848-describe"
    header = struct.pack(">hhih", 69, 0, 1, len(client)) + client + b"\x00"
    body = _uvarint(2) + _uvarint(len(group) + 1) + group.encode() + b"\x00" + b"\x00"
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(struct.pack(">i", len(header + body)) + header + body)
        size = struct.unpack(">i", _recv(sock, 4))[0]
        r = _Reader(_recv(sock, size))
    assert r.int(">i") == 1
    r.tags()
    r.int(">i")  # throttle

    def one():
        g = {"error_code": r.int(">h"), "error_message": r.string(), "group_id": r.string(),
             "state": r.string(), "group_epoch": r.int(">i"), "assignment_epoch": r.int(">i"),
             "assignor": r.string()}
        g["members"] = {m["member_id"]: m for m in r.array(lambda: _member(r))}
        r.int(">i")  # authorized operations
        r.tags()
        return g
    (group_description,) = r.array(one)
    return group_description


def _recv(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        assert chunk, "connection closed by strom"
        out += chunk
    return out
