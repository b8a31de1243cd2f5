"""Kafka v2 record batches built byte by byte, for tests that must send batches no client would
(wrong codec, wrong counts, offset deltas out of range, decompression bombs, random mutations):
an encoder with all four codecs, a strict reference decoder, raw Produce and ListOffsets over a
socket, and the partition directory of a stopped server (to plant batches stored in the past)."""

import gzip
import os
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path

import lz4.frame
import snappy
import zstandard
from kafka.codec import snappy_encode
from kafka.protocol.offset import OffsetRequest
from kafka.protocol.produce import ProduceRequest
from kafka.record.util import calc_crc32c

from kafka_support import Wire

NONE, GZIP, SNAPPY, LZ4, ZSTD = 0, 1, 2, 3, 4
CODECS = {"none": NONE, "gzip": GZIP, "snappy": SNAPPY, "lz4": LZ4, "zstd": ZSTD}
CORRUPT_MESSAGE = 2
MESSAGE_TOO_LARGE = 10
INVALID_RECORD = 87
# Servers fed hostile batches run with 3 GiB of address space, so a regression that inflates a
# bomb or trusts a huge count aborts that server instead of exhausting the machine.
UNDER_PRLIMIT = ["prlimit", f"--as={3 << 30}", "--"]

# base offset, batch length, leader epoch, magic, crc, attributes, last offset delta,
# base timestamp, max timestamp, producer id, producer epoch, base sequence, record count
HEADER = struct.Struct(">qiibIhiqqqhii")
# Record timestamps are recent, so time-based retention (7 days by default) leaves them alone.
NOW = int(time.time()) // 60 * 60_000
CRC_FROM = 21  # the CRC covers attributes to the end
COUNT_AT = 57
LAST_OFFSET_DELTA_AT = 23


def uvarint(u):
    out = bytearray()
    while True:
        byte = u & 0x7F
        u >>= 7
        if u:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def varint(n):
    """Kafka's zigzag varint (varlong for 64-bit values: the encoding is the same)."""
    return uvarint(((n << 1) ^ (n >> 63)) & 0xFFFFFFFFFFFFFFFF)


def _bytes_field(b):
    return varint(-1) if b is None else varint(len(b)) + b


@dataclass
class Record:
    key: bytes | None
    value: bytes | None
    headers: list = field(default_factory=list)  # [(bytes key, bytes | None value)]
    timestamp_delta: int = 0
    attributes: int = 0  # the record's attributes byte: unused in v2, Kafka stores any value


def encode_record(offset_delta, rec):
    body = (
        b"\x00" + varint(rec.timestamp_delta) + varint(offset_delta)
        + _bytes_field(rec.key) + _bytes_field(rec.value) + varint(len(rec.headers))
        + b"".join(varint(len(k)) + k + _bytes_field(v) for k, v in rec.headers)
    )
    return varint(len(body)) + body


def encode_records(records):
    return b"".join(encode_record(i, r) for i, r in enumerate(records))


def compress(codec, data):
    if codec == NONE:
        return data
    if codec == GZIP:
        return gzip.compress(data)
    if codec == SNAPPY:
        return snappy_encode(data, xerial_compatible=True, xerial_blocksize=32 * 1024)
    if codec == LZ4:
        return lz4.frame.compress(data)
    if codec == ZSTD:
        return zstandard.ZstdCompressor().compress(data)
    raise ValueError(f"codec {codec}")


XERIAL_HEADER = b"\x82SNAPPY\x00" + struct.pack(">ii", 1, 1)


def snappy_decompress(data):
    """Kafka's snappy: xerial-framed when the exact snappy-java header is there (each block's
    length must be present in full, as snappy-java and librdkafka insist), else one raw block."""
    if not data.startswith(XERIAL_HEADER):
        return snappy.decompress(data)
    out, pos = [], len(XERIAL_HEADER)
    while pos < len(data):
        if pos + 4 > len(data):
            raise ValueError("truncated xerial block length")
        (n,) = struct.unpack_from(">i", data, pos)
        pos += 4
        if n < 0 or pos + n > len(data):
            raise ValueError(f"xerial block of {n} bytes is truncated")
        out.append(snappy.decompress(data[pos:pos + n]))
        pos += n
    return b"".join(out)


