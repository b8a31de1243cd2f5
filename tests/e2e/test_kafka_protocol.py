"""The Kafka front end at the wire level: version negotiation, unsupported APIs, oversized and
malformed frames, pipelining order, acks=0, long polling, connection limits and shutdown.
Requests are built with kafka-python's protocol classes and sent over a raw socket."""

import struct
import threading
import time

import confluent_kafka as ck
from kafka.protocol.admin import ApiVersionRequest
from kafka.protocol.fetch import FetchRequest
from kafka.protocol.metadata import MetadataRequest
from kafka.protocol.produce import ProduceRequest
from kafka.record.memory_records import MemoryRecordsBuilder

from kafka_support import Wire, consume, create_topic, wait_for_log, write_config

# Classic consumer-group APIs and the versions served (see docs/groups.md).
GROUP_APIS = {8: (2, 9), 9: (1, 9), 10: (0, 6), 11: (0, 9), 12: (0, 4), 13: (0, 5), 14: (0, 5),
              15: (0, 5), 16: (0, 5), 42: (0, 2), 47: (0, 0)}
# KIP-848's consumer group APIs: ConsumerGroupHeartbeat and ConsumerGroupDescribe.
CONSUMER_GROUP_APIS = {68: (0, 1), 69: (0, 1)}
# SASL is not served on a PLAINTEXT listener; WriteTxnMarkers (broker to broker) never is.
UNSERVED_API_KEYS = {17, 27, 36}


def api_versions(port):
    w = Wire(port)
    try:
        req = ApiVersionRequest[2]()
        w.send(req)
        _, resp = w.recv(req)
        return resp
    finally:
        w.close()


def test_api_versions_lists_served_apis_and_the_classic_group_apis(strom):
    resp = api_versions(strom.kafka_port)
    assert resp.error_code == 0
    served = {key: (lo, hi) for key, lo, hi in resp.api_versions}
    assert served[0] == (3, 12)  # Produce
    assert served[1][0] <= 4 and served[1][1] >= 13  # Fetch, incl. topic-id versions
    assert served[18] == (0, 4)  # ApiVersions
    for key in (2, 3, 19, 20, 21, 22, 32, 33, 37, 44, 60):
        assert key in served, key
    for key, versions in GROUP_APIS.items():
        assert served.get(key) == versions, key
    # KIP-848's protocol is served too (clients use it with group.protocol=consumer).
    for key, versions in CONSUMER_GROUP_APIS.items():
        assert served.get(key) == versions, key
    assert not UNSERVED_API_KEYS & served.keys()


def test_too_new_api_versions_gets_v0_answer_with_unsupported_version(strom):
    w = Wire(strom.kafka_port)
    client_id = b"future-client"
    # ApiVersions v99: flexible request header (v2) and a body we cannot know.
    payload = struct.pack(">hhih", 18, 99, 77, len(client_id)) + client_id + b"\x00" + b"\x01\x02"
    w.send_raw(struct.pack(">i", len(payload)) + payload)
    frame = w.recv_frame()
    # Response header v0 (just the correlation id), then the v0 body.
    correlation_id, error_code, count = struct.unpack(">ihi", frame[:10])
    assert correlation_id == 77
    assert error_code == 35  # UNSUPPORTED_VERSION
    entries = [struct.unpack(">hhh", frame[10 + 6 * i:16 + 6 * i]) for i in range(count)]
    assert (18, 0, 4) in entries
    # The connection stays usable: the client retries with a version we know.
    req = ApiVersionRequest[0]()
    w.send(req)
    _, resp = w.recv(req)
    assert resp.error_code == 0
    w.close()


def test_unsupported_api_closes_only_that_connection_with_a_log_line(strom):
    other = Wire(strom.kafka_port)
    w = Wire(strom.kafka_port)
    # WriteTxnMarkers v1 (broker to broker: not served).
    payload = struct.pack(">hhih", 27, 1, 5, 4) + b"test" + struct.pack(">h", 5) + b"txnid"
    w.send_raw(struct.pack(">i", len(payload)) + payload)
    assert w.closed_by_server()
    assert wait_for_log(strom, "is not served")
    req = MetadataRequest[1](topics=None)
    other.send(req)
    _, resp = other.recv(req)
    assert resp.brokers[0][0] == 1
    other.close()


