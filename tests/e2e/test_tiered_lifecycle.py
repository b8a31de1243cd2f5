"""Tiered storage (issue 16), what a demanding user hits beyond plain reads:

- DeleteRecords below the local log start (confluent-kafka's `delete_records`, with moto as
  S3): the low watermark moves at once, reads below it answer OFFSET_OUT_OF_RANGE (Kafka) and
  HTTP 422 `offset-out-of-range`, the remote manifest's log start follows and the segments
  wholly below it leave the bucket; a restart keeps it.
- `remote_fetch_max_wait_ms` (Kafka's `remote.fetch.max.wait.ms`): with the store stalled
  behind the fault proxy, a consumer of a remote partition and a local one keeps getting the
  local partition's records (the fetch is not held by the remote read), and the remote
  records arrive once the store answers again.
- Transactions whose segments are tiered and deleted locally (confluent-kafka transactions,
  one aborted, one committed, one left open; the local-file-system store): read_committed
  consumers and HTTP reads see only committed records after a restart and on a fresh node
  restored from the store, which aborts the transaction left open and hands out producer ids
  that do not collide with the restored ones.
"""

import base64
import json
import time
from pathlib import Path

import boto3
import confluent_kafka as ck
import requests
from confluent_kafka.admin import AdminClient

from fault_proxy import FaultProxy
from kafka_support import create_topic, produce_waiting
from test_tiered_storage import (TOPIC, TOPIC_CONFIG, consume_confluent, metric,
                                 produce, start_moto, tiered_config, tiers, values, wait_for)


def newest_manifest_s3(s3, bucket, prefix):
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    manifests = sorted(k for k in keys if "/manifest/" in k)
    body = s3.get_object(Bucket=bucket, Key=manifests[-1])["Body"].read()
    return json.loads(body), [k for k in keys if k.endswith(".log")]


def test_delete_records_below_the_local_log(strom_factory, tmp_path):
    moto, url = start_moto()
    try:
        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
        s3.create_bucket(Bucket="strom-del")
        cfg = tiered_config(tmp_path, "s3://strom-del/d", endpoint=url, region="us-east-1",
                            allow_http=True)
        env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
        server = strom_factory(extra_args=["--config", str(cfg)], env=env).start()
        create_topic(server.bootstrap, TOPIC, config=TOPIC_CONFIG)
        vals = values(6000)
        produce(server.bootstrap, vals)
        wait_for(lambda: metric(server, "strom_tier_remote_bytes") >
                 0.7 * sum(map(len, vals)), "most data to be remote", 90)
        wait_for(lambda: tiers(server)["local_start_offset"] > 2000, "local retention")
        manifest, logs = newest_manifest_s3(s3, "strom-del", "d/")
        segs = manifest["segments"]
        # Inside the fourth remote segment, well below the local log start.
        cut = segs[3]["base_offset"] + 5
        assert cut < tiers(server)["local_start_offset"]

        admin = AdminClient({"bootstrap.servers": server.bootstrap})
        futures = admin.delete_records([ck.TopicPartition(TOPIC, 0, cut)])
        deleted = list(futures.values())[0].result(timeout=30)
        assert deleted.low_watermark == cut, deleted

        c = ck.Consumer({"bootstrap.servers": server.bootstrap, "group.id": "del"})
        low, high = c.get_watermark_offsets(ck.TopicPartition(TOPIC, 0), timeout=10)
        assert (low, high) == (cut, len(vals))
        c.close()
        # Kafka: a fetch below the log start is OFFSET_OUT_OF_RANGE (librdkafka reports it as
        # _AUTO_OFFSET_RESET with auto.offset.reset=error, naming the broker's error).
        c2 = ck.Consumer({"bootstrap.servers": server.bootstrap, "group.id": "del2",
                          "auto.offset.reset": "error"})
        c2.assign([ck.TopicPartition(TOPIC, 0, cut - 1)])
        err = None
        deadline = time.time() + 30
        while err is None and time.time() < deadline:
            m = c2.poll(0.5)
            if m is not None and m.error():
                err = m.error()
        c2.close()
        assert err is not None and "Offset out of range" in err.str(), err
        # HTTP: 422 offset-out-of-range below, the records from the cut on.
        r = requests.get(f"{server.http}/v1/topics/{TOPIC}/partitions/0/records",
                         params={"offset": cut - 1}, timeout=30)
        assert r.status_code == 422 and r.json()["type"].endswith("offset-out-of-range"), r.text
        r = requests.get(f"{server.http}/v1/topics/{TOPIC}/partitions/0/records",
                         params={"offset": cut, "max_bytes": 1024}, timeout=30)
        assert r.status_code == 200 and r.json()["records"][0]["offset"] == cut, r.text
        # A consumer from the beginning starts at the cut and reads the rest unchanged.
        got = consume_confluent(server.bootstrap, len(vals) - cut)
        assert got == list(enumerate(vals))[cut:]

        # The bucket: the manifest starts at the cut, the segments below it are gone.
        def trimmed():
            m, logs = newest_manifest_s3(s3, "strom-del", "d/")
            return m["log_start_offset"] == cut and len(logs) == len(m["segments"])
        wait_for(trimmed, "the remote segments below the cut to be deleted")
        manifest, logs = newest_manifest_s3(s3, "strom-del", "d/")
        assert manifest["segments"][0]["base_offset"] == segs[3]["base_offset"]
        gone = [f"d/{seg['key']}.log" for seg in segs[:3]]
        assert not set(gone) & set(logs), logs
        # A restart keeps the new log start.
        server.stop()
        server.start()
        wait_for(lambda: tiers(server) is not None, "the uploader's take-over")
        c = ck.Consumer({"bootstrap.servers": server.bootstrap, "group.id": "del3"})
        low, _ = c.get_watermark_offsets(ck.TopicPartition(TOPIC, 0), timeout=10)
        c.close()
        assert low == cut
    finally:
        moto.kill()
        moto.wait()


