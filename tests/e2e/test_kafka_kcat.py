"""kcat (librdkafka's command-line client) against Strom: metadata listing, keyed produce from
stdin, consume from the beginning / an offset / the end, and headers round-tripping."""

import shutil
import subprocess
import time

import pytest

from kafka_support import create_topic

pytestmark = pytest.mark.skipif(shutil.which("kcat") is None, reason="kcat not installed (tests/install-deps.sh)")


def kcat(strom, *args, input=None, timeout=30):
    result = subprocess.run(
        ["kcat", "-b", strom.bootstrap, *args],
        input=input, capture_output=True, timeout=timeout, text=True,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_metadata_listing(strom):
    create_topic(strom.bootstrap, "listed", partitions=3)
    out = kcat(strom, "-L")
    assert "1 brokers:" in out
    assert f"broker 1 at {strom.bootstrap}" in out
    assert 'topic "listed" with 3 partitions' in out
    assert "leader 1, replicas: 1, isrs: 1" in out
    json_out = kcat(strom, "-L", "-J")
    assert '"topic":"listed"' in json_out


def test_produce_keys_from_stdin_and_consume_from_beginning(strom):
    lines = "".join(f"user{i % 3}:event {i}\n" for i in range(30))
    kcat(strom, "-P", "-t", "events", "-K:", input=lines)  # topic auto-created
    out = kcat(strom, "-C", "-t", "events", "-o", "beginning", "-e", "-f", "%k|%s|%o\n")
    rows = [line.split("|") for line in out.splitlines()]
    assert [(k, v) for k, v, _ in rows] == [(f"user{i % 3}", f"event {i}") for i in range(30)]
    assert [int(o) for _, _, o in rows] == list(range(30))


def test_consume_from_offset_and_from_end(strom):
    kcat(strom, "-P", "-t", "offsets", input="".join(f"m{i}\n" for i in range(10)))
    out = kcat(strom, "-C", "-t", "offsets", "-o", "7", "-e", "-f", "%s\n")
    assert out.split() == ["m7", "m8", "m9"]
    out = kcat(strom, "-C", "-t", "offsets", "-o", "-2", "-e", "-f", "%s\n")
    assert out.split() == ["m8", "m9"]
    # From the end: a consumer started now sees only what is produced afterwards.
    consumer = subprocess.Popen(
        ["kcat", "-b", strom.bootstrap, "-C", "-t", "offsets", "-o", "end", "-c", "1", "-f", "%s@%o\n"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    # kcat gives no sign of having reached the end, so produce until it has read one record:
    # whatever it prints must be one produced after it started, never one of the first ten.
    deadline = time.time() + 30
    while consumer.poll() is None:
        assert time.time() < deadline, "kcat -o end never read a new record"
        kcat(strom, "-P", "-t", "offsets", input="fresh\n")
        try:
            consumer.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            pass
    out, err = consumer.communicate(timeout=20)
    value, offset = out.strip().split("@")
    assert value == "fresh" and int(offset) >= 10, (out, err)


def test_headers_round_trip(strom):
    create_topic(strom.bootstrap, "headed")
    kcat(strom, "-P", "-t", "headed", "-k", "k1", "-H", "trace=abc123", "-H", "source=kcat",
         input="with headers\n")
    out = kcat(strom, "-C", "-t", "headed", "-o", "beginning", "-e", "-f", "%k|%s|%h\n")
    key, value, headers = out.strip().split("|")
    assert (key, value) == ("k1", "with headers")
    assert headers == "trace=abc123,source=kcat"