def test_unsupported_version_of_a_served_api_closes_with_a_log_line(strom):
    w = Wire(strom.kafka_port)
    # Metadata v99.
    payload = struct.pack(">hhih", 3, 99, 6, 4) + b"test"
    w.send_raw(struct.pack(">i", len(payload)) + payload)
    assert w.closed_by_server()
    assert wait_for_log(strom, "Metadata v99 is not served")


def test_malformed_requests_close_the_connection_and_the_server_lives_on(strom):
    cases = [
        # Metadata v1 announcing 2^31-1 topics with nothing after the count.
        struct.pack(">hhih", 3, 1, 1, 4) + b"test" + struct.pack(">i", 0x7FFFFFFF),
        # Produce v3 cut off in the middle of its topic array.
        struct.pack(">hhih", 0, 3, 2, 4) + b"test" + struct.pack(">hhii", -1, 1, 1000, 1),
        # Too short for a request header.
        b"\x00\x03",
    ]
    for payload in cases:
        w = Wire(strom.kafka_port)
        w.send_raw(struct.pack(">i", len(payload)) + payload)
        assert w.closed_by_server(), payload
        w.close()
    assert wait_for_log(strom, "closing Kafka connection")
    assert api_versions(strom.kafka_port).error_code == 0


def test_oversized_frame_closes_the_connection(strom_factory, tmp_path):
    config = write_config(tmp_path, max_frame_bytes=4096)
    server = strom_factory(extra_args=["--config", str(config)]).start()
    w = Wire(server.kafka_port)
    w.send_raw(struct.pack(">i", 1 << 20) + b"\x00" * 64)
    assert w.closed_by_server()
    assert wait_for_log(server, "exceeds the maximum of 4096 bytes")
    # Normal traffic is unaffected.
    p = ck.Producer({"bootstrap.servers": server.bootstrap})
    p.produce("small", value=b"fits")
    assert p.flush(15) == 0
    assert consume(server.bootstrap, "small", 1)[0].value() == b"fits"
    assert server.stop() == 0


def served_connection(port, timeout=30.0):
    """A connection that got an ApiVersions answer, retrying while the server refuses it."""
    deadline = time.time() + timeout
    while True:
        w = Wire(port)
        req = ApiVersionRequest[0]()
        try:
            w.send(req)
            assert w.recv(req)[1].error_code == 0
            return w
        except (ConnectionError, OSError):
            w.close()
            assert time.time() < deadline, "no connection was served"
            time.sleep(0.05)


def test_max_connections_is_enforced(strom_factory, tmp_path):
    config = write_config(tmp_path, max_connections=2)
    server = strom_factory(extra_args=["--config", str(config)]).start()
    # The harness's readiness probe used a connection, released once the server notices the
    # close: retry until two connections are served.
    first = served_connection(server.kafka_port)
    second = served_connection(server.kafka_port)
    third = Wire(server.kafka_port)
    assert third.closed_by_server()
    assert wait_for_log(server, "connection limit reached")
    first.close()
    fourth = served_connection(server.kafka_port)
    for w in (second, third, fourth):
        w.close()
    assert server.stop() == 0


def record_batch(values):
    builder = MemoryRecordsBuilder(magic=2, compression_type=0, batch_size=1 << 20)
    for i, value in enumerate(values):
        builder.append(timestamp=int(time.time() * 1000), key=f"k{i}".encode(), value=value, headers=[])
    builder.close()
    return builder.buffer()


def fetch_request(topic, offset, max_wait_ms, min_bytes=1):
    return FetchRequest[5](
        replica_id=-1, max_wait_time=max_wait_ms, min_bytes=min_bytes, max_bytes=1 << 20,
        isolation_level=0, topics=[(topic, [(0, offset, 0, 1 << 20)])],
    )


def test_pipelined_requests_are_answered_in_order(strom):
    create_topic(strom.bootstrap, "pipe")
    w = Wire(strom.kafka_port)
    requests = [
        MetadataRequest[1](topics=["pipe"]),
        fetch_request("pipe", 0, max_wait_ms=300),  # long poll with nothing to read
        ApiVersionRequest[1](),
        ProduceRequest[3](transactional_id=None, required_acks=1, timeout=5000,
                          topics=[("pipe", [(0, record_batch([b"a", b"b"]))])]),
        fetch_request("pipe", 0, max_wait_ms=5000),
        MetadataRequest[1](topics=None),
    ]
    frames = b"".join(w.frame(r, correlation_id=100 + i) for i, r in enumerate(requests))
    w.send_raw(frames)
    for i, req in enumerate(requests):
        correlation_id, resp = w.recv(req)
        assert correlation_id == 100 + i
    w.close()
    # The produce pipelined between the fetches was applied.
    w = Wire(strom.kafka_port)
    req = fetch_request("pipe", 0, max_wait_ms=0)
    w.send(req)
    _, resp = w.recv(req)
    part = resp.topics[0][1][0]
    assert part[1] == 0 and part[2] == 2
    w.close()


