"""Reading Kafka's wire encoding, shared by the test-side decoders (`kafka_group_records.py`,
`kip848_describe.py`): big-endian integers, unsigned varints, and the flexible versions'
compact strings and arrays (length + 1, 0 = null) and tagged-field sections (varint count,
then tag, size, bytes), which are skipped. Written from Kafka's protocol guide, not Strom's code.
A short or malformed input raises ValueError."""

import struct

INTS = {"int8": ">b", "int16": ">h", "int32": ">i", "int64": ">q"}


def uvarint(n):
    """`n` as an unsigned varint."""
    out = b""
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n])


class Reader:
    def __init__(self, data):
        self.data, self.pos = bytes(data), 0

    def take(self, n):
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError(f"needs {n} bytes at {self.pos}, input has {len(self.data)}")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def int(self, kind):
        """An integer: `kind` is one of INTS' names or a struct format such as ">i"."""
        fmt = INTS.get(kind, kind)
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def uvarint(self):
        out, shift = 0, 0
        while True:
            byte = self.take(1)[0]
            out |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return out
            shift += 7
            if shift > 28:
                raise ValueError("varint too long")

    def compact_string(self, nullable=True):
        n = self.uvarint() - 1
        if n < 0:
            if not nullable:
                raise ValueError("null in a non-nullable string")
            return None
        return self.take(n).decode("utf-8")

    def compact_array(self, item):
        count = self.uvarint() - 1
        if count < 0:
            raise ValueError("null array")
        return [item() for _ in range(count)]

    def skip_tags(self):
        for _ in range(self.uvarint()):
            self.uvarint()
            self.take(self.uvarint())

    def done(self):
        if self.pos != len(self.data):
            raise ValueError(f"{len(self.data) - self.pos} trailing bytes")
