"""Random mutations of valid record batches for the produce-path stress test: bit flips and
truncation before and after compression, edits of lengths, counts and varints, codec swaps,
trailing bytes and stale CRCs, over all four codecs, drawn from one seeded generator so a run is
reproduced exactly by its seed and batch number."""

import random
import struct

from batch_wire import (
    CODECS, COUNT_AT, HEADER, Invalid, Record, _bytes_field, batch_from_body, compress,
    decode_batch, fix_crc, varint, NOW,
)

TS = NOW
VARINT_FIELDS = ("length", "offset_delta", "key_len", "value_len", "headers")


def random_bytes(rng, lo, hi):
    return bytes(rng.getrandbits(8) for _ in range(rng.randint(lo, hi)))


def random_records(rng):
    records = []
    for _ in range(rng.randint(1, 6)):
        key = None if rng.random() < 0.15 else random_bytes(rng, 0, 24)
        value = None if rng.random() < 0.1 else random_bytes(rng, 0, 300)
        # Header keys are ASCII: kafka-python cannot decode a key that is not UTF-8.
        headers = [(f"h{j}".encode(), None if rng.random() < 0.2 else random_bytes(rng, 0, 16))
                   for j in range(rng.choice((0, 0, 1, 2)))]
        records.append(Record(key, value, headers, rng.randint(0, 5000)))
    return records


def encode_with_edit(records, edit):
    """The records body with one varint of one record replaced: edit = (index, field, value)."""
    out = b""
    for i, r in enumerate(records):
        over = {edit[1]: edit[2]} if edit and edit[0] == i else {}
        key_len = varint(over["key_len"]) if "key_len" in over else None
        value_len = varint(over["value_len"]) if "value_len" in over else None
        body = (
            b"\x00" + varint(r.timestamp_delta) + varint(over.get("offset_delta", i))
            + (key_len + (r.key or b"") if key_len else _bytes_field(r.key))
            + (value_len + (r.value or b"") if value_len else _bytes_field(r.value))
            + varint(over.get("headers", len(r.headers)))
            + b"".join(varint(len(k)) + k + _bytes_field(v) for k, v in r.headers)
        )
        out += varint(over.get("length", len(body))) + body
    return out


def flip_bits(rng, data, flips):
    if not data:
        return data
    buf = bytearray(data)
    for _ in range(flips):
        pos = rng.randrange(len(buf))
        buf[pos] ^= 1 << rng.randrange(8)
    return bytes(buf)


def set_i32(batch, at, value):
    return batch[:at] + struct.pack(">i", value) + batch[at + 4:]


def mutate(rng, records, codec):
    """(mutation name, batch bytes)."""
    n = len(records)
    raw = encode_with_edit(records, None)
    kind = rng.choice((
        "valid", "flip-records", "flip-compressed", "truncate-records", "truncate-compressed",
        "truncate-batch", "batch-length", "count", "count-and-last-delta", "varint", "codec-swap",
        "stale-crc", "trailing-bytes",
    ))

    def wrap(body, flag=codec, count=n):
        return batch_from_body(body, count, count - 1, flag, TS, TS + 5000)

    if kind == "valid":
        return kind, wrap(compress(codec, raw))
    if kind == "flip-records":
        return kind, wrap(compress(codec, flip_bits(rng, raw, rng.randint(1, 3))))
    if kind == "flip-compressed":
        return kind, wrap(flip_bits(rng, compress(codec, raw), rng.randint(1, 3)))
    if kind == "truncate-records":
        return kind, wrap(compress(codec, raw[:rng.randrange(len(raw))]))
    if kind == "truncate-compressed":
        body = compress(codec, raw)
        return kind, wrap(body[:rng.randrange(len(body))])
    if kind == "truncate-batch":
        batch = wrap(compress(codec, raw))
        return kind, batch[:rng.randrange(len(batch))]
    if kind == "batch-length":
        batch = wrap(compress(codec, raw))
        return kind, set_i32(batch, 8, len(batch) - 12 + rng.choice((-7, -1, 1, 9, 1 << 20)))
    if kind == "count":
        batch = wrap(compress(codec, raw))
        return kind, fix_crc(set_i32(batch, COUNT_AT, rng.choice((0, n - 1, n + 1, 1 << 30, -1))))
    if kind == "count-and-last-delta":
        other = rng.choice((n - 1, n + 1, n + 1000, 1_000_000))
        return kind, batch_from_body(compress(codec, raw), other, other - 1, codec, TS)
    if kind == "varint":
        i, fld = rng.randrange(n), rng.choice(VARINT_FIELDS)
        value = rng.choice((-2, -1, 0, 1, 127, 128, 1 << 20, (1 << 31) - 1))
        return kind, wrap(compress(codec, encode_with_edit(records, (i, fld, value))))
    if kind == "codec-swap":
        flag = rng.choice([c for c in CODECS.values() if c != codec] + [5, 6, 7])
        return kind, wrap(compress(codec, raw), flag=flag)
    if kind == "stale-crc":
        batch = wrap(compress(codec, raw))
        return kind, batch[:HEADER.size] + flip_bits(rng, batch[HEADER.size:], 1)
    return kind, wrap(compress(codec, raw + random_bytes(rng, 1, 8)))


def verdict(batch):
    """(records, None) if Kafka would store the batch, else (None, reason)."""
    try:
        return decode_batch(batch)[1], None
    except Invalid as err:
        return None, str(err)


def generate(seed, index):
    """Batch number `index` of the run with `seed`: (codec name, mutation, batch)."""
    rng = random.Random(f"{seed}/{index}")
    name = rng.choice(("none", "gzip", "snappy", "lz4", "zstd", "gzip", "snappy", "lz4", "zstd"))
    while True:
        records = random_records(rng)
        kind, batch = mutate(rng, records, CODECS[name])
        decoded, _ = verdict(batch)
        # A bit flip may turn a header key into bytes that are not UTF-8, or set a bit of a
        # record's attributes byte (unused in v2): valid for Kafka, which stores both as they
        # are, but kafka-python raises on the first and librdkafka reads the second's 0x08 as
        # LogAppendTime (it reports the batch's max timestamp). Such a draw is replaced.
        if decoded is None or all(
            _utf8(k) for r in decoded for k, _ in r.headers
        ) and all(r.attributes == 0 for r in decoded):
            return name, kind, batch


def _utf8(b):
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False
