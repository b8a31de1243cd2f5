"""The console's data pages against the real binary, fed by confluent-kafka: bounded search
(`GET /v1/topics/{t}/search`, console C6) over 100,000 records -- a key search scans only the
key's murmur2 partition, a value search stops at its budget and its cursor resumes with no
duplicate and no gap --, export of a result set as JSONL and CSV (C16, and `[console] export =
false`), and the same in Debian's chromium (tests/e2e/console/console_data_browser.js): the
search page with Continue, the export download. `STROM_CONSOLE_SCREENSHOTS=1` writes screenshots
to docs/console/."""

import base64
import csv
import io
import json
import os
import subprocess
import time
from pathlib import Path

import pytest
import requests
from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kafka.admin import KafkaAdminClient

from kafka.protocol.api import Request, Response
from kafka.protocol.types import Array, Int16, Int32, Schema, String

from conftest import Strom
from group_wire import Wire

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "console" / "console_data_browser.js"
SHOTS = HERE.parent.parent / "docs" / "console"
USER, PASSWORD = "admin", "console:pw"
AUTH = (USER, PASSWORD)
TOPIC, PARTITIONS, RECORDS, KEYS, GROUP, DOOMED = "events", 4, 100_000, 5_000, "analytics", "doomed"
TRIMMED = "trimmed"
NEEDLE_EVERY = 1_000
PAGED, PAGED_RECORDS = "paged", 1_000


