"""Topic names, internal topics and crash-atomic topic lifecycle against the real binary.

Every legal Kafka name (`.creating-x`, 249 characters) works through create, produce,
restart and delete over Kafka and HTTP, and the server restarts after each data case with the
data intact. Internal topics refuse client writes, deletes, record deletion and config changes
with Kafka's codes, and stay readable. A server killed (SIGKILL, via the STROM_TEST_CRASH_AT
hook) in the middle of a create or a delete restarts with the topic fully there or absent."""

import signal
import time

import confluent_kafka as ck
import pytest
import requests
from confluent_kafka.admin import AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic

from kafka_support import admin, consume, create_topic

LONG = "a" * 249
NAMES = [".creating-orders", "orders", LONG, ".creating-" + "b" * 239, "..."]


def produce(bootstrap, topic, values):
    p = ck.Producer({"bootstrap.servers": bootstrap, "linger.ms": 0})
    errors = []
    for v in values:
        p.produce(topic, value=v.encode(), on_delivery=lambda err, _m: err and errors.append(err))
    assert p.flush(20) == 0, "undelivered messages"
    assert errors == [], errors


def values(bootstrap, topic, count):
    return [m.value().decode() for m in consume(bootstrap, topic, count)]


def test_every_legal_name_survives_create_produce_restart_and_delete(strom):
    for i, name in enumerate(NAMES):
        if i % 2 == 0:
            create_topic(strom.bootstrap, name)
        else:
            r = requests.post(f"{strom.http}/v1/topics", json={"name": name}, timeout=10)
            assert r.status_code == 201, r.text
        produce(strom.bootstrap, name, [f"{name[:20]}-1"])
        strom.restart()
        for done in NAMES[: i + 1]:
            assert values(strom.bootstrap, done, 1) == [f"{done[:20]}-1"], done
    strom.restart(signal.SIGKILL)
    for name in NAMES:
        assert values(strom.bootstrap, name, 1) == [f"{name[:20]}-1"], name
    a = admin(strom.bootstrap)
    for name, fut in a.delete_topics(NAMES[:3], operation_timeout=10).items():
        fut.result(timeout=15)
    for name in NAMES[3:]:
        r = requests.delete(f"{strom.http}/v1/topics/{name}", timeout=10)
        assert r.status_code == 204, r.text
    strom.restart()
    for name in NAMES:
        r = requests.get(f"{strom.http}/v1/topics/{name}", timeout=10)
        assert r.status_code == 404, f"{name} came back after a restart: {r.text}"
    assert "data_dir" not in requests.get(f"{strom.http}/v1/topics", timeout=10).text


def kafka_error(fut):
    with pytest.raises(ck.KafkaException) as err:
        fut.result(timeout=15)
    return err.value.args[0].code()


def test_internal_topics_refuse_client_changes_over_kafka(strom):
    a = admin(strom.bootstrap)
    t = "__consumer_offsets"
    fut = a.delete_topics([t], operation_timeout=10)[t]
    assert kafka_error(fut) == ck.KafkaError.TOPIC_AUTHORIZATION_FAILED
    fut = a.create_topics([NewTopic("__strom_users", 1, 1)], operation_timeout=10)["__strom_users"]
    assert kafka_error(fut) == ck.KafkaError.TOPIC_AUTHORIZATION_FAILED
    res = ConfigResource(ConfigResource.Type.TOPIC, t, incremental_configs=[
        ConfigEntry("retention.ms", "1", incremental_operation=AlterConfigOpType.SET)])
    assert kafka_error(a.incremental_alter_configs([res])[res]) == \
        ck.KafkaError.TOPIC_AUTHORIZATION_FAILED
    fut = list(a.delete_records([ck.TopicPartition(t, 0, 0)]).values())[0]
    assert kafka_error(fut) == ck.KafkaError.TOPIC_EXCEPTION

    p = ck.Producer({"bootstrap.servers": strom.bootstrap, "linger.ms": 0, "retries": 0})
    errors = []
    p.produce(t, value=b"bomb", partition=0, on_delivery=lambda err, _m: errors.append(err))
    assert p.flush(20) == 0
    assert [e.code() for e in errors] == [ck.KafkaError.TOPIC_EXCEPTION], errors

    c = ck.Consumer({"bootstrap.servers": strom.bootstrap, "group.id": "reader"})
    try:
        low, high = c.get_watermark_offsets(ck.TopicPartition(t, 0), timeout=10)
        assert (low, high) == (0, 0), "nothing was written by a client"
    finally:
        c.close()
    strom.restart()
    assert requests.get(f"{strom.http}/v1/topics/{t}", timeout=10).status_code == 200


def wait_for_offsets_topic(server, timeout=30):
    """The listeners accept before the group coordinator has created __consumer_offsets; a
    crash point set before that would fire on that create instead of the one under test."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = requests.get(f"{server.http}/v1/topics/__consumer_offsets", timeout=10)
        if r.status_code == 200:
            return
        time.sleep(0.05)
    raise AssertionError("__consumer_offsets was not created")


def crash_during(server, point, request):
    """Starts `server` with the crash hook at `point`, runs `request`, expects a SIGKILL."""
    server.env = {"STROM_TEST_CRASH_AT": point}
    server.start()
    try:
        request(server)
    except requests.RequestException:
        pass  # the server died while answering
    code = server.proc.wait(timeout=30)
    server.proc = None
    assert code == -signal.SIGKILL, f"strom did not die at {point}: {code}\n{server.log_text()}"
    server.env = {}
    server.start()


def create_t(server):
    requests.post(f"{server.http}/v1/topics", json={"name": "t", "partitions": 3}, timeout=30)


def delete_t(server):
    requests.delete(f"{server.http}/v1/topics/t", timeout=30)


@pytest.mark.parametrize("point,present", [
    ("create:partitions-staged", False),
    ("create:before-publish", False),
    ("create:published", True),
    ("create:opened", True),
])
def test_a_create_killed_midway_leaves_the_topic_fully_there_or_absent(strom_factory, point, present):
    server = strom_factory().start()
    wait_for_offsets_topic(server)
    server.stop()
    crash_during(server, point, create_t)
    r = requests.get(f"{server.http}/v1/topics/t", timeout=10)
    if present:
        assert r.status_code == 200 and r.json()["partition_count"] == 3, r.text
        produce(server.bootstrap, "t", ["after"])
    else:
        assert r.status_code == 404, r.text
        create_t(server)
        assert requests.get(f"{server.http}/v1/topics/t", timeout=10).status_code == 200
    assert "interrupted" in server.log_text() or present


@pytest.mark.parametrize("point,present", [
    ("delete:before-retire", True),
    ("delete:retired", False),
])
def test_a_delete_killed_midway_leaves_the_topic_fully_there_or_absent(strom_factory, point, present):
    server = strom_factory().start()
    wait_for_offsets_topic(server)
    create_topic(server.bootstrap, "t", partitions=2)
    produce(server.bootstrap, "t", ["kept"])
    server.stop()
    crash_during(server, point, delete_t)
    r = requests.get(f"{server.http}/v1/topics/t", timeout=10)
    if present:
        assert r.status_code == 200, r.text
        got = consume(server.bootstrap, "t", 1, partitions=(0, 1))
        assert [m.value() for m in got] == [b"kept"]
    else:
        assert r.status_code == 404, r.text
        assert "finishing an interrupted topic deletion" in server.log_text()
