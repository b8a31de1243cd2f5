"""Decompression bombs (issue 10, item 4): a 130 KB zstd batch that inflates to 4 GiB (64 records
of 64 MiB of zeros). Every server here runs under `prlimit --as` (3 GiB of address space), so a
regression that inflates the bomb aborts that server instead of taking the machine down.

- Produced: refused with a Kafka error (plain and compacted topics, with and without the inflated
  size in the zstd frame header); nothing stored; the server lives on and takes good batches.
- Stored before the fix (planted in a stopped server's segment files with a correct CRC): the
  server starts, HTTP reads of it answer a clear error and reads after it work, the cleaner of
  the compacted topic passes it and cleans the rest, and the server restarts and serves."""

import time

import pytest
import requests

from kafka.protocol.offset import OffsetRequest

from batch_wire import (
    CORRUPT_MESSAGE, INVALID_RECORD, MESSAGE_TOO_LARGE, Record, build_batch, high_watermark,
    UNDER_PRLIMIT, log_bytes, partition_dir, produce_raw, write_segments, zstd_bomb,
    NOW,
)
from kafka_support import Wire, create_topic

# Far below the bomb's 4 GiB: reading or refusing it must not inflate it.
PEAK_RSS_LIMIT = 1 << 30
REFUSED = (CORRUPT_MESSAGE, MESSAGE_TOO_LARGE, INVALID_RECORD)
DEADLINE = 60.0
TS = NOW  # the bomb's records' timestamp


@pytest.fixture(scope="module")
def bombs():
    return {"size-in-frame": zstd_bomb(declare_size=True), "no-size": zstd_bomb(declare_size=False)}


def peak_rss(server):
    """VmHWM of the running server, in bytes."""
    for line in open(f"/proc/{server.proc.pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


def assert_alive(server):
    assert server.proc.poll() is None, f"strom died:\n{server.log_text()[-4000:]}"
    assert requests.get(f"{server.http}/healthz", timeout=30).status_code == 200


def keyed(key, value, timestamp=TS):
    return build_batch([Record(key, value)], base_timestamp=timestamp)


def test_a_bomb_is_refused_at_produce_and_nothing_is_stored(strom_factory, bombs):
    server = strom_factory(wrapper=UNDER_PRLIMIT).start()
    create_topic(server.bootstrap, "plain")
    create_topic(server.bootstrap, "compacted", config={"cleanup.policy": "compact"})
    for topic in ("plain", "compacted"):
        assert produce_raw(server.kafka_port, topic, keyed(b"k", b"before")) == (0, 0)
        for name, bomb in bombs.items():
            error_code, _ = produce_raw(server.kafka_port, topic, bomb)
            assert error_code in REFUSED, f"{name} bomb to {topic}: error {error_code}"
            assert high_watermark(server.kafka_port, topic) == 1
            assert log_bytes(server, topic) == len(keyed(b"k", b"before"))
            assert_alive(server)
        assert produce_raw(server.kafka_port, topic, keyed(b"k", b"after")) == (0, 1)
    rss = peak_rss(server)
    print(f"peak RSS after refusing 4 bombs: {rss >> 20} MiB")
    assert rss < PEAK_RSS_LIMIT
    assert server.stop() == 0


def records_at(server, topic, offset):
    return requests.get(f"{server.http}/v1/topics/{topic}/partitions/0/records",
                        params={"offset": offset, "limit": 1, "format": "binary"}, timeout=60)


def plant_bomb(server, topic, bomb):
    """Segments: [bomb at 0..63], [a@64], [a@65], active [b@66]. Compaction must drop a@64."""
    write_segments(partition_dir(server, topic), {
        0: [bomb],
        64: [keyed(b"a", b"old", TS + 1000)],
        65: [keyed(b"a", b"new", TS + 2000)],
        66: [keyed(b"b", b"active", TS + 3000)],
    })


def offset_for_time(server, topic, timestamp):
    """(error code, offset) of ListOffsets by timestamp."""
    w = Wire(server.kafka_port, timeout=60)
    try:
        req = OffsetRequest[1](replica_id=-1, topics=[(topic, [(0, timestamp)])])
        w.send(req)
        _, error_code, _, offset = w.recv(req)[1].topics[0][1][0]
        return error_code, offset
    finally:
        w.close()


def died(server, what):
    code = server.proc.wait(timeout=30)
    return AssertionError(f"strom exited ({code}) {what}:\n{server.log_text()[-3000:]}")


def wait_until(server, condition, what):
    deadline = time.time() + DEADLINE
    while time.time() < deadline:
        if server.proc.poll() is not None:
            raise died(server, f"while waiting until {what}")
        try:
            if condition():
                return
        except requests.ConnectionError as err:
            raise died(server, f"while waiting until {what}") from err
        time.sleep(0.1)
    raise AssertionError(f"not within {DEADLINE}s: {what}")


def first_offset_from(server, topic, offset):
    r = records_at(server, topic, offset)
    return r.json()["records"][0]["offset"] if r.status_code == 200 else None


def assert_clear_error(server, response):
    assert response.status_code >= 400, response.text[:300]
    assert response.headers["content-type"].startswith("application/problem+json")
    assert str(server.data_dir) not in response.text


def test_a_stored_bomb_breaks_no_reader_no_cleaner_and_no_start(strom_factory, bombs):
    args = ["--retention-check-interval-ms", "200"]
    server = strom_factory(extra_args=args, wrapper=UNDER_PRLIMIT).start()
    create_topic(server.bootstrap, "stored", config={"cleanup.policy": "compact"})
    assert server.stop() == 0
    plant_bomb(server, "stored", bombs["size-in-frame"])

    server.start()
    assert high_watermark(server.kafka_port, "stored") == 67
    # The cleaner passes the bomb and still compacts what follows it.
    wait_until(server, lambda: first_offset_from(server, "stored", 64) == 65,
               "the cleaner removed a@64, superseded by a@65")
    assert_clear_error(server, records_at(server, "stored", 0))
    assert_alive(server)
    assert first_offset_from(server, "stored", 65) == 65
    # The bomb's header says its newest record is older: no need to look inside it (a@64 was
    # compacted away, so the first record at or after the time is a@65).
    assert offset_for_time(server, "stored", TS + 500) == (0, 65)
    error_code, offset = offset_for_time(server, "stored", TS)
    assert (error_code, offset) == (0, 0) or error_code != 0
    assert_alive(server)
    feed = requests.get(f"{server.http}/feeds/stored", params={"limit": 1}, timeout=60)
    assert feed.status_code == 200 or feed.headers["content-type"].startswith(
        "application/problem+json"), feed.text[:300]
    assert_alive(server)
    rss = peak_rss(server)
    print(f"peak RSS with a stored 4 GiB bomb read and cleaned: {rss >> 20} MiB")
    assert rss < PEAK_RSS_LIMIT

    server.restart()
    assert_alive(server)
    assert first_offset_from(server, "stored", 64) == 65
    assert_clear_error(server, records_at(server, "stored", 0))
    assert produce_raw(server.kafka_port, "stored", keyed(b"c", b"later")) == (0, 67)
    assert server.stop() == 0
