"""Client quotas on every HTTP data path, against the real binary (quotas set over HTTP
`/v1/quotas`, keyed by the `X-Client-Id` header): REST Proxy produce and the request rate
answer 429 with `Retry-After` in the REST Proxy error shape; feed long polls, Atom and REST
Proxy consumer fetches answer 429 once over the consume quota; SSE (curl) and WebSocket
(websockets) streams slow down and stay open instead of being cut off, both for reads and
for WebSocket publishes.

Throttled streams are checked by a lower bound only (quota math says they take at least so
long, and load only makes them slower): with a bound of B bytes/s and the ten-second
minimum window, T bytes cannot arrive before about T/B - 10 seconds.
"""

import json
import subprocess
import time

import requests
import websockets.sync.client as ws_client

V2 = "application/vnd.kafka.v2+json"
VALUE = "v" * 1000


def set_quota(strom, client_id, key, value):
    r = requests.post(f"{strom.http}/v1/quotas", timeout=10,
                      json={"entity": {"client-id": client_id}, "set": {key: value}})
    assert r.status_code == 200, r.text


def topic_with(strom, name, count):
    r = requests.post(f"{strom.http}/v1/topics", json={"name": name}, timeout=10)
    assert r.status_code == 201, r.text
    if count == 0:
        return
    r = requests.post(f"{strom.http}/v1/topics/{name}/records", timeout=10,
                      json={"records": [{"value": {"n": i, "pad": VALUE}} for i in range(count)]})
    assert r.status_code == 200, r.text


def first_refusal(send, tries=60):
    """Calls `send` until it answers 429; that response."""
    for _ in range(tries):
        r = send()
        if r.status_code == 429:
            return r
        assert r.status_code in (200, 204), (r.status_code, r.text)
    raise AssertionError("never refused")


def test_rest_proxy_produce_and_request_rate_answer_429_in_rest_shape(strom):
    topic_with(strom, "rp", 0)
    set_quota(strom, "rp-writer", "producer_byte_rate", 1024)
    headers = {"Content-Type": "application/vnd.kafka.json.v2+json", "X-Client-Id": "rp-writer"}
    body = {"records": [{"value": VALUE}]}
    refused = first_refusal(lambda: requests.post(f"{strom.http}/topics/rp", json=body,
                                                  headers=headers, timeout=10))
    assert refused.json()["error_code"] == 42902, refused.text
    assert "producer_byte_rate" in refused.json()["message"]
    assert int(refused.headers["Retry-After"]) >= 1
    # Another client id is not limited.
    other = {**headers, "X-Client-Id": "rp-other"}
    assert requests.post(f"{strom.http}/topics/rp", json=body, headers=other, timeout=10).status_code == 200
    # Request rate: a tiny share of handler time is soon used up, on any route.
    set_quota(strom, "busy", "request_percentage", 0.01)
    busy = {"X-Client-Id": "busy"}
    refused = first_refusal(lambda: requests.get(f"{strom.http}/topics/rp", headers=busy, timeout=10),
                            tries=2000)
    assert "request_percentage" in refused.json()["message"], refused.text
    refused = requests.get(f"{strom.http}/v1/topics/rp", headers=busy, timeout=10)
    assert refused.status_code == 429 and refused.headers["Content-Type"] == "application/problem+json"


def test_feeds_atom_and_rest_proxy_consumer_reads_answer_429(strom):
    topic_with(strom, "fd", 30)
    set_quota(strom, "feed-reader", "consumer_byte_rate", 1024)
    feed = {"X-Client-Id": "feed-reader"}
    refused = first_refusal(lambda: requests.get(f"{strom.http}/feeds/fd?limit=5", headers=feed, timeout=10))
    assert refused.json()["type"].endswith("/quota-exceeded"), refused.text
    assert int(refused.headers["Retry-After"]) >= 1
    atom = requests.get(f"{strom.http}/feeds/fd", headers={**feed, "Accept": "application/atom+xml"}, timeout=10)
    assert atom.status_code == 429, atom.text
    # REST Proxy consumer fetches.
    set_quota(strom, "rp-reader", "consumer_byte_rate", 1024)
    rp = {"X-Client-Id": "rp-reader", "Content-Type": V2, "Accept": "application/vnd.kafka.json.v2+json"}
    r = requests.post(f"{strom.http}/consumers/g", headers=rp, timeout=10,
                      json={"name": "c", "format": "json", "auto.offset.reset": "earliest"})
    assert r.status_code == 200, r.text
    base = f"{strom.http}/consumers/g/instances/c"
    assert requests.post(f"{base}/subscription", headers=rp, json={"topics": ["fd"]}, timeout=10).status_code == 204
    refused = first_refusal(lambda: requests.get(f"{base}/records?timeout=1000&max_bytes=3000",
                                                 headers=rp, timeout=10))
    assert refused.json()["error_code"] == 42902, refused.text


def test_sse_stream_slows_down_and_stays_open_under_the_consume_quota(strom):
    topic_with(strom, "sse", 20)
    set_quota(strom, "sse-reader", "consumer_byte_rate", 1000)
    args = ["curl", "-sN", "--max-time", "120", "-H", "Accept: text/event-stream",
            "-H", "X-Client-Id: sse-reader", f"{strom.http}/feeds/sse?limit=1"]
    started = time.monotonic()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    seen = []
    for line in proc.stdout:
        if line.startswith("data:"):
            seen.append(json.loads(line[5:])["data"]["n"])
            if len(seen) == 20:
                break
    elapsed = time.monotonic() - started
    proc.kill()
    proc.wait()
    # Every event arrived, in order, on one connection...
    assert seen == list(range(20)), seen
    # ...but at the quota's pace: over 20 KB at 1000 B/s is at least ~10 s past the window.
    assert elapsed >= 5, f"20 events in {elapsed:.1f} s: not throttled"


def test_websocket_reads_and_publishes_slow_down_under_quota(strom):
    topic_with(strom, "ws", 20)
    set_quota(strom, "ws-client", "consumer_byte_rate", 1000)
    set_quota(strom, "ws-client", "producer_byte_rate", 1000)
    url = f"ws://127.0.0.1:{strom.http_port}/v1/ws"
    with ws_client.connect(url, additional_headers={"X-Client-Id": "ws-client"}) as ws:
        started = time.monotonic()
        ws.send(json.dumps({"op": "subscribe", "topic": "ws", "from": "beginning"}))
        events = []
        while len(events) < 20:
            m = json.loads(ws.recv(timeout=60))
            if m["type"] == "event":
                events.append(m)
        assert time.monotonic() - started >= 5, "20 KB read at 1000 B/s without delay"
        assert [e["value"]["n"] for e in events] == list(range(20))
    with ws_client.connect(url, additional_headers={"X-Client-Id": "ws-writer"}) as ws:
        set_quota(strom, "ws-writer", "producer_byte_rate", 1000)
        started = time.monotonic()
        for i in range(20):
            ws.send(json.dumps({"op": "publish", "topic": "ws", "ref": i, "value": {"pad": VALUE}}))
        replies = 0
        while replies < 20:
            m = json.loads(ws.recv(timeout=60))
            assert m["type"] == "published", m
            replies += 1
        assert time.monotonic() - started >= 5, "20 KB published at 1000 B/s without delay"
