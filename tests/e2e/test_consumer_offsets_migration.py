"""Upgrade of `__consumer_offsets` from Strom's legacy value layout to Kafka's: a data
directory written by the previous Strom (fixtures/legacy-offsets.tar.gz, made by
fixtures/make_legacy_offsets.py with that binary and real clients) starts unchanged; the
offsets the clients committed before the upgrade are there (read back by confluent-kafka and
kafka-python), the groups exist, and on start-up every live legacy record is rewritten in
Kafka's format (the newest record per key decodes with Kafka's schemas), exactly once."""

import tarfile
from pathlib import Path

import confluent_kafka as ck
from confluent_kafka.admin import AdminClient
from kafka import KafkaConsumer
from kafka import TopicPartition as KpTopicPartition

from conftest import Strom
from kafka_group_records import UNDECODABLE, latest, read_offsets_topic

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "legacy-offsets.tar.gz"


def committed_ck(bootstrap):
    c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "legacy-ck"})
    try:
        parts = c.committed([ck.TopicPartition("legacy", 0), ck.TopicPartition("legacy", 1)],
                            timeout=15)
        return {p.partition: (p.offset, p.metadata) for p in parts}
    finally:
        c.close()


def committed_kp(bootstrap):
    k = KafkaConsumer(bootstrap_servers=bootstrap, group_id="legacy-kp",
                      enable_auto_commit=False)
    try:
        return k.committed(KpTopicPartition("legacy", 0))
    finally:
        k.close()


def check_kept(server):
    assert committed_ck(server.bootstrap) == {0: (6, "before-upgrade"), 1: (4, None)}
    assert committed_kp(server.bootstrap) == 10
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    groups = {g.group_id for g in admin.list_consumer_groups().result(15).valid}
    assert {"legacy-ck", "legacy-kp"} <= groups


def test_legacy_data_dir_loads_and_is_rewritten(tmp_path):
    with tarfile.open(FIXTURE) as tar:
        tar.extractall(tmp_path, filter="data")
    records = read_legacy = None
    server = Strom(tmp_path / "data").start()
    try:
        check_kept(server)
        records = read_offsets_topic(server.bootstrap, strict=False)
        read_legacy = [r for r in records if r[3] == UNDECODABLE]
        assert read_legacy, "the fixture's legacy records are still in the log"
        newest = latest(records)
        assert UNDECODABLE not in [v for _, v in newest.values()], newest
        ck_offset = newest[("offset", "legacy-ck", "legacy", 0)][1]
        assert (ck_offset["version"], ck_offset["offset"]) == (3, 6)
        assert ck_offset["metadata"] == "before-upgrade\x00"  # with the C terminator librdkafka sent
        group = newest[("group", "legacy-ck", None, None)][1]
        assert (group["version"], group["protocolType"], group["members"]) == (1, "consumer", [])

        # A second start finds nothing left to rewrite and keeps everything.
        server.restart()
        check_kept(server)
        again = read_offsets_topic(server.bootstrap, strict=False)
        assert len(again) == len(records), "no second rewrite"
    finally:
        server.stop()
    assert server.log_text().count("rewrote legacy __consumer_offsets records") == 1
