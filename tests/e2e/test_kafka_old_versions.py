"""Old request versions that tools still send (Burrow 1.2.1 with its default kafka-version,
old Sarama), over a raw socket with kafka-python's request classes against the real binary:
ListOffsets v0 (the `offsets` array form, once a closed connection) answered from the same
code path as v1+, and the other versions such tools use (Metadata v0/v1, FindCoordinator v0,
OffsetFetch v1) served. ApiVersions advertises ListOffsets from v0."""

import confluent_kafka as ck
from kafka.protocol.admin import ApiVersionRequest
from kafka.protocol.commit import GroupCoordinatorRequest, OffsetFetchRequest
from kafka.protocol.metadata import MetadataRequest
from kafka.protocol.offset import OffsetRequest

from kafka_support import Wire, create_topic

UNKNOWN_TOPIC_OR_PARTITION = 3


def call(wire, request):
    wire.send(request)
    _, response = wire.recv(request)
    return response


def test_list_offsets_v0_and_the_versions_burrow_sends(strom):
    create_topic(strom.bootstrap, "old", partitions=2)
    p = ck.Producer({"bootstrap.servers": strom.bootstrap, "linger.ms": 0})
    for i in range(5):
        p.produce("old", value=str(i).encode(), partition=0)
    p.flush(15)
    wire = Wire(strom.kafka_port)
    try:
        versions = {k: (lo, hi) for k, lo, hi in call(wire, ApiVersionRequest[0]()).api_versions}
        assert versions[2][0] == 0, "ListOffsets advertised from v0"

        # Latest (-1) and earliest (-2), max_num_offsets 1 as Burrow sends; an unknown
        # partition answers its error and no offset. Twice on one connection: it stays open.
        for _ in range(2):
            r = call(wire, OffsetRequest[0](replica_id=-1, topics=[
                ("old", [(0, -1, 1), (1, -1, 1), (0, -2, 1), (7, -1, 1)])]))
            assert r.topics[0][0] == "old"
            assert r.topics[0][1] == [(0, 0, [5]), (1, 0, [0]), (0, 0, [0]),
                                      (7, UNKNOWN_TOPIC_OR_PARTITION, [])]

        m0 = call(wire, MetadataRequest[0](topics=["old"]))
        assert m0.topics[0][1] == "old" and len(m0.topics[0][2]) == 2
        m1 = call(wire, MetadataRequest[1](topics=None))
        assert "old" in [t[1] for t in m1.topics]
        coordinator = call(wire, GroupCoordinatorRequest[0]("burrow-group"))
        assert coordinator.error_code == 0 and coordinator.port == strom.kafka_port
        fetched = call(wire, OffsetFetchRequest[1]("burrow-group", [("old", [0])]))
        assert fetched.topics[0][1][0][1] == -1  # nothing committed yet
    finally:
        wire.close()