def test_remote_fetch_max_wait_does_not_hold_local_partitions(strom_factory, tmp_path):
    moto, url = start_moto()
    proxy = FaultProxy(int(url.rsplit(":", 1)[1]))
    try:
        s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
        s3.create_bucket(Bucket="strom-wait")
        cfg = tiered_config(tmp_path, "s3://strom-wait/w", endpoint=proxy.url,
                            region="us-east-1", allow_http=True, cache_bytes=262144,
                            remote_fetch_max_wait_ms=300)
        env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
        server = strom_factory(extra_args=["--config", str(cfg)], env=env).start()
        create_topic(server.bootstrap, TOPIC, partitions=2, config=TOPIC_CONFIG)
        remote_vals = values(3000)
        produce(server.bootstrap, remote_vals)
        wait_for(lambda: tiers(server)["local_start_offset"] > 1000, "partition 0 to be remote")
        # The store stalls: every byte through the proxy waits 60 s.
        proxy.set_mode("slow", piece=1, delay=60)
        c = ck.Consumer({"bootstrap.servers": server.bootstrap, "group.id": "wait",
                         "enable.auto.commit": False})
        c.assign([ck.TopicPartition(TOPIC, 0, ck.OFFSET_BEGINNING),
                  ck.TopicPartition(TOPIC, 1, ck.OFFSET_BEGINNING)])
        got = {0: [], 1: []}

        def poll_until(done, seconds):
            deadline = time.time() + seconds
            while not done() and time.time() < deadline:
                m = c.poll(0.5)
                if m is not None and not m.error():
                    got[m.partition()].append((m.offset(), m.value()))

        # Fetches of partition 0 now need the stalled store; then partition 1 gets records.
        poll_until(lambda: False, 3)
        p = ck.Producer({"bootstrap.servers": server.bootstrap})
        local_vals = [f"local-{i}".encode() for i in range(20)]
        for v in local_vals:
            p.produce(TOPIC, value=v, partition=1)
        assert p.flush(30) == 0
        # They arrive while partition 0's remote reads are stalled (without the bound each
        # fetch would be held 30 s, the store client's limit, before answering anything).
        poll_until(lambda: len(got[1]) >= len(local_vals), 20)
        assert got[1] == list(enumerate(local_vals)), got[1]
        assert got[0] == [], "remote records read through a stalled store"
        proxy.set_mode("pass")
        poll_until(lambda: len(got[0]) >= len(remote_vals), 120)
        c.close()
        assert got[0] == list(enumerate(remote_vals))
        text = requests.get(f"{server.http}/metrics", timeout=10).text
        tier = [line for line in text.splitlines() if line.startswith("strom_tier_")]
        assert any(line.startswith("strom_tier_remote_fetch_timeouts_total ") for line in tier), tier
    finally:
        proxy.close()
        moto.kill()
        moto.wait()


