"""HTTP feeds, Atom, Server-Sent Events and WebSocket against the real binary: exact resume
by lastEventId across a restart, caching of full batches, and live push round trips."""

import asyncio
import json
import threading

import requests
import websockets


def produce(strom, topic, records):
    r = requests.post(f"{strom.http}/v1/topics/{topic}/records", json={"records": records})
    assert r.status_code == 200, r.text
    return r.json()["offsets"]


def read_feed(strom, topic, last=None, limit=7):
    out = []
    while True:
        params = {"limit": limit}
        if last is not None:
            params["lastEventId"] = last
        r = requests.get(f"{strom.http}/feeds/{topic}", params=params)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/cloudevents-batch+json"
        batch = r.json()
        if not batch:
            return out, last
        out.extend(batch)
        last = batch[-1]["id"]


def test_resume_across_restart_no_loss_no_duplicates(strom):
    requests.post(f"{strom.http}/v1/topics", json={"name": "feed", "partitions": 3})
    produce(strom, "feed", [{"key": f"k{i}", "value": i} for i in range(40)])
    first, last = read_feed(strom, "feed")
    assert sorted(e["data"] for e in first) == list(range(40))
    strom.restart()
    produce(strom, "feed", [{"key": f"k{i}", "value": i} for i in range(40, 60)])
    second, _ = read_feed(strom, "feed", last)
    assert sorted(e["data"] for e in second) == list(range(40, 60))
    # Per partition, offsets strictly increase across both reads.
    for p in range(3):
        offs = [e["offset"] for e in first + second if e["partition"] == p]
        assert offs == sorted(set(offs))
    e = first[0]
    assert e["specversion"] == "1.0" and e["type"] and e["source"] == "/topics/feed" and e["time"]
    assert e["subject"].startswith("k")


def test_tombstones_and_cache_headers(strom):
    requests.post(f"{strom.http}/v1/topics", json={"name": "agg", "partitions": 1})
    produce(strom, "agg", [{"key": "a", "value": {"v": 1}}, {"key": "a", "value": None},
                           {"key": "b", "value": {"v": 2}}])
    r = requests.get(f"{strom.http}/feeds/agg", params={"limit": 2})
    assert "immutable" in r.headers["cache-control"]
    etag = r.headers["etag"]
    events = r.json()
    assert events[1]["method"] == "DELETE" and events[1]["subject"] == "a" and "data" not in events[1]
    r = requests.get(f"{strom.http}/feeds/agg", params={"limit": 2}, headers={"if-none-match": etag})
    assert r.status_code == 304
    r = requests.get(f"{strom.http}/feeds/agg", params={"limit": 100})
    assert "etag" not in r.headers and r.headers["cache-control"] == "no-cache"
    r = requests.get(f"{strom.http}/feeds/agg", params={"lastEventId": "2"})
    assert r.json() == []


def test_atom_archives(strom):
    requests.post(f"{strom.http}/v1/topics", json={"name": "atom", "partitions": 1})
    produce(strom, "atom", [{"value": i} for i in range(230)])
    r = requests.get(f"{strom.http}/feeds/atom", headers={"accept": "application/atom+xml"})
    assert r.headers["content-type"] == "application/atom+xml"
    assert 'rel="prev-archive" href="/feeds/atom/archive/0/1"' in r.text
    assert r.text.count("<entry>") == 30
    r = requests.get(f"{strom.http}/feeds/atom/archive/0/0")
    assert "<fh:archive/>" in r.text and 'rel="next-archive"' in r.text
    assert "immutable" in r.headers["cache-control"]
    r2 = requests.get(f"{strom.http}/feeds/atom/archive/0/0", headers={"if-none-match": r.headers["etag"]})
    assert r2.status_code == 304


def test_sse_live_and_resume(strom):
    requests.post(f"{strom.http}/v1/topics", json={"name": "sse", "partitions": 2})
    produce(strom, "sse", [{"value": 0}])
    got = []
    failures = []
    history_seen = threading.Event()

    def listen(headers, n):
        try:
            with requests.get(f"{strom.http}/feeds/sse", headers={"accept": "text/event-stream", **headers},
                              stream=True, timeout=30) as r:
                assert r.headers["content-type"] == "text/event-stream"
                ev = {}
                for line in r.iter_lines(decode_unicode=True):
                    if line.startswith("id:"):
                        ev["id"] = line[3:].strip()
                    elif line.startswith("data:"):
                        ev["data"] = json.loads(line[5:])
                    elif line == "" and "data" in ev:
                        got.append(ev)
                        ev = {}
                        history_seen.set()
                        if len(got) >= n:
                            return
        except BaseException as e:  # re-raised in the test's thread below
            failures.append(e)
        finally:
            history_seen.set()

    def join(t):
        t.join(timeout=60)
        assert not t.is_alive(), f"the SSE listener is still waiting; got {got}"
        if failures:
            raise failures[0]

    t = threading.Thread(target=listen, args=({}, 3), daemon=True)
    t.start()
    # The stream is open and has sent the history (record 0): only now produce, so records
    # 1 and 2 can only arrive by live push.
    assert history_seen.wait(30), "the SSE stream never delivered the history"
    assert not failures and [e["data"]["data"] for e in got] == [0]
    produce(strom, "sse", [{"value": 1}, {"value": 2}])
    join(t)
    assert sorted(e["data"]["data"] for e in got) == [0, 1, 2]
    resume_from = got[0]["id"]
    seen_first = got[0]["data"]["data"]
    got.clear()
    t = threading.Thread(target=listen, args=({"last-event-id": resume_from}, 2), daemon=True)
    t.start()
    join(t)
    assert sorted(e["data"]["data"] for e in got) == sorted({0, 1, 2} - {seen_first})


def test_websocket_chat(strom):
    requests.post(f"{strom.http}/v1/topics", json={"name": "chat", "partitions": 1})
    url = strom.http.replace("http://", "ws://") + "/v1/ws"

    async def scenario():
        async with websockets.connect(url) as alice, websockets.connect(url) as bob:
            await bob.send(json.dumps({"op": "subscribe", "topic": "chat", "from": "beginning"}))
            assert json.loads(await bob.recv())["type"] == "subscribed"
            await alice.send(json.dumps({"op": "publish", "topic": "chat", "key": "alice",
                                         "value": {"text": "hello"}, "ref": "m1"}))
            ack = json.loads(await alice.recv())
            assert ack["type"] == "published" and ack["ref"] == "m1"
            ev = json.loads(await asyncio.wait_for(bob.recv(), 10))
            assert ev["type"] == "event" and ev["key"] == "alice" and ev["value"] == {"text": "hello"}
            await alice.send("not json")
            err = json.loads(await alice.recv())
            assert err["type"] == "error" and err["status"] == 400

    asyncio.run(scenario())
    # The example chat page is served.
    r = requests.get(f"{strom.http}/examples/chat.html")
    assert r.status_code == 200 and "WebSocket" in r.text
