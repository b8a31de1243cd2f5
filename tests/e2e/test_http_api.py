"""HTTP API end to end against the real binary: produce and consume with curl and requests,
long polling, topic administration, and every class of rejected request."""

import json
import subprocess
import threading
import time

import requests


def create(strom, name, partitions=1, configs=None):
    r = requests.post(f"{strom.http}/v1/topics",
                      json={"name": name, "partitions": partitions, "configs": configs or {}})
    assert r.status_code == 201, r.text
    return r.json()


def curl(*args):
    out = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", *args],
                         capture_output=True, text=True, timeout=60, check=True)
    body, _, code = out.stdout.rpartition("\n")
    return int(code), body


def test_produce_and_consume_with_curl(strom):
    create(strom, "curl-t", 1)
    code, body = curl("-X", "POST", "-H", "content-type: application/json",
                      "--data", json.dumps({"records": [
                          {"key": "k", "value": {"hello": "world"},
                           "headers": [{"key": "trace", "value": "abc"}]},
                          {"value_base64": "AP8="}]}),
                      f"{strom.http}/v1/topics/curl-t/records")
    assert code == 200, body
    offsets = json.loads(body)["offsets"]
    assert [o["offset"] for o in offsets] == [0, 1]
    code, body = curl("-X", "POST", "-H", "content-type: application/octet-stream",
                      "--data-binary", "raw bytes", f"{strom.http}/v1/topics/curl-t/records?key=r")
    assert code == 200, body
    code, body = curl(f"{strom.http}/v1/topics/curl-t/partitions/0/records?offset=0")
    assert code == 200
    records = json.loads(body)["records"]
    assert records[0]["value"] == {"hello": "world"}
    assert records[0]["headers"] == [{"key": "trace", "value": "abc"}]
    assert records[1]["value_base64"] == "AP8="
    assert records[2]["key"] == "r"
    # "raw bytes" is not JSON: it comes back as base64 in json format.
    assert records[2]["value_base64"] == "cmF3IGJ5dGVz"


def test_long_poll_returns_on_produce_before_timeout(strom):
    create(strom, "lp", 1)
    result = {}

    def poll():
        start = time.monotonic()
        r = requests.get(f"{strom.http}/v1/topics/lp/partitions/0/records",
                         params={"offset": 0, "timeout": 30000}, timeout=60)
        result["elapsed"] = time.monotonic() - start
        result["body"] = r.json()

    t = threading.Thread(target=poll)
    t.start()
    time.sleep(0.5)
    assert t.is_alive(), "the long poll returned before any data was produced"
    requests.post(f"{strom.http}/v1/topics/lp/records", json={"records": [{"value": 42}]})
    t.join(timeout=60)
    assert result["elapsed"] < 30, "the long poll only returned at its timeout"
    assert result["body"]["records"][0]["value"] == 42

    # The feed long-poll too.
    result.clear()

    def feed():
        start = time.monotonic()
        r = requests.get(f"{strom.http}/feeds/lp", params={"lastEventId": "0", "timeout": 30000},
                         timeout=60)
        result["elapsed"] = time.monotonic() - start
        result["body"] = r.json()

    t = threading.Thread(target=feed)
    t.start()
    time.sleep(0.5)
    assert t.is_alive()
    requests.post(f"{strom.http}/v1/topics/lp/records", json={"records": [{"value": 43}]})
    t.join(timeout=60)
    assert result["elapsed"] < 30
    assert [e["data"] for e in result["body"]] == [43]


def test_long_poll_timeout_is_capped(strom_factory, tmp_path):
    cfg = tmp_path / "strom.toml"
    cfg.write_text("http_max_poll_timeout_ms = 300\n")
    s = strom_factory(extra_args=["--config", str(cfg)]).start()
    create(s, "cap", 1)
    # Asked for 60 s, capped at 0.3 s: the client gives up long before 60 s, so an uncapped
    # wait fails with a read timeout (the margin over the cap absorbs any load).
    start = time.monotonic()
    r = requests.get(f"{s.http}/feeds/cap", params={"timeout": 60000}, timeout=15)
    assert r.status_code == 200 and r.json() == []
    assert time.monotonic() - start >= 0.3, "answered before the capped wait was over"


