"""An independent decoder of Kafka's `__consumer_offsets` records, written from Kafka's message
schemas (apache/kafka `group-coordinator/src/main/resources/common/message/`:
OffsetCommitKey.json, GroupMetadataKey.json, OffsetCommitValue.json, GroupMetadataValue.json),
not from Strom's code. The field tables below transcribe those JSON files (name, type, the
versions a field is present in, the versions it is nullable in); `read_struct` interprets them
as Kafka's generated code does for non-flexible versions: big-endian integers, int16-length
strings (-1 = null), int32-length bytes, int32-length arrays.

A record key starts with an int16 record type: 0 or 1 = OffsetCommitKey, 2 = GroupMetadataKey
(the key's own fields are version 0); a value starts with its int16 version.

KIP-848's records (ConsumerGroup*Key.json / ConsumerGroup*Value.json, record types 3 to 8):
keys are non-flexible like the others; values are version 0 of flexible schemas, read as Kafka's
generated code does: unsigned-varint compact strings and arrays (length + 1, 0 = null), uuids
as 16 bytes, and a tagged-field section (varint count, then tag, size, bytes) closing every
struct, skipped here."""

import time

import confluent_kafka as ck

from kafka_wire import INTS, Reader

# (name, type, versions, nullable versions) from the JSON files; "3+" = 3 and above.
OFFSET_COMMIT_KEY = [("group", "string", "0+", None), ("topic", "string", "0+", None),
                     ("partition", "int32", "0+", None)]
GROUP_METADATA_KEY = [("group", "string", "0+", None)]
OFFSET_COMMIT_VALUE = {
    "valid": (0, 4), "flexible": 4,
    "fields": [
        ("offset", "int64", "0+", None),
        ("leaderEpoch", "int32", "3+", None),
        ("metadata", "string", "0+", None),
        ("commitTimestamp", "int64", "0+", None),
        ("expireTimestamp", "int64", "1", None),
    ],
}
MEMBER_METADATA = [
    ("memberId", "string", "0+", None),
    ("groupInstanceId", "string", "3+", "3+"),
    ("clientId", "string", "0+", None),
    ("clientHost", "string", "0+", None),
    ("rebalanceTimeout", "int32", "1+", None),
    ("sessionTimeout", "int32", "0+", None),
    ("subscription", "bytes", "0+", None),
    ("assignment", "bytes", "0+", None),
]
GROUP_METADATA_VALUE = {
    "valid": (0, 4), "flexible": 4,
    "fields": [
        ("protocolType", "string", "0+", None),
        ("generation", "int32", "0+", None),
        ("protocol", "string", "0+", "0+"),
        ("leader", "string", "0+", "0+"),
        ("currentStateTimestamp", "int64", "2+", None),
        ("members", MEMBER_METADATA, "0+", None),
    ],
}

# KIP-848 (validVersions 0, flexibleVersions 0+); tagged fields are not listed (a struct's
# tags are kept raw under "tags"; see decode_classic_member_metadata).
TOPIC_PARTITIONS = [("topicId", "uuid", "0+", None), ("partitions", "[]int32", "0+", None)]
CONSUMER_RECORDS = {
    3: ("consumer-metadata", [], [("epoch", "int32", "0+", None)]),
    # Kafka 3.8 dropped this value's Epoch field (apache/kafka#15854); 4.0 writes it so.
    4: ("consumer-partition-metadata", [], [
        ("topics", [("topicId", "uuid", "0+", None), ("topicName", "string", "0+", None),
                    ("numPartitions", "int32", "0+", None),
                    ("partitionRacks", [("partition", "int32", "0+", None),
                                        ("racks", "[]string", "0+", None)], "0+", None)], "0+", None),
    ]),
    5: ("consumer-member", [("memberId", "string", "0+", None)], [
        ("instanceId", "string", "0+", "0+"), ("rackId", "string", "0+", "0+"),
        ("clientId", "string", "0+", None), ("clientHost", "string", "0+", None),
        ("subscribedTopicNames", "[]string", "0+", None),
        ("subscribedTopicRegex", "string", "0+", "0+"),
        ("rebalanceTimeoutMs", "int32", "0+", None), ("serverAssignor", "string", "0+", "0+"),
    ]),
    6: ("consumer-target-metadata", [], [("assignmentEpoch", "int32", "0+", None)]),
    7: ("consumer-target-member", [("memberId", "string", "0+", None)],
        [("topicPartitions", TOPIC_PARTITIONS, "0+", None)]),
    8: ("consumer-current-assignment", [("memberId", "string", "0+", None)], [
        ("memberEpoch", "int32", "0+", None), ("previousMemberEpoch", "int32", "0+", None),
        ("state", "int8", "0+", None), ("assignedPartitions", TOPIC_PARTITIONS, "0+", None),
        ("partitionsPendingRevocation", TOPIC_PARTITIONS, "0+", None),
    ]),
}

def in_versions(spec, version):
    if spec is None:
        return False
    if spec.endswith("+"):
        return version >= int(spec[:-1])
    if "-" in spec:
        lo, hi = spec.split("-")
        return int(lo) <= version <= int(hi)
    return version == int(spec)


def read_field(r, kind, version, nullable):
    if isinstance(kind, list):
        count = r.int("int32")
        if count < 0:
            raise ValueError("null array")
        return [read_struct(r, kind, version) for _ in range(count)]
    if kind in INTS:
        return r.int(kind)
    if kind == "string":
        n = r.int("int16")
        if n == -1:
            if not nullable:
                raise ValueError("null in a non-nullable string")
            return None
        return r.take(n).decode("utf-8")
    if kind == "bytes":
        n = r.int("int32")
        if n == -1:
            raise ValueError("null in non-nullable bytes")
        return r.take(n)
    raise ValueError(f"unknown type {kind}")


