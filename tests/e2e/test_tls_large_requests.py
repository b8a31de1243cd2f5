"""Large requests over TLS and the server's batched socket reads (strom_tls::ReadAhead):
while a large request arrives the server asks the kernel (SO_RCVLOWAT) not to wake it before
most of the rest is there. These clients must never stall it: one sends a 640 KiB Produce
request in 1 KiB TLS records with pauses (each record barely larger than its plaintext, the
tightest case for the low-water mark) and ends with a few tiny records; one sends a large
frame's header and part of its body, then closes. Raw frames over Python's ssl, so the
record sizes are the test's."""

import os
import socket
import ssl
import time

from kafka.protocol.produce import ProduceRequest
from kafka.record.memory_records import MemoryRecordsBuilder

from kafka_support import Wire, consume, create_topic
# The fixtures (a PKI made in tmp_path, a server with TLS listeners) are test_tls.py's.
from test_tls import pki, tls_strom, wait_for_log  # noqa: F401

DEADLINE = 30


def tls_wire(server, pki):
    raw = socket.create_connection(("127.0.0.1", server.ssl_port), timeout=DEADLINE)
    context = ssl.create_default_context(cafile=str(pki.ca))
    wire = Wire.__new__(Wire)
    wire.sock, wire.correlation = context.wrap_socket(raw, server_hostname="localhost"), 0
    return wire


def produce_frame(wire, topic, value):
    builder = MemoryRecordsBuilder(magic=2, compression_type=0, batch_size=len(value) + 4096)
    builder.append(timestamp=int(time.time() * 1000), key=b"k", value=value, headers=[])
    builder.close()
    request = ProduceRequest[3](transactional_id=None, required_acks=1, timeout=30000,
                                topics=[(topic, [(0, builder.buffer())])])
    return request, wire.frame(request)


def test_a_large_request_in_small_paced_tls_records_is_answered(tls_strom, pki):
    create_topic(tls_strom.bootstrap, "paced")
    value = os.urandom(640 * 1024)
    wire = tls_wire(tls_strom, pki)
    request, frame = produce_frame(wire, "paced", value)
    sent = 0
    while sent < len(frame) - 16:
        wire.sock.sendall(frame[sent:sent + 1024])  # one TLS record each
        sent += 1024
        if sent % (64 * 1024) == 0:
            time.sleep(0.05)  # the server catches up and waits for the rest
    time.sleep(0.2)
    for i in range(sent, len(frame)):
        wire.sock.sendall(frame[i:i + 1])
    _, response = wire.recv(request)  # socket.timeout here: the server waited for bytes that never come
    ((topic, ((partition, code, offset, *_),)),) = response.topics
    assert (topic, partition, code, offset) == ("paced", 0, 0, 0), response
    wire.close()
    (record,) = consume(tls_strom.bootstrap, "paced", 1)
    assert record.value() == value


def test_a_client_that_closes_inside_a_large_frame_is_let_go(tls_strom, pki):
    wire = tls_wire(tls_strom, pki)
    _, frame = produce_frame(wire, "torn", os.urandom(512 * 1024))
    wire.sock.sendall(frame[:100 * 1024])
    time.sleep(0.2)  # the server is now waiting for the rest of the frame
    wire.sock.close()
    wait_for_log(tls_strom, "Kafka connection read failed")
    # The server goes on serving others on the same listener.
    wire = tls_wire(tls_strom, pki)
    create_topic(tls_strom.bootstrap, "after-torn")
    request, frame = produce_frame(wire, "after-torn", b"still served")
    wire.sock.sendall(frame)
    _, response = wire.recv(request)
    assert response.topics[0][1][0][1] == 0, response
    wire.close()
    assert "panicked" not in tls_strom.log_text()