def test_admin(strom):
    info = create(strom, "adm", 2, {"cleanup.policy": "delete"})
    assert info["partition_count"] == 2
    assert requests.post(f"{strom.http}/v1/topics/adm/partitions", json={"count": 3}).status_code == 200
    r = requests.patch(f"{strom.http}/v1/topics/adm/configs", json={"configs": {"retention.ms": "1000"}})
    assert r.status_code == 200, r.text
    desc = requests.get(f"{strom.http}/v1/topics/adm").json()
    assert desc["partition_count"] == 3
    assert {c["name"]: c["value"] for c in desc["configs"]}["retention.ms"] == "1000"
    assert [t["name"] for t in requests.get(f"{strom.http}/v1/topics").json()] == ["adm"]
    p = requests.get(f"{strom.http}/v1/topics/adm/partitions/0").json()
    assert p == {"partition": 0, "log_start_offset": 0, "high_watermark": 0, "size_bytes": p["size_bytes"],
                 "segments": 1}
    assert requests.delete(f"{strom.http}/v1/topics/adm").status_code == 204
    assert requests.get(f"{strom.http}/v1/topics/adm").status_code == 404


def assert_problem(r, status, needle=None):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and body["title"] and body["type"] and body["detail"]
    if needle:
        assert needle in body["detail"], body["detail"]
    return body


def test_rejections(strom_factory, tmp_path):
    cfg = tmp_path / "strom.toml"
    # Without auto-creation, so that producing to a missing topic is the 404 under test.
    cfg.write_text("http_max_body_bytes = 4096\nauto_create_topics = false\n")
    s = strom_factory(extra_args=["--config", str(cfg)]).start()
    create(s, "err", 2)
    url = f"{s.http}/v1/topics/err/records"
    assert_problem(requests.post(url, data=b'{"records": [\n  {"value": }]}',
                                 headers={"content-type": "application/json"}), 400, "line 2 column")
    assert_problem(requests.post(f"{s.http}/v1/topics/none/records", json={"records": [{"value": 1}]}),
                   404, "none")
    assert_problem(requests.post(url, data=b"x" * 10000, headers={"content-type": "application/json"}),
                   413)
    assert_problem(requests.post(url, data=b"hello", headers={"content-type": "text/plain"}), 415)
    # A bad record anywhere rejects the whole request, and nothing is written.
    assert_problem(requests.post(url, json={"records": [{"value": 1, "partition": 0},
                                                        {"value_base64": "%%%", "partition": 1}]}),
                   422, "record 1")
    assert_problem(requests.post(url, json={"records": [{"value": 1, "partition": 5}]}), 404)
    assert_problem(requests.post(url, json={"records": [{"value": 1, "unknown": 2}]}), 400, "unknown")
    offsets = requests.get(f"{s.http}/topics/err/partitions/0/offsets").json()
    assert offsets["end_offset"] == 0
    get = lambda path: requests.get(f"{s.http}{path}")
    assert_problem(get("/v1/topics/err/partitions/0/records?offset=-1"), 400)
    assert_problem(get("/v1/topics/err/partitions/0/records?offset=99"), 422, "out of range")
    assert_problem(get("/v1/topics/err/partitions/0/records?offset=abc"), 400)
    assert_problem(get("/v1/topics/err/partitions/0/records?limit=0"), 400)
    assert_problem(get("/v1/topics/err/partitions/0/records?timestamp=yesterday"), 400)
    assert_problem(get("/v1/topics/err/partitions/9/records"), 404)
    assert_problem(get("/feeds/err?lastEventId=abc"), 400)
    assert_problem(get("/feeds/err?lastEventId=1.2.3"), 400)
    assert_problem(requests.get(f"{s.http}/feeds/err", headers={"accept": "text/html"}), 406)
    assert_problem(get("/nowhere"), 404)
    assert_problem(requests.put(f"{s.http}/v1/topics"), 405)
    assert_problem(requests.post(f"{s.http}/v1/topics", json={"name": "bad name!"}), 422)
    assert_problem(requests.post(f"{s.http}/v1/topics", json={"name": "err"}), 409)
    # Oversized headers are refused by the HTTP layer.
    r = requests.get(f"{s.http}/healthz", headers={"x-big": "a" * 100_000})
    assert r.status_code == 431
    # Each rejected request is logged with its reason.
    s.stop()
    log = s.log_text()
    assert "request rejected" in log and "line 2 column" in log
