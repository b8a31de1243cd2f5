"""ConsumerGroupDescribe (API 69, version 0) over a raw socket, written from Kafka's
ConsumerGroupDescribeRequest.json / ConsumerGroupDescribeResponse.json (flexible: compact
strings and arrays, uuids, tagged-field sections), for what AdminClient does not show: the
group epoch, the assignment epoch and each member's epoch."""

import socket
import struct

from kafka_wire import Reader, uvarint


def _assignment(r):
    def topic():
        r.take(16)
        name = r.compact_string()
        parts = r.compact_array(lambda: r.int(">i"))
        r.skip_tags()
        return name, parts
    out = {name: sorted(parts) for name, parts in r.compact_array(topic)}
    r.skip_tags()
    return out


def _member(r):
    s = r.compact_string
    m = {"member_id": s(), "instance_id": s(), "rack_id": s(), "member_epoch": r.int(">i"),
         "client_id": s(), "client_host": s(), "topics": r.compact_array(s), "regex": s()}
    m["assignment"] = _assignment(r)
    m["target"] = _assignment(r)
    r.skip_tags()
    return m


def describe(bootstrap, group):
    """{error_code, state, group_epoch, assignment_epoch, assignor, members: {id: member}}."""
    host, port = bootstrap.rsplit(":", 1)
    client = b"kip848-describe"
    header = struct.pack(">hhih", 69, 0, 1, len(client)) + client + b"\x00"
    body = uvarint(2) + uvarint(len(group) + 1) + group.encode() + b"\x00" + b"\x00"
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(struct.pack(">i", len(header + body)) + header + body)
        size = struct.unpack(">i", _recv(sock, 4))[0]
        r = Reader(_recv(sock, size))
    assert r.int(">i") == 1
    r.skip_tags()
    r.int(">i")  # throttle

    def one():
        g = {"error_code": r.int(">h"), "error_message": r.compact_string(), "group_id": r.compact_string(),
             "state": r.compact_string(), "group_epoch": r.int(">i"), "assignment_epoch": r.int(">i"),
             "assignor": r.compact_string()}
        g["members"] = {m["member_id"]: m for m in r.compact_array(lambda: _member(r))}
        r.int(">i")  # authorized operations
        r.skip_tags()
        return g
    (group_description,) = r.compact_array(one)
    return group_description


def _recv(sock, n):
    out = b""
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        assert chunk, "connection closed by strom"
        out += chunk
    return out