def txn_produce(bootstrap, txn_id, vals, end):
    """Produces `vals` in one transaction of `txn_id`; `end`: "commit", "abort" or "open"."""
    p = ck.Producer({"bootstrap.servers": bootstrap, "transactional.id": txn_id,
                     "linger.ms": 5, "batch.size": 4096})
    p.init_transactions(30)
    p.begin_transaction()
    for v in vals:
        produce_waiting(p, TOPIC, value=v, partition=0)
    assert p.flush(60) == 0
    if end == "commit":
        p.commit_transaction(30)
    elif end == "abort":
        p.abort_transaction(30)
    return p


def consume_committed(bootstrap, count):
    c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "txn-check",
                     "enable.auto.commit": False, "isolation.level": "read_committed"})
    c.assign([ck.TopicPartition(TOPIC, 0, ck.OFFSET_BEGINNING)])
    out = []
    deadline = time.time() + 60
    while len(out) < count and time.time() < deadline:
        m = c.poll(0.5)
        if m is not None:
            assert not m.error(), m.error()
            out.append(m.value())
    c.close()
    return out


def http_values(server, count):
    """The first `count` record values of the topic's HTTP feed (a committed read)."""
    out, last = [], None
    deadline = time.time() + 60
    while len(out) < count and time.time() < deadline:
        params = {"limit": 1000, "timeout": 1000}
        if last is not None:
            params["lastEventId"] = last
        r = requests.get(f"{server.http}/feeds/{TOPIC}", params=params, timeout=30)
        assert r.status_code == 200, r.text
        for e in r.json():
            if "data_base64" in e:
                out.append(base64.b64decode(e["data_base64"]))
            else:
                d = e["data"]
                out.append((d if isinstance(d, str) else json.dumps(d)).encode())
            last = e["id"]
    return out


def test_transactions_on_tiered_segments_restart_and_restore(strom_factory, tmp_path):
    store = tmp_path / "bucket"
    cfg = tiered_config(tmp_path, f"file://{store}")
    server = strom_factory(extra_args=["--config", str(cfg)], name="node-a").start()
    create_topic(server.bootstrap, TOPIC, config=TOPIC_CONFIG)
    aborted = [f"aborted-{i:04d}-{'a' * 80}".encode() for i in range(400)]
    committed = [f"committed-{i:04d}-{'c' * 80}".encode() for i in range(400)]
    txn_produce(server.bootstrap, "t-abort", aborted, "abort")
    txn_produce(server.bootstrap, "t-commit", committed, "commit")
    filler = values(1500)
    produce(server.bootstrap, filler)
    wait_for(lambda: tiers(server)["local_start_offset"] > len(aborted) + len(committed) + 2,
             "the transactions' segments to be tiered and deleted locally")
    expected = committed + filler
    # A restart trims what the local log no longer holds; the remote snapshot brings it back.
    server.stop()
    server.start()
    wait_for(lambda: tiers(server) is not None, "the uploader's take-over")
    assert consume_committed(server.bootstrap, len(expected)) == expected
    assert http_values(server, len(expected)) == expected

    # A transaction left open, then more records: tiered; the node is lost.
    opener = txn_produce(server.bootstrap, "t-open", [f"open-{i}".encode() for i in range(300)],
                         "open")
    more = values(1500, len(filler))
    produce(server.bootstrap, more)
    open_end = len(aborted) + len(committed) + 2 + len(filler) + 300
    wait_for(lambda: tiers(server)["remote_end_offset"] > open_end + 100,
             "the open transaction and records after it to be uploaded")
    server.kill()
    remote_end = tiers_from_store(store)
    fresh = strom_factory(extra_args=["--config", str(cfg)], name="node-b").start()
    wait_for(lambda: tiers(fresh) is not None, "the restored node's take-over")
    # Everything uploaded that was committed (or not transactional), never the aborted or the
    # open transaction's records; read_committed readers are not held by the open one.
    restored = [v for v in expected + more if not v.startswith(b"open-")]
    count = remote_end - len(aborted) - 300 - 2  # minus aborted, open and two markers
    assert consume_committed(fresh.bootstrap, count) == restored[:count]
    assert http_values(fresh, count) == restored[:count]
    # New producers on the restored node: an idempotent one and a transaction, both work.
    produce(fresh.bootstrap, [b"after-restore-1"])
    txn_produce(fresh.bootstrap, "t-new", [b"after-restore-2"], "commit")
    tail = consume_committed(fresh.bootstrap, count + 2)[count:]
    assert tail == [b"after-restore-1", b"after-restore-2"], tail
    opener.purge()


def tiers_from_store(store):
    newest = max(Path(store).glob("topics/*/*/0/manifest/*.json"))
    return json.loads(newest.read_text())["segments"][-1]["end_offset"]