def read_struct(r, fields, version):
    out = {}
    for name, kind, versions, nullable in fields:
        if in_versions(versions, version):
            out[name] = read_field(r, kind, version, in_versions(nullable, version))
    return out


def read_flexible(r, kind, nullable):
    """One field of a flexible version."""
    if isinstance(kind, list):
        return r.compact_array(lambda: read_flexible_struct(r, kind))
    if kind.startswith("[]"):
        return r.compact_array(lambda: read_flexible(r, kind[2:], False))
    if kind in INTS:
        return r.int(kind)
    if kind == "uuid":
        return r.take(16).hex()
    if kind == "string":
        return r.compact_string(nullable)
    raise ValueError(f"unknown type {kind}")


def read_flexible_struct(r, fields):
    out = {name: read_flexible(r, kind, in_versions(nullable, 0)) for name, kind, _, nullable in fields}
    tags = {}
    for _ in range(r.uvarint()):
        tag = r.uvarint()
        tags[tag] = r.take(r.uvarint())
    if tags:
        out["tags"] = tags
    return out


def decode_classic_member_metadata(raw):
    """Tagged field 0 of ConsumerGroupMemberMetadataValue, the nullable struct
    ClassicMemberMetadata (a presence byte, then SessionTimeoutMs and SupportedProtocols
    [Name, Metadata]): {"sessionTimeoutMs": ..., "protocols": [name, ...]} or None."""
    r = Reader(raw)
    if r.int("int8") < 0:
        return None
    session = r.int("int32")
    protocols = []
    for _ in range(r.uvarint() - 1):
        name = read_flexible(r, "string", False)
        r.take(r.uvarint() - 1)
        for _ in range(r.uvarint()):
            r.uvarint()
            r.take(r.uvarint())
        protocols.append(name)
    for _ in range(r.uvarint()):
        r.uvarint()
        r.take(r.uvarint())
    r.done()
    return {"sessionTimeoutMs": session, "protocols": protocols}


def decode_value(schema, data):
    r = Reader(data)
    version = r.int("int16")
    lo, hi = schema["valid"]
    if not lo <= version <= hi:
        raise ValueError(f"version {version} outside {lo}-{hi}")
    if version >= schema["flexible"]:
        raise ValueError(f"flexible version {version} is not written by Strom")
    out = read_struct(r, schema["fields"], version)
    r.done()
    out["version"] = version
    return out


def decode_record(key, value):
    """(kind, key fields, value fields or None for a tombstone); kind is "offset", "group" or
    one of CONSUMER_RECORDS' names."""
    r = Reader(key)
    record_type = r.int("int16")
    if record_type in (0, 1):
        kind, k, schema = "offset", read_struct(r, OFFSET_COMMIT_KEY, 0), OFFSET_COMMIT_VALUE
    elif record_type == 2:
        kind, k, schema = "group", read_struct(r, GROUP_METADATA_KEY, 0), GROUP_METADATA_VALUE
    elif record_type in CONSUMER_RECORDS:
        kind, key_fields, value_fields = CONSUMER_RECORDS[record_type]
        k = read_struct(r, GROUP_METADATA_KEY + key_fields, 0)
        r.done()
        if value is None:
            return kind, k, None
        v = Reader(value)
        version = v.int("int16")
        if version != 0:
            raise ValueError(f"{kind} version {version} outside 0-0")
        out = read_flexible_struct(v, value_fields)
        v.done()
        out["version"] = version
        return kind, k, out
    else:
        raise ValueError(f"unknown record type {record_type}")
    r.done()
    return kind, k, (None if value is None else decode_value(schema, value))


def decode_assignment(data):
    """The consumer protocol's assignment (ConsumerProtocolAssignment v0+ prefix): topics and
    partitions."""
    r = Reader(data)
    r.int("int16")
    topics = {}
    for _ in range(r.int("int32")):
        name = read_field(r, "string", 0, False)
        topics[name] = [r.int("int32") for _ in range(r.int("int32"))]
    return topics


UNDECODABLE = "undecodable"


def decode_checked(key, value, strict):
    try:
        return decode_record(key, value)
    except ValueError:
        if strict:
            raise
        kind, k, _ = decode_record(key, None)
        return kind, k, UNDECODABLE


def read_offsets_topic(bootstrap, strict=True):
    """Every record of `__consumer_offsets` read with confluent-kafka, decoded, oldest first
    per partition: (timestamp, kind, key, value). With `strict=False` a value that does not
    decode becomes UNDECODABLE instead of failing."""
    c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "reader-unused",
                     "enable.auto.commit": False, "enable.partition.eof": True})
    try:
        meta = c.list_topics("__consumer_offsets", timeout=10).topics["__consumer_offsets"]
        parts = sorted(meta.partitions)
        c.assign([ck.TopicPartition("__consumer_offsets", p, ck.OFFSET_BEGINNING) for p in parts])
        records, at_end, deadline = [], set(), time.time() + 30
        while len(at_end) < len(parts) and time.time() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                assert m.error().code() == ck.KafkaError._PARTITION_EOF, m.error()
                at_end.add(m.partition())
                continue
            records.append((m.timestamp()[1], *decode_checked(m.key(), m.value(), strict)))
        assert len(at_end) == len(parts), "read every partition to its end"
        return records
    finally:
        c.close()


def latest(records):
    """Newest value (or None for a tombstone) per key."""
    out = {}
    for ts, kind, key, value in records:
        ident = (kind, key["group"], key.get("topic") or key.get("memberId"), key.get("partition"))
        out[ident] = (ts, value)
    return out