def test_acks_zero_produce_gets_no_response(strom):
    create_topic(strom.bootstrap, "fire")
    w = Wire(strom.kafka_port)
    produce = ProduceRequest[3](transactional_id=None, required_acks=0, timeout=5000,
                                topics=[("fire", [(0, record_batch([b"forgotten"]))])])
    w.send(produce, correlation_id=1)
    ping = ApiVersionRequest[0]()
    w.send(ping, correlation_id=2)
    correlation_id, _ = w.recv(ping)
    assert correlation_id == 2  # nothing was sent for correlation id 1
    w.close()
    assert consume(strom.bootstrap, "fire", 1)[0].value() == b"forgotten"


def test_fetch_long_poll_wakes_on_new_data(strom):
    create_topic(strom.bootstrap, "poll")
    w = Wire(strom.kafka_port)
    req = fetch_request("poll", 0, max_wait_ms=60000)
    start = time.time()
    w.send(req)
    w.wait_server_read()  # the fetch is with the server, waiting for data
    p = ck.Producer({"bootstrap.servers": strom.bootstrap})
    p.produce("poll", value=b"wake up")
    assert p.flush(10) == 0
    _, resp = w.recv(req)
    elapsed = time.time() - start
    part = resp.topics[0][1][0]
    assert part[1] == 0
    assert part[2] == 1  # answered after the produce: the record is in the response
    assert len(part[6]) > 0
    # Woken by the produce, not by max_wait_ms (60 s) running out.
    assert elapsed < 30, f"long poll answered after {elapsed:.2f}s"
    w.close()


def test_fetch_min_bytes_zero_wait_answers_at_once_with_empty_records(strom):
    create_topic(strom.bootstrap, "empty")
    w = Wire(strom.kafka_port)
    req = fetch_request("empty", 0, max_wait_ms=0)
    w.send(req)
    _, resp = w.recv(req)
    part = resp.topics[0][1][0]
    assert part[1] == 0 and part[2] == 0
    assert part[6] == b""  # empty, not null
    w.close()


def test_fetch_out_of_range_reports_log_start_offset(strom):
    create_topic(strom.bootstrap, "range")
    p = ck.Producer({"bootstrap.servers": strom.bootstrap})
    p.produce("range", value=b"one")
    p.flush(10)
    w = Wire(strom.kafka_port)
    req = fetch_request("range", 50, max_wait_ms=0)
    w.send(req)
    _, resp = w.recv(req)
    part = resp.topics[0][1][0]
    assert part[1] == 1  # OFFSET_OUT_OF_RANGE
    assert part[2] == 1 and part[4] == 0  # high watermark, log start offset
    w.close()


def test_metadata_without_auto_create_reports_unknown_topic(strom_factory):
    server = strom_factory(extra_args=["--auto-create-topics", "false"]).start()
    w = Wire(server.kafka_port)
    req = MetadataRequest[4](topics=["nope"], allow_auto_topic_creation=True)
    w.send(req)
    _, resp = w.recv(req)
    assert resp.topics[0][0] == 3  # UNKNOWN_TOPIC_OR_PARTITION
    w.close()
    assert server.stop() == 0


def test_shutdown_ends_long_polls_promptly(strom_factory):
    server = strom_factory().start()
    create_topic(server.bootstrap, "bye")
    w = Wire(server.kafka_port)
    req = fetch_request("bye", 0, max_wait_ms=120000)
    w.send(req)
    w.wait_server_read()  # the fetch is with the server, waiting for data
    # Shutdown must end it well before its 120 s wait, with an answer (not a dropped socket).
    assert server.stop(timeout=60) == 0  # raises TimeoutExpired if the long poll held it
    _, resp = w.recv(req)
    assert resp.topics[0][1][0][1] == 0, resp
    w.close()
