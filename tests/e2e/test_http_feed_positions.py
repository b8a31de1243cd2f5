"""Feed positions over time (docs/http.md, "Cursor" and "Atom"): a cursor taken before a topic
grew reads the new partitions from their beginning and nothing twice; a cursor from before
retention resumes at the log start; Atom archive pages that retention removed answer 410."""

import time

import requests

FAST = ["--retention-check-interval-ms", "200"]
SMALL_SEGMENTS = {"segment.bytes": "1024", "retention.bytes": "2048"}


def create(strom, name, partitions=1, configs=None):
    r = requests.post(f"{strom.http}/v1/topics",
                      json={"name": name, "partitions": partitions, "configs": configs or {}})
    assert r.status_code == 201, r.text


def produce(strom, topic, records):
    r = requests.post(f"{strom.http}/v1/topics/{topic}/records", json={"records": records})
    assert r.status_code == 200, r.text


def feed_after(strom, topic, cursor, limit=1000):
    """Every event after `cursor` up to the end, and the cursor after the last one."""
    out = []
    while True:
        params = {"limit": limit}
        if cursor is not None:
            params["lastEventId"] = cursor
        r = requests.get(f"{strom.http}/feeds/{topic}", params=params)
        assert r.status_code == 200, r.text
        batch = r.json()
        if not batch:
            return out, cursor
        out.extend(batch)
        cursor = batch[-1]["id"]


def log_start(strom, topic, partition=0):
    r = requests.get(f"{strom.http}/v1/topics/{topic}")
    assert r.status_code == 200, r.text
    return next(p for p in r.json()["partitions"] if p["partition"] == partition)["log_start_offset"]


def wait_log_start(strom, topic, at_least, timeout=60):
    deadline = time.time() + timeout
    while (start := log_start(strom, topic)) < at_least:
        assert time.time() < deadline, f"retention never moved the log start past {at_least}: {start}"
        time.sleep(0.1)
    return start


def produce_in_batches(strom, topic, count, per_request=10, value=lambda i: i):
    for first in range(0, count, per_request):
        produce(strom, topic, [{"value": value(i), "partition": 0}
                               for i in range(first, min(count, first + per_request))])


def test_cursor_from_before_the_topic_grew_reads_new_partitions_from_the_beginning(strom):
    create(strom, "growing", 1)
    produce(strom, "growing", [{"value": i, "partition": 0} for i in range(5)])
    before, cursor = feed_after(strom, "growing", None)
    assert [e["data"] for e in before] == list(range(5)) and cursor == "4"
    r = requests.post(f"{strom.http}/v1/topics/growing/partitions", json={"count": 3})
    assert r.status_code in (200, 204), r.text
    new = [{"value": 100 + i, "partition": i % 3} for i in range(9)]
    produce(strom, "growing", new)
    after, end = feed_after(strom, "growing", cursor)
    # Exactly the records produced after the cursor, new partitions from offset 0.
    assert sorted(e["data"] for e in after) == [r["value"] for r in new]
    for p in (1, 2):
        assert [e["offset"] for e in after if e["partition"] == p] == [0, 1, 2]
    assert [e["offset"] for e in after if e["partition"] == 0] == [5, 6, 7]
    assert end == "7.2.2"
    assert feed_after(strom, "growing", end) == ([], end)


def test_cursor_from_before_retention_resumes_at_the_log_start(strom_factory):
    strom = strom_factory(extra_args=FAST).start()
    create(strom, "retained", 1, SMALL_SEGMENTS)
    produce_in_batches(strom, "retained", 5)
    _, cursor = feed_after(strom, "retained", None)
    assert cursor == "4"
    produce_in_batches(strom, "retained", 300, value=lambda i: 1000 + i)
    start = wait_log_start(strom, "retained", 50)
    after, end = feed_after(strom, "retained", cursor)
    offsets = [e["offset"] for e in after]
    # Resumes at the log start (what retention left), then every offset up to the end.
    assert offsets[0] == start and offsets == list(range(start, 305)), offsets[:5]
    assert end == "304"


def test_atom_archive_pages_removed_by_retention_answer_410(strom_factory):
    strom = strom_factory(extra_args=FAST).start()
    create(strom, "atom-old", 1, SMALL_SEGMENTS)
    produce_in_batches(strom, "atom-old", 500)
    start = wait_log_start(strom, "atom-old", 300)
    atom = {"accept": "application/atom+xml"}
    for page in range(start // 100):
        r = requests.get(f"{strom.http}/feeds/atom-old/archive/0/{page}", headers=atom)
        assert r.status_code == 410, (page, r.status_code, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["status"] == 410
    # The page holding the log start is still served, without a link to the removed one.
    r = requests.get(f"{strom.http}/feeds/atom-old/archive/0/{start // 100}", headers=atom)
    assert r.status_code == 200, r.text
    assert "<fh:archive/>" in r.text and 'rel="prev-archive"' not in r.text
    assert f"atom-old/0/{start}<" in r.text and f"atom-old/0/{start - 1}<" not in r.text