def decompress(codec, data):
    if codec == NONE:
        return data
    if codec == GZIP:
        return gzip.decompress(data)
    if codec == SNAPPY:
        return snappy_decompress(data)
    if codec == LZ4:
        return lz4.frame.decompress(data)
    if codec == ZSTD:
        return zstandard.ZstdDecompressor().decompress(data, max_output_size=64 << 20)
    raise ValueError(f"codec {codec}")


def batch_from_body(body, count, last_offset_delta, codec, base_timestamp, max_timestamp=None,
                    base_offset=0, attributes_extra=0):
    """A v2 batch around an already encoded (and compressed) records body, CRC computed."""
    after_crc = struct.pack(
        ">hiqqqhii", codec | attributes_extra, last_offset_delta, base_timestamp,
        base_timestamp if max_timestamp is None else max_timestamp, -1, -1, -1, count,
    ) + body
    crc = calc_crc32c(after_crc)
    head = struct.pack(">qiibI", base_offset, len(after_crc) + 9, -1, 2, crc)
    return head + after_crc


def build_batch(records, codec=NONE, base_timestamp=NOW, count=None,
                last_offset_delta=None):
    """A valid batch of `records`, or one whose header claims another count or last delta."""
    n = len(records)
    max_ts = base_timestamp + max((r.timestamp_delta for r in records), default=0)
    return batch_from_body(
        compress(codec, encode_records(records)),
        n if count is None else count,
        n - 1 if last_offset_delta is None else last_offset_delta,
        codec, base_timestamp, max_ts,
    )


def fix_crc(batch):
    """The same bytes with the CRC recomputed (so a mutation reaches the inner validation)."""
    crc = calc_crc32c(batch[CRC_FROM:])
    return batch[:17] + struct.pack(">I", crc) + batch[CRC_FROM:]


def header(batch):
    return HEADER.unpack_from(batch)


class Invalid(Exception):
    """The reference decoder's verdict: Kafka would refuse this batch."""


def _read_varint(buf, pos, max_bytes):
    shift, result = 0, 0
    for i in range(max_bytes):
        if pos >= len(buf):
            raise Invalid("varint past the end")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return (result >> 1) ^ -(result & 1), pos
        shift += 7
    raise Invalid("varint too long")


def _read_bytes(buf, pos, end, nullable=True):
    n, pos = _read_varint(buf, pos, 5)
    if n == -1 and nullable:
        return None, pos
    if n < 0 or pos + n > end:
        raise Invalid(f"bad length {n}")
    return bytes(buf[pos:pos + n]), pos + n


def _decode_record(buf, pos, index):
    length, pos = _read_varint(buf, pos, 5)
    end = pos + length
    if length < 0 or end > len(buf):
        raise Invalid("bad record length")
    if pos >= end:
        raise Invalid("empty record")
    attributes = buf[pos]  # unused in v2: Kafka neither checks nor rewrites it
    pos += 1
    ts_delta, pos = _read_varint(buf, pos, 10)
    offset_delta, pos = _read_varint(buf, pos, 5)
    if offset_delta != index:
        raise Invalid(f"offset delta {offset_delta} at record {index}")
    key, pos = _read_bytes(buf, pos, end)
    value, pos = _read_bytes(buf, pos, end)
    n_headers, pos = _read_varint(buf, pos, 5)
    if n_headers < 0:
        raise Invalid("negative header count")
    headers = []
    for _ in range(n_headers):
        hkey, pos = _read_bytes(buf, pos, end, nullable=False)
        hval, pos = _read_bytes(buf, pos, end)
        headers.append((hkey, hval))
    if pos != end:
        raise Invalid("record length does not match its fields")
    return Record(key, value, headers, ts_delta, attributes), end


