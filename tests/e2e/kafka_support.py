"""Helpers shared by the Kafka end-to-end suites (test_kafka_*.py): client configs, a
consume-until helper over confluent-kafka, a raw-protocol client built on kafka-python's
message classes, and a config-file helper for servers with non-default limits."""

import socket
import struct
import time

import confluent_kafka as ck
from confluent_kafka.admin import AdminClient, NewTopic


def admin(bootstrap):
    return AdminClient({"bootstrap.servers": bootstrap})


def create_topic(bootstrap, name, partitions=1, config=None):
    # Keep the client referenced until the future resolves: destroying it fails the future.
    client = admin(bootstrap)
    futures = client.create_topics(
        [NewTopic(name, partitions, 1, config=config or {})], operation_timeout=10
    )
    futures[name].result(timeout=15)


def consumer(bootstrap, **extra):
    # librdkafka wants a group.id even for assign()-only consumers; nothing is committed.
    conf = {
        "bootstrap.servers": bootstrap,
        "group.id": "strom-e2e",
        "enable.auto.commit": False,
        "enable.partition.eof": False,
    }
    conf.update(extra)
    return ck.Consumer(conf)


def consume(bootstrap, topic, count, partitions=(0,), offset=ck.OFFSET_BEGINNING, timeout=20, **extra):
    """Reads `count` messages from the given partitions (assign, no group)."""
    c = consumer(bootstrap, **extra)
    try:
        c.assign([ck.TopicPartition(topic, p, offset) for p in partitions])
        out = []
        deadline = time.time() + timeout
        while len(out) < count and time.time() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                raise AssertionError(f"consume error: {m.error()}")
            out.append(m)
        assert len(out) == count, f"got {len(out)} of {count} messages from {topic}"
        return out
    finally:
        c.close()


def produce_waiting(producer, topic, wait=0.1, **kwargs):
    """`producer.produce(topic, **kwargs)`, polling `wait` seconds at a time while the
    client's queue is full (BufferError) instead of failing."""
    while True:
        try:
            producer.produce(topic, **kwargs)
            return
        except BufferError:
            producer.poll(wait)


def write_config(tmp_path, **settings):
    """A strom TOML config file with the given top-level keys."""
    path = tmp_path / "strom.toml"
    lines = []
    for key, value in settings.items():
        if isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, (int, float)):
            lines.append(f"{key} = {value}")
        else:
            lines.append(f'{key} = "{value}"')
    path.write_text("\n".join(lines) + "\n")
    return path


class Wire:
    """A raw Kafka protocol connection: frames built with kafka-python's request classes (or
    raw bytes), responses read back whole. Lets tests pipeline requests and send bad frames."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.correlation = 0

    def close(self):
        self.sock.close()

    def frame(self, request, correlation_id=None, client_id="strom-e2e"):
        from kafka.protocol.api import RequestHeader

        if correlation_id is None:
            self.correlation += 1
            correlation_id = self.correlation
        header = RequestHeader(request, correlation_id=correlation_id, client_id=client_id)
        payload = header.encode() + request.encode()
        return struct.pack(">i", len(payload)) + payload

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, request, correlation_id=None):
        data = self.frame(request, correlation_id)
        self.sock.sendall(data)
        return struct.unpack(">i", data[8:12])[0]

    def _exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("closed by server")
            buf += chunk
        return buf

    def recv_frame(self):
        (size,) = struct.unpack(">i", self._exact(4))
        return self._exact(size)

    def recv(self, request):
        """(correlation id, decoded response) for a non-flexible request's response."""
        frame = self.recv_frame()
        (correlation_id,) = struct.unpack(">i", frame[:4])
        return correlation_id, request.RESPONSE_TYPE.decode(frame[4:])

    def server_unread_bytes(self):
        """Bytes the server has received on this connection but its process not yet read: the
        rx queue of the server's end in /proc/net/tcp (loopback, so the same kernel)."""
        local = self.sock.getsockname()[1]
        server = self.sock.getpeername()[1]
        with open("/proc/net/tcp") as table:
            for line in table.readlines()[1:]:
                fields = line.split()
                here, there = int(fields[1].split(":")[1], 16), int(fields[2].split(":")[1], 16)
                if (here, there) == (server, local):
                    return int(fields[4].split(":")[1], 16)
        raise AssertionError(f"no server socket for port {local} in /proc/net/tcp")

    def wait_server_read(self, timeout=30.0):
        """Waits until the server process has read everything sent on this connection."""
        deadline = time.time() + timeout
        while self.server_unread_bytes() > 0:
            assert time.time() < deadline, "the server never read the request"
            time.sleep(0.01)

    def closed_by_server(self, wait=5.0):
        self.sock.settimeout(wait)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


def wait_for_log(server, needle, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if needle in server.log_text():
            return True
        time.sleep(0.05)
    return False
