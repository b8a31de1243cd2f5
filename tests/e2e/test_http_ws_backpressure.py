"""WebSocket back-pressure (docs/http.md, "WebSocket"): a client that stops reading gets a
bounded queue per socket, not unbounded server memory. A slow client subscribes to a topic
holding far more data than the bound, a fast client reads all of it meanwhile (so the server
has had every chance to run ahead for the slow one), and the server's peak RSS over that time
must stay well below the data's size; then the slow client reads everything, in order."""

import asyncio
import json
import os

import requests
import websockets

RECORDS = 6000
VALUE_CHARS = 60_000  # ~360 MB of events in total
PER_REQUEST = 10


def rss_kib(pid, field):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} for pid {pid}")


def reset_peak_rss(pid):
    # Writing 5 to clear_refs resets VmHWM to the current RSS (Linux >= 4.0).
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def fill(strom, topic):
    pad = "x" * (VALUE_CHARS - 12)
    for first in range(0, RECORDS, PER_REQUEST):
        records = [{"value": {"i": i, "pad": pad}} for i in range(first, first + PER_REQUEST)]
        r = requests.post(f"{strom.http}/v1/topics/{topic}/records", json={"records": records})
        assert r.status_code == 200, r.text


async def subscribe(url, **options):
    ws = await websockets.connect(url, max_size=1 << 20, **options)
    await ws.send(json.dumps({"op": "subscribe", "topic": "firehose", "from": "beginning"}))
    reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
    assert reply["type"] == "subscribed", reply
    return ws


async def read_all(ws, check_order):
    for want in range(RECORDS):
        message = await asyncio.wait_for(ws.recv(), 60)
        if check_order or want == RECORDS - 1:
            event = json.loads(message)
            assert event["type"] == "event" and event["offset"] == want, (want, message[:200])
            assert event["value"]["i"] == want


def test_slow_websocket_client_gets_backpressure_not_server_memory(strom):
    r = requests.post(f"{strom.http}/v1/topics", json={"name": "firehose", "partitions": 1})
    assert r.status_code == 201, r.text
    fill(strom, "firehose")
    pid = strom.proc.pid
    url = strom.http.replace("http://", "ws://") + "/v1/ws"
    data_kib = RECORDS * VALUE_CHARS // 1024

    async def scenario():
        base = rss_kib(pid, "VmRSS")
        reset_peak_rss(pid)
        # The slow client's library stops reading once one message is queued: from then on
        # only TCP buffers and the server's own queue can hold what the server sends it.
        slow = await subscribe(url, max_queue=1)
        fast = await subscribe(url)
        await read_all(fast, check_order=False)
        await fast.close()
        peak = rss_kib(pid, "VmHWM")
        grown = peak - base
        print(f"server RSS {base} KiB before, peak {peak} KiB (+{grown} KiB) for {data_kib} KiB of events")
        assert grown < data_kib // 2, (
            f"server RSS grew by {grown} KiB while a client did not read {data_kib} KiB of events")
        await read_all(slow, check_order=True)
        await slow.close()

    asyncio.run(scenario())
    assert os.path.exists(f"/proc/{pid}"), "the server is still running"