def value_of(i):
    status = "needle" if i % NEEDLE_EVERY == 7 else "ok"
    return json.dumps({"i": i, "status": status}).encode()


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """A server with TOPIC holding RECORDS records; where each record landed."""
    tmp = tmp_path_factory.mktemp("console-data")
    config = tmp / "strom.toml"
    # Samples every half second, so the charts have points within the test.
    config.write_text('http_auth = "required"\n[console]\nhistory_interval_ms = 500\n')
    server = Strom(tmp / "data", extra_args=["--config", str(config)],
                   env={"STROM_BOOTSTRAP_USER": f"{USER}:{PASSWORD}:SCRAM-SHA-256"}).start()
    admin = AdminClient({"bootstrap.servers": server.bootstrap})
    for future in admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1)]).values():
        future.result(timeout=30)
    # murmur2_random: Kafka's Java partitioner, which the server's key search assumes.
    producer = Producer({"bootstrap.servers": server.bootstrap, "partitioner": "murmur2_random",
                         "linger.ms": 20, "batch.num.messages": 10_000, "queue.buffering.max.messages": 200_000})
    placed = {}

    def report(err, msg):
        assert err is None, err
        placed[int(json.loads(msg.value())["i"])] = (msg.partition(), msg.offset())

    started = time.time()
    for i in range(RECORDS):
        headers = [("source", "batch" if i % 10 == 0 else "web")]
        producer.produce(TOPIC, key=f"user-{i % KEYS}", value=value_of(i), headers=headers, on_delivery=report)
        if i % 10_000 == 0:
            producer.poll(0)
    assert producer.flush(120) == 0
    print(f"produced {RECORDS} records in {time.time() - started:.1f} s")
    assert len(placed) == RECORDS
    # PAGED: 1,000 records over 3 partitions, timestamps with ties, for all-partition paging.
    for future in admin.create_topics([NewTopic(PAGED, 3, 1)]).values():
        future.result(timeout=30)
    base = int(time.time() * 1000) - 3_600_000
    for i in range(PAGED_RECORDS):
        producer.produce(PAGED, key=f"k{i}", value=f"v{i}".encode(), partition=i % 3, timestamp=base + i // 4)
    assert producer.flush(60) == 0
    for group in (GROUP, DOOMED, TRIMMED):
        consumer = Consumer({"bootstrap.servers": server.bootstrap, "group.id": group, "enable.auto.commit": False})
        consumer.commit(offsets=[TopicPartition(TOPIC, p, 10) for p in range(PARTITIONS)], asynchronous=False)
        consumer.close()
    yield server, placed
    server.stop()


def search(server, **params):
    r = requests.get(f"{server.http}/v1/topics/{TOPIC}/search", params=params, auth=AUTH, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def sizes(server):
    t = requests.get(f"{server.http}/v1/topics/{TOPIC}", auth=AUTH, timeout=10).json()
    return {p["partition"]: p["high_watermark"] - p["log_start_offset"] for p in t["partitions"]}


def test_a_key_search_scans_only_the_keys_partition(loaded):
    server, placed = loaded
    key = "user-42"
    expected = sorted(placed[i] for i in range(42, RECORDS, KEYS))
    partition = expected[0][0]
    assert all(p == partition for p, _ in expected)
    r = search(server, key=key, key_match="equals", limit=500)
    assert [p["partition"] for p in r["partitions"]] == [partition], r["partitions"]
    assert r["scanned"] <= sizes(server)[partition], (r["scanned"], sizes(server))
    assert sorted((m["partition"], m["offset"]) for m in r["records"]) == expected
    assert r["matched"] == len(expected) == RECORDS // KEYS
    assert r["stopped"] == "end" and r["cursor"] is None, r
    assert all(m["key"] == key for m in r["records"])
    # "contains" scans every partition.
    r = search(server, key="user-4999", key_match="contains", limit=500, max_records=RECORDS)
    assert len(r["partitions"]) == PARTITIONS and r["scanned"] == RECORDS, r["scanned"]
    assert r["matched"] == RECORDS // KEYS
    print(f"key search: scanned {search(server, key=key)['scanned']} of {RECORDS} records")


def test_a_value_search_stops_at_its_budget_and_continues_without_gaps(loaded):
    server, placed = loaded
    expected = sorted(placed[i] for i in range(7, RECORDS, NEEDLE_EVERY))
    budget = 7_000
    found, scanned, rounds, cursor = [], 0, 0, None
    while True:
        r = search(server, value_contains='"needle"', max_records=budget, limit=500,
                   **({"cursor": cursor} if cursor else {}))
        rounds += 1
        assert r["scanned"] <= budget, r["scanned"]
        if r["cursor"] is not None:
            assert r["stopped"] == "max_records" and r["scanned"] == budget, r
        found += [(m["partition"], m["offset"]) for m in r["records"]]
        scanned += r["scanned"]
        cursor = r["cursor"]
        if cursor is None:
            break
        assert rounds < 100
    assert len(found) == len(set(found)), "a match was returned twice"
    assert sorted(found) == expected
    assert scanned == RECORDS, scanned
    assert rounds == -(-RECORDS // budget), rounds
    # A full page stops the scan right after the last match; the cursor continues there.
    r = search(server, value_contains='"needle"', limit=3)
    assert r["stopped"] == "limit" and r["matched"] == 3
    last = r["records"][-1]
    assert f"{last['partition']}:{last['offset'] + 1}" in r["cursor"], r["cursor"]
    r2 = search(server, value_contains='"needle"', limit=3, cursor=r["cursor"])
    assert [(m["partition"], m["offset"]) for m in r["records"] + r2["records"]] == expected[:6]
    # A header filter and a partition.
    r = search(server, header="source:batch", partition=1, max_records=RECORDS, limit=500)
    assert r["matched"] == min(500, sum(1 for i, (p, _) in placed.items() if p == 1 and i % 10 == 0))
    assert all(m["partition"] == 1 and m["headers"] == [{"key": "source", "value": "batch"}] for m in r["records"])
    # Caps and bad input.
    r = requests.get(f"{server.http}/v1/topics/{TOPIC}/search", params={"key_match": "regex"}, auth=AUTH, timeout=10)
    assert r.status_code == 400 and "key_match" in r.json()["detail"]
    r = requests.get(f"{server.http}/v1/topics/{TOPIC}/search", params={"cursor": "9:0"}, auth=AUTH, timeout=10)
    assert r.status_code == 400
    r = requests.get(f"{server.http}/v1/topics/{TOPIC}/search", timeout=10)
    assert r.status_code == 401


def decoded(field_owner, name):
    """The bytes of `name` in an API or export object (text, or base64 under `_base64`)."""
    if field_owner.get(name + "_base64") is not None:
        return base64.b64decode(field_owner[name + "_base64"])
    v = field_owner.get(name)
    return None if v is None else v.encode()


def test_export_downloads_the_result_set(loaded, tmp_path):
    server, _ = loaded
    params = {"value_contains": '"needle"', "limit": 40, "format": "binary"}
    api = search(server, **params)["records"]
    assert len(api) == 40
    want = [(m["partition"], m["offset"], m["timestamp"], decoded(m, "key"), decoded(m, "value"),
             [(h["key"], decoded(h, "value")) for h in m["headers"]]) for m in api]
    url = f"{server.http}/v1/topics/{TOPIC}/search"
    jl = requests.get(url, params={**params, "export": "jsonl"}, auth=AUTH, timeout=30)
    assert jl.status_code == 200 and jl.headers["content-type"] == "application/x-ndjson"
    assert jl.headers["content-disposition"] == f'attachment; filename="{TOPIC}.jsonl"'
    rows = [json.loads(line) for line in jl.text.splitlines()]
    got = [(o["partition"], o["offset"], o["timestamp"], decoded(o, "key"), decoded(o, "value"),
            [(h["key"], decoded(h, "value")) for h in o["headers"]]) for o in rows]
    assert got == want
    b64 = requests.get(url, params={**params, "export": "jsonl", "encoding": "base64"}, auth=AUTH, timeout=30)
    assert all("value_base64" in json.loads(line) for line in b64.text.splitlines())
    c = requests.get(url, params={**params, "export": "csv"}, auth=AUTH, timeout=30)
    assert c.status_code == 200 and c.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(c.text)))
    got = [(int(r["partition"]), int(r["offset"]), int(r["timestamp"]),
            r["key"].encode() if r["key"] else base64.b64decode(r["key_base64"]),
            r["value"].encode() if r["value"] else base64.b64decode(r["value_base64"]),
            [(h["key"], decoded(h, "value")) for h in json.loads(r["headers"])]) for r in table]
    assert got == want
    # Turned off: 403 with the reason.
    config = tmp_path / "off.toml"
    config.write_text('[console]\nexport = false\n')
    off = Strom(tmp_path / "off", extra_args=["--config", str(config)]).start()
    try:
        requests.post(f"{off.http}/v1/topics", json={"name": "t", "partitions": 1}, timeout=10)
        r = requests.get(f"{off.http}/v1/topics/t/search", params={"export": "csv"}, timeout=10)
        assert r.status_code == 403 and r.json()["type"].endswith("export-disabled"), r.text
        assert requests.get(f"{off.http}/v1/topics/t/search", timeout=10).status_code == 200
    finally:
        off.stop()


def wait_for(condition, what, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_history_has_rates_and_lag_after_load(loaded):
    server, _ = loaded

    def history():
        r = requests.get(f"{server.http}/v1/metrics/history", auth=AUTH, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    # The production happened before the sampler's later points: some rate is positive.
    h = wait_for(lambda: (lambda d: d if len(d["t"]) >= 3 and GROUP in d["groups"] else None)(history()),
                 "three samples with the group")
    assert h["interval_ms"] == 500
    assert all(len(s) == len(h["t"]) for s in h["topics"][TOPIC].values())
    assert any((v or 0) > 0 for v in h["topics"][TOPIC]["records_in"]), h["topics"][TOPIC]
    lag = [v for v in h["groups"][GROUP] if v is not None]
    assert lag and lag[-1] == RECORDS - 10 * PARTITIONS, lag
    # A read is counted as records out: search the whole topic, then the out rate shows it.
    search(server, value_contains="x", max_records=RECORDS, limit=1)
    consumer = Consumer({"bootstrap.servers": server.bootstrap, "group.id": "reader", "auto.offset.reset": "earliest"})
    consumer.subscribe([TOPIC])
    got = 0
    deadline = time.time() + 60
    while got < 1000 and time.time() < deadline:
        got += len(consumer.consume(1000, 1.0))
    consumer.close()
    h = wait_for(lambda: (lambda d: d if any((v or 0) > 0 for v in d["topics"][TOPIC]["records_out"]) else None)(history()),
                 "a consume rate")
    assert requests.get(f"{server.http}/v1/metrics/history", timeout=10).status_code == 401


def test_a_reset_of_some_partitions_of_one_topic_moves_only_those(loaded):
    server, _ = loaded
    url = f"{server.http}/v1/groups/partial/offsets/reset"
    r = requests.post(url, json={"topics": [TOPIC], "partitions": [1, 3], "to": "latest", "execute": True},
                      auth=AUTH, timeout=10)
    assert r.status_code == 200, r.text
    assert [p["partition"] for p in r.json()["partitions"]] == [1, 3], r.json()
    d = requests.get(f"{server.http}/v1/groups/partial", auth=AUTH, timeout=10).json()
    ends = sizes(server)
    assert [(o["partition"], o["committed_offset"]) for o in d["offsets"]] == [(1, ends[1]), (3, ends[3])], d
    for body in ({"partitions": [1], "to": "latest"}, {"topics": [TOPIC, PAGED], "partitions": [1], "to": "latest"},
                 {"topics": [TOPIC], "partitions": [9], "to": "latest"}):
        r = requests.post(url, json=body, auth=AUTH, timeout=10)
        assert r.status_code == 400, (body, r.text)


def test_group_detail_has_time_lag(loaded):
    server, _ = loaded
    before = time.time() * 1000
    d = requests.get(f"{server.http}/v1/groups/{GROUP}", auth=AUTH, timeout=10).json()
    t = requests.get(f"{server.http}/v1/topics/{TOPIC}/partitions/0/records", params={"offset": 10, "limit": 1},
                     auth=AUTH, timeout=10).json()["records"][0]["timestamp"]
    o = next(o for o in d["offsets"] if o["partition"] == 0)
    assert o["lag"] > 0 and before - t - 1000 <= o["time_lag_ms"] <= time.time() * 1000 - t + 1000, (o, t, before)


def first_offsets(server, group):
    """Subscribes a confluent-kafka consumer to TOPIC in `group` (earliest when nothing is
    committed): the first offset it gets on each partition; the consumer stays subscribed."""
    consumer = Consumer({"bootstrap.servers": server.bootstrap, "group.id": group,
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([TOPIC])
    first = {}
    deadline = time.time() + 60
    while len(first) < PARTITIONS and time.time() < deadline:
        for msg in consumer.consume(500, 1.0):
            if msg.error() is None:
                first.setdefault(msg.partition(), msg.offset())
    return consumer, first


def check_deleted_offsets(server):
    """After the console's deletion of TRIMMED's offsets on partitions 0 and 1, and Kafka's
    OffsetDelete (confluent-kafka's AdminClient) on partition 2: a consumer starts at the log
    start there and at the commit on partition 3; while it is subscribed the server refuses."""
    # (confluent-kafka and kafka-python have no OffsetDelete call: the request is sent raw.)
    wire = Wire(server.bootstrap)
    try:
        done = wire.call(OffsetDeleteRequest(group_id=TRIMMED, topics=[(TOPIC, [2])]))
    finally:
        wire.close()
    assert done.error_code == 0 and done.topics == [(TOPIC, [(2, 0)])], done
    consumer, first = first_offsets(server, TRIMMED)
    try:
        assert first == {0: 0, 1: 0, 2: 0, 3: 10}, first
        # A member subscribes to the topic: both APIs refuse (Kafka's GROUP_SUBSCRIBED_TO_TOPIC).
        r = requests.delete(f"{server.http}/v1/groups/{TRIMMED}/offsets", params={"topic": TOPIC},
                            auth=AUTH, timeout=10)
        assert r.status_code == 409 and r.json()["type"].endswith("group-subscribed-to-topic"), r.text
    finally:
        consumer.close()
    r = requests.delete(f"{server.http}/v1/groups/{TRIMMED}/offsets", params={"topic": "nope"}, auth=AUTH, timeout=10)
    assert r.status_code == 404 and r.json()["type"].endswith("no-committed-offsets"), r.text
    r = requests.delete(f"{server.http}/v1/groups/{TRIMMED}/offsets", params={"topic": TOPIC, "partitions": "x"},
                        auth=AUTH, timeout=10)
    assert r.status_code == 400, r.text


class OffsetDeleteResponse(Response):
    API_KEY, API_VERSION = 47, 0
    SCHEMA = Schema(("error_code", Int16), ("throttle_time_ms", Int32),
                    ("topics", Array(("name", String("utf-8")),
                                     ("partitions", Array(("partition", Int32), ("error_code", Int16))))))


class OffsetDeleteRequest(Request):
    """Kafka's OffsetDelete v0 (KIP-496), which `kafka-consumer-groups --delete-offsets` sends."""
    API_KEY, API_VERSION, RESPONSE_TYPE = 47, 0, OffsetDeleteResponse
    SCHEMA = Schema(("group_id", String("utf-8")),
                    ("topics", Array(("name", String("utf-8")), ("partitions", Array(Int32)))))


def run_browser(plan):
    if os.environ.get("STROM_CONSOLE_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(["node", str(SCRIPT), json.dumps(plan)], capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-4000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.timeout(300)
def test_search_and_export_in_chromium(loaded, tmp_path):
    server, placed = loaded
    plan = {"base": server.http, "user": USER, "password": PASSWORD, "topic": TOPIC,
            "budget": 10_000, "needle": '"needle"', "group": GROUP, "doomed": DOOMED, "trimmed": TRIMMED, "paged": PAGED, "downloads": str(tmp_path), "screenshots": str(SHOTS)}
    r = run_browser(plan)
    # The 401s of the views asked before login are logged by the browser as failed loads.
    scripts = [e for e in r["console_errors"] if not e.startswith("Failed to load resource")]
    assert not scripts and not r["csp_violations"] and not r["foreign_requests"], r
    bad = {page: v for page, v in r["axe"].items() if v}
    assert not bad, bad
    # Search: Continue until done; every needle exactly once.
    expected = sorted(placed[i] for i in range(7, RECORDS, NEEDLE_EVERY))
    found = [tuple(x) for x in r["search_found"]]
    assert len(found) == len(set(found)) and sorted(found) == expected, (len(found), len(expected))
    assert r["search_rounds"] == RECORDS // plan["budget"], r["search_rounds"]
    assert r["search_status"][0].startswith("Scanned 10,000 records"), r["search_status"]
    assert "run=1" in r["search_hash"] and "value_contains=" in r["search_hash"]
    # Charts: a drawn canvas for produce rates and lag, the topic in the legend.
    assert r["chart_canvases"] >= 2 and TOPIC in r["chart_legend"], r
    assert "one every 0.5 s" in r["chart_info"], r["chart_info"]
    # Group page: time lag shown per partition; the deleted group is gone for Kafka clients.
    assert len(r["group_time_lag"]) == PARTITIONS and all(x.endswith(" s") or "min" in x for x in r["group_time_lag"]), r
    assert r["after_delete_hash"] == "#/groups", r["after_delete_hash"]
    admin = KafkaAdminClient(bootstrap_servers=server.bootstrap)
    names = {g[0] for g in admin.list_consumer_groups()}
    admin.close()
    assert GROUP in names and DOOMED not in names, names
    # Offsets deleted in the console (C12): partitions 0 and 1 of TRIMMED lost their commits.
    assert r["offsets_delete_notice"] == f"Deleted the committed offsets of 2 partitions of {TOPIC}.", r
    assert r["offsets_after_delete"] == [["2", "10"], ["3", "10"]], r["offsets_after_delete"]
    check_deleted_offsets(server)
    # All partitions (C5): paging forward and backward yields every record once, in
    # (timestamp, partition, offset) order; a reload shows the same page.
    everything = {(i % 3, i // 3) for i in range(PAGED_RECORDS)}
    forward = [tuple(x) for x in r["all_forward"]]
    backward = [tuple(x) for x in r["all_backward"]]
    assert len(forward) == len(set(forward)) == PAGED_RECORDS and set(forward) == everything
    assert len(backward) == len(set(backward)) == PAGED_RECORDS and set(backward) == everything
    ts = lambda po: (po[1] * 3 + po[0]) // 4  # noqa: E731 (the timestamp offset of that record)
    assert forward == sorted(forward, key=lambda po: (ts(po), po[0], po[1]))
    assert backward == list(reversed(forward)), "newest first is the exact reverse"
    assert r["all_reload"][0] == r["all_reload"][1] and len(r["all_reload"][0]) == 100
    # The key search page names one partition.
    assert r["key_lanes"] == [str(placed[42][0])], r["key_lanes"]
    # Export from the browser equals the API's answer for the same page.
    api = search(server, value_contains='"needle"', max_records=plan["budget"], limit=500)["records"]
    rows = [json.loads(line) for line in Path(r["download_path"]).read_text().splitlines()]
    assert [(o["partition"], o["offset"], o["value"]) for o in rows] == \
        [(m["partition"], m["offset"], json.dumps(m["value"])) for m in api]
