"""Produce validates the records inside every batch, compressed or not (issue 10, item 3): a
batch whose codec does not decode, whose header count or offset deltas disagree with the records
it holds, is refused with Kafka's error code before anything is written. For each case: the code,
an unmoved high watermark, unchanged segment bytes, a good batch after it landing at the old high
watermark, and after a restart every reader still reads the topic cleanly."""

import pytest
import requests

from batch_wire import (
    CODECS, CORRUPT_MESSAGE, GZIP, INVALID_RECORD, NONE, Record, batch_from_body, build_batch,
    compress, encode_record, encode_records, high_watermark, log_bytes, produce_raw, ZSTD, NOW,
)
from kafka_support import consume, create_topic

TS = NOW


def good(prefix, n=2):
    return [Record(f"{prefix}-k{i}".encode(), f"{prefix}-v{i}".encode()) for i in range(n)]


def not_that_codec(codec):
    """Records flagged with `codec` whose body is plain records, not that codec's format."""
    recs = good("plain")
    return batch_from_body(encode_records(recs), len(recs), len(recs) - 1, codec, TS)


def zstd_body_flagged_gzip():
    recs = good("z")
    return batch_from_body(compress(ZSTD, encode_records(recs)), len(recs), len(recs) - 1, GZIP, TS)


def claims_a_million(codec):
    """One record under a header claiming 1,000,000 (count and last offset delta agree)."""
    return build_batch([Record(b"k", b"one")], codec, count=1_000_000, last_offset_delta=999_999)


def offset_deltas(codec, deltas):
    """Records carrying the given offset deltas under a header for len(deltas) records."""
    recs = good("delta", len(deltas))
    body = b"".join(encode_record(d, r) for d, r in zip(deltas, recs))
    return batch_from_body(compress(codec, body), len(deltas), len(deltas) - 1, codec, TS)


def fewer_records_than_count(codec):
    return build_batch(good("fewer", 2), codec, count=3, last_offset_delta=2)


def more_records_than_count(codec):
    return build_batch(good("more", 3), codec, count=2, last_offset_delta=1)


def count_not_last_delta_plus_one(codec):
    """Kafka's LogValidator refuses a count that disagrees with the header's offset range
    ("Inconsistent batch offset range") as INVALID_RECORD, compressed or not."""
    return build_batch(good("lod", 3), codec, count=3, last_offset_delta=1)


COMPRESSED = ["gzip", "snappy", "lz4", "zstd"]
CASES = (
    [(f"{c}-flag-on-plain-records", lambda c=c: not_that_codec(CODECS[c]), CORRUPT_MESSAGE)
     for c in COMPRESSED]
    + [("gzip-flag-on-zstd-body", zstd_body_flagged_gzip, CORRUPT_MESSAGE)]
    + [(f"{c}-claims-a-million-holds-one", lambda c=c: claims_a_million(CODECS[c]), INVALID_RECORD)
       for c in ["none", *COMPRESSED]]
    + [(f"{c}-offset-delta-beyond-last", lambda c=c: offset_deltas(CODECS[c], [0, 1, 7]),
        INVALID_RECORD) for c in ["none", *COMPRESSED]]
    + [(f"{c}-offset-deltas-not-contiguous", lambda c=c: offset_deltas(CODECS[c], [0, 2, 1]),
        INVALID_RECORD) for c in COMPRESSED]
    + [(f"{c}-fewer-records-than-count", lambda c=c: fewer_records_than_count(CODECS[c]),
        INVALID_RECORD) for c in ["none", *COMPRESSED]]
    + [(f"{c}-more-records-than-count", lambda c=c: more_records_than_count(CODECS[c]),
        INVALID_RECORD) for c in ["none", *COMPRESSED]]
    + [(f"{c}-count-not-last-delta-plus-one",
        lambda c=c: count_not_last_delta_plus_one(CODECS[c]), INVALID_RECORD)
       for c in ["none", *COMPRESSED]]
)


def http_records(server, topic, offset=0):
    r = requests.get(f"{server.http}/v1/topics/{topic}/partitions/0/records",
                     params={"offset": offset, "limit": 1000, "format": "binary"}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def assert_reads_cleanly(server, topic, expected):
    """Every reader gets exactly `expected` (key, value) pairs at offsets 0.. and nothing else."""
    assert high_watermark(server.kafka_port, topic) == len(expected)
    got = consume(server.bootstrap, topic, len(expected))
    assert [(m.offset(), m.key(), m.value()) for m in got] == [
        (i, k, v) for i, (k, v) in enumerate(expected)
    ]
    body = http_records(server, topic)
    assert body["high_watermark"] == len(expected)
    assert [(r["offset"], r["key"]) for r in body["records"]] == [
        (i, k.decode()) for i, (k, _) in enumerate(expected)
    ]


@pytest.mark.parametrize("make_batch,code", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_a_bad_batch_is_refused_with_its_code_and_nothing_is_stored(strom, make_batch, code):
    topic = "checked"
    create_topic(strom.bootstrap, topic)
    before = good("before")
    assert produce_raw(strom.kafka_port, topic, build_batch(before, NONE)) == (0, 0)
    hw, size = high_watermark(strom.kafka_port, topic), log_bytes(strom, topic)

    error_code, _ = produce_raw(strom.kafka_port, topic, make_batch())

    assert error_code == code
    assert high_watermark(strom.kafka_port, topic) == hw
    assert log_bytes(strom, topic) == size
    after = good("after")
    assert produce_raw(strom.kafka_port, topic, build_batch(after, GZIP)) == (0, hw)
    expected = [(r.key, r.value) for r in before + after]
    assert_reads_cleanly(strom, topic, expected)
    strom.restart()
    assert_reads_cleanly(strom, topic, expected)


def test_every_codec_round_trips_through_produce_and_all_readers(strom):
    """The encoder the refusal tests rely on makes batches Strom and clients accept."""
    topic = "codecs"
    create_topic(strom.bootstrap, topic)
    expected, offset = [], 0
    for name, codec in CODECS.items():
        recs = good(name, 3)
        assert produce_raw(strom.kafka_port, topic, build_batch(recs, codec)) == (0, offset)
        offset += len(recs)
        expected += [(r.key, r.value) for r in recs]
    assert_reads_cleanly(strom, topic, expected)