def decode_batch(batch):
    """The records of one batch, checked the way Kafka's broker checks a produced batch
    (framing, CRC, count = last offset delta + 1 = records inside, offset deltas 0..n-1, exact
    lengths, no trailing bytes, a codec that decodes in full: an LZ4 frame with its end mark,
    whole xerial snappy blocks) plus Strom's timestamp rule; raises `Invalid` otherwise."""
    if len(batch) < HEADER.size:
        raise Invalid("shorter than a batch header")
    (_, length, _, magic, crc, attributes, last_delta, base_ts, _, _, _, _, count) = \
        header(batch)
    if magic != 2 or length != len(batch) - 12:
        raise Invalid("magic or batch length")
    if calc_crc32c(batch[CRC_FROM:]) != crc:
        raise Invalid("crc")
    codec = attributes & 0x07
    if codec > ZSTD or attributes & 0x30:
        raise Invalid("codec or control/transactional bits")
    if count <= 0 or count != last_delta + 1:
        raise Invalid("count against last offset delta")
    try:
        body = decompress(codec, batch[HEADER.size:])
    except Exception as err:  # any codec failure is a corrupt batch
        raise Invalid(f"codec: {err}") from err
    records, pos = [], 0
    for i in range(count):
        if pos >= len(body):
            raise Invalid("fewer records than the header count")
        rec, pos = _decode_record(body, pos, i)
        records.append(rec)
    if pos != len(body):
        raise Invalid("bytes after the last record")
    # A max timestamp below a record's is no reason to refuse: Kafka rewrites it, and Strom
    # raises it to the records' highest (docs/architecture.md, "Produce validation").
    return base_ts, records


def produce_raw(port, topic, batch, partition=0):
    """(error code, base offset) of a Produce (v3, acks=1) carrying exactly `batch`."""
    w = Wire(port, timeout=60)
    try:
        req = ProduceRequest[3](transactional_id=None, required_acks=1, timeout=30000,
                                topics=[(topic, [(partition, batch)])])
        w.send(req)
        _, resp = w.recv(req)
        _, error_code, offset, _ = resp.topics[0][1][0]
        return error_code, offset
    finally:
        w.close()


def high_watermark(port, topic, partition=0):
    w = Wire(port, timeout=30)
    try:
        req = OffsetRequest[1](replica_id=-1, topics=[(topic, [(partition, -1)])])
        w.send(req)
        _, resp = w.recv(req)
        _, error_code, _, offset = resp.topics[0][1][0]
        assert error_code == 0, f"ListOffsets error {error_code}"
        return offset
    finally:
        w.close()


def partition_dir(server, topic, partition=0) -> Path:
    return server.data_dir / "topics" / topic / str(partition)


def log_bytes(server, topic, partition=0):
    """Total size of the partition's segment files: what was written, whatever the indexes say."""
    d = partition_dir(server, topic, partition)
    return sum(p.stat().st_size for p in d.glob("*.log"))


def segment_name(base_offset):
    return f"{base_offset:020d}.log"


def stamp(batch, base_offset):
    """The batch with its base offset set (outside the CRC region, as the broker does)."""
    return struct.pack(">q", base_offset) + batch[8:]


def write_segments(directory: Path, segments):
    """Replaces a stopped partition's files with the given segments ({base offset: [batch]}),
    without indexes or clean-shutdown marker, so the server re-verifies and re-indexes them."""
    for p in directory.iterdir():
        if p.is_file():
            p.unlink()
    for base, batches in segments.items():
        data, offset = b"", base
        for b in batches:
            data += stamp(b, offset)
            offset += header(b)[6] + 1
        (directory / segment_name(base)).write_bytes(data)
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def zstd_bomb(records=64, value_bytes=64 << 20, declare_size=True,
              base_timestamp=NOW):
    """A small zstd batch of `records` keyed records of `value_bytes` zeros each (64 x 64 MiB:
    4 GiB inflated from about 130 KB), compressed as a stream so the test never holds it whole.
    `declare_size` writes the inflated size into the zstd frame header."""
    prefixes, total = [], 0
    for i in range(records):
        key = f"bomb-{i}".encode()
        head = b"\x00" + varint(0) + varint(i) + _bytes_field(key) + varint(value_bytes)
        tail = varint(0)  # no headers
        prefix = varint(len(head) + value_bytes + len(tail)) + head
        prefixes.append((prefix, tail))
        total += len(prefix) + value_bytes + len(tail)
    cctx = zstandard.ZstdCompressor(level=3, write_content_size=declare_size)
    co = cctx.compressobj(size=total if declare_size else -1)
    zeros = bytes(1 << 20)
    out = []
    for prefix, tail in prefixes:
        out.append(co.compress(prefix))
        for _ in range(value_bytes // len(zeros)):
            out.append(co.compress(zeros))
        out.append(co.compress(bytes(value_bytes % len(zeros))))
        out.append(co.compress(tail))
    out.append(co.flush())
    return batch_from_body(b"".join(out), records, records - 1, ZSTD, base_timestamp)
