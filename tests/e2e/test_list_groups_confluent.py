"""confluent-kafka's `AdminClient.list_consumer_groups()` (ListGroups v5 from librdkafka 2.6)
answers promptly whatever the groups are doing: none, offset-only groups (no protocol type),
a Stable group, a group stuck in PreparingRebalance, Empty groups, a group deleted over HTTP,
a hundred more groups, and after the server closed the admin client's idle connection. Each
call must complete well within its request timeout; the state filter narrows the list."""

import threading
import time

import confluent_kafka as ck
import requests
from confluent_kafka import ConsumerGroupState
from confluent_kafka.admin import AdminClient

from kafka_support import create_topic, write_config
from conftest import Strom


def listed(admin, **kwargs):
    started = time.time()
    result = admin.list_consumer_groups(request_timeout=20, **kwargs).result(30)
    assert not result.errors, result.errors
    assert time.time() - started < 15, "answered well within the request timeout"
    return {g.group_id: g.state for g in result.valid}


def commit_only(bootstrap, group):
    c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                     "enable.auto.commit": False})
    c.commit(offsets=[ck.TopicPartition("t", 0, 1)], asynchronous=False)
    c.close()


def test_list_consumer_groups_in_every_group_state(tmp_path):
    config = write_config(tmp_path, connections_max_idle_ms=2000)
    server = Strom(tmp_path / "data", extra_args=["--config", str(config)]).start()
    try:
        run(server)
    finally:
        server.stop()


def run(server):
    b = server.bootstrap
    admin = AdminClient({"bootstrap.servers": b})
    assert listed(admin) == {}
    create_topic(b, "t", partitions=2)
    commit_only(b, "offsets-only")
    a = ck.Consumer({"bootstrap.servers": b, "group.id": "busy", "session.timeout.ms": 10000,
                     "max.poll.interval.ms": 60000})
    a.subscribe(["t"])
    while not a.assignment():
        a.poll(0.2)
    assert listed(admin) == {"offsets-only": ConsumerGroupState.EMPTY,
                             "busy": ConsumerGroupState.STABLE}
    # A second member joins while the first does not poll: PreparingRebalance.
    stop = threading.Event()

    def second():
        c = ck.Consumer({"bootstrap.servers": b, "group.id": "busy"})
        c.subscribe(["t"])
        while not stop.is_set():
            c.poll(0.2)
        c.close()

    t = threading.Thread(target=second)
    t.start()
    try:
        deadline = time.time() + 30
        while listed(admin)["busy"] != ConsumerGroupState.PREPARING_REBALANCING:
            assert time.time() < deadline, "the group never started rebalancing"
            time.sleep(0.2)
        assert set(listed(admin, states={ConsumerGroupState.PREPARING_REBALANCING})) == {"busy"}
    finally:
        stop.set()
        t.join()
        a.close()
    commit_only(b, "doomed")
    assert requests.delete(f"{server.http}/v1/groups/doomed", timeout=10).status_code == 204
    for i in range(100):
        commit_only(b, f"many-{i}")
    groups = listed(admin)
    assert "doomed" not in groups and len(groups) == 102
    assert groups["busy"] == ConsumerGroupState.EMPTY
    # The server closes the idle admin connection; the next call reconnects.
    time.sleep(5)
    assert len(listed(admin)) == 102
