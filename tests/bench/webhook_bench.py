#!/usr/bin/env python3
"""Webhook delivery benchmark (not part of the default test run).

    cargo build --release -p strom
    STROM_BIN=target/release/strom python3 tests/bench/webhook_bench.py

A local receiver (plain asyncio HTTP/1.1 keep-alive server in its own process, no
signature checks) answers 204 to every POST and notes the produce->receipt latency from a
timestamp the producer puts in each record (`{"t": ..., "n": ...}`). In the same run:

1. Baseline: a plain HTTP client (asyncio, keep-alive, `--concurrency` connections) posts
   the same number of CloudEvents-sized bodies to the receiver: the receiver's own limit.
2. For 1 and `--subs` subscriptions on one topic of `--partitions` partitions:
   a. saturation: `--events` records produced at once (confluent-kafka); deliveries per
      second from the first to the last receipt, and the ratio to the baseline;
   b. paced: records produced at `--rate` per second for `--seconds`; p50/p99
      produce->receipt latency and deliveries per second.

Everything runs on 127.0.0.1 against a server this script starts and stops itself."""

import argparse
import asyncio
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from conftest import Strom, free_port  # noqa: E402


# --- receiver (own process) -------------------------------------------------------------

def receiver_main(port, ready):
    stats = {"count": 0, "first": None, "last": None, "lat": []}

    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path = lines[0].split(" ")[:2]
                length = 0
                for line in lines[1:]:
                    if line[:15].lower() == "content-length:":
                        length = int(line[15:].strip())
                body = await reader.readexactly(length) if length else b""
                if method == "POST":
                    now = time.time()
                    try:
                        event = json.loads(body)
                        sent = (event.get("data") or event)["t"]
                        stats["lat"].append(now - sent)
                    except (ValueError, KeyError, TypeError):
                        pass
                    stats["count"] += 1
                    stats["first"] = stats["first"] or now
                    stats["last"] = now
                    writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                else:
                    if path.startswith("/reset"):
                        stats.update(count=0, first=None, last=None, lat=[])
                    answer = json.dumps(stats).encode()
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                                 b"content-length: %d\r\n\r\n%s" % (len(answer), answer))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def serve():
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


class Receiver:
    def __init__(self):
        self.port = free_port()
        ready = multiprocessing.Event()
        self.proc = multiprocessing.Process(target=receiver_main, args=(self.port, ready),
                                            daemon=True)
        self.proc.start()
        ready.wait(10)
        self.url = f"http://127.0.0.1:{self.port}"

    def reset(self):
        requests.get(f"{self.url}/reset", timeout=30)

    def stats(self):
        return requests.get(f"{self.url}/stats", timeout=60).json()

    def wait_count(self, n, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            s = self.stats()
            if s["count"] >= n:
                return s
            time.sleep(0.2)
        s = self.stats()
        print(f"  ! only {s['count']} of {n} deliveries within {timeout}s")
        return s

    def stop(self):
        self.proc.terminate()


# --- baseline: a plain HTTP client ------------------------------------------------------

def event_body(n):
    event = {"specversion": "1.0", "id": f"bench/0/{n}", "source": "/strom/topics/bench",
             "type": "strom.record", "time": "2026-01-01T00:00:00.000Z", "subject": f"k{n}",
             "datacontenttype": "application/json", "data": {"t": time.time(), "n": n}}
    return json.dumps(event).encode()


async def post_all(port, n, concurrency):
    counter = iter(range(n))

    async def worker():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for i in counter:
            body = event_body(i)
            writer.write(b"POST /hook/base HTTP/1.1\r\nhost: x\r\n"
                         b"content-type: application/cloudevents+json\r\n"
                         b"content-length: %d\r\n\r\n%s" % (len(body), body))
            await reader.readuntil(b"\r\n\r\n")
        writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def baseline(receiver, n, concurrency):
    receiver.reset()
    start = time.perf_counter()
    asyncio.run(post_all(receiver.port, n, concurrency))
    elapsed = time.perf_counter() - start
    return n / elapsed


# --- strom ------------------------------------------------------------------------------

def produce(server, n, rate=None):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": server.bootstrap, "linger.ms": 0 if rate else 5,
                  "queue.buffering.max.messages": 1_000_000})
    start = time.perf_counter()
    for i in range(n):
        if rate:
            due = start + i / rate
            while time.perf_counter() < due:
                p.poll(0)
                time.sleep(min(0.0005, max(0.0, due - time.perf_counter())))
        p.produce("bench", key=f"k{i}".encode(), value=json.dumps({"t": time.time(), "n": i}))
        if i % 1000 == 0:
            p.poll(0)
    p.flush(60)


def percentile(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def run_case(server, receiver, subs, args, base_rate):
    names = [f"bench-{subs}-{i}" for i in range(subs)]
    for name in names:
        r = requests.post(f"{server.http}/v1/webhooks", json={
            "name": name, "url": f"{receiver.url}/hook/{name}", "topics": ["bench"],
            "concurrency": args.concurrency, "ordering": args.ordering}, timeout=30)
        r.raise_for_status()
    receiver.reset()
    produce(server, args.events)
    s = receiver.wait_count(args.events * subs, timeout=600)
    window = (s["last"] - s["first"]) if s["first"] else float("nan")
    throughput = s["count"] / window if window else float("nan")
    print(f"  {subs:>3} subscription(s), saturation: {s['count']} deliveries, "
          f"{throughput:,.0f}/s = {throughput / base_rate:.2f} x the plain client")
    receiver.reset()
    total = int(args.rate * args.seconds)
    produce(server, total, rate=args.rate)
    s = receiver.wait_count(total * subs, timeout=600)
    lat = [x * 1000 for x in s["lat"]]
    window = (s["last"] - s["first"]) if s["first"] else float("nan")
    print(f"  {subs:>3} subscription(s), {args.rate:,.0f} events/s: {s['count']} deliveries "
          f"({s['count'] / window:,.0f}/s), produce->receipt p50 {percentile(lat, 0.5):.1f} ms, "
          f"p99 {percentile(lat, 0.99):.1f} ms, max {max(lat or [0]):.1f} ms")
    for name in names:
        requests.delete(f"{server.http}/v1/webhooks/{name}", timeout=30)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=20_000, help="records per saturation run")
    ap.add_argument("--rate", type=float, default=1000, help="events/s of the paced run")
    ap.add_argument("--seconds", type=float, default=10, help="length of the paced run")
    ap.add_argument("--subs", type=int, default=10, help="subscriptions of the second case")
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--ordering", choices=["partition", "key", "none"], default="partition")
    args = ap.parse_args()
    receiver = Receiver()
    with tempfile.TemporaryDirectory() as tmp:
        server = Strom(Path(tmp) / "data").start()
        try:
            requests.post(f"{server.http}/v1/topics", json={
                "name": "bench", "partitions": args.partitions}, timeout=30).raise_for_status()
            base = baseline(receiver, args.events, args.concurrency)
            print(f"plain HTTP client, {args.concurrency} connections: {base:,.0f} posts/s "
                  f"(the receiver's limit)")
            print(f"strom, {args.partitions} partitions, ordering {args.ordering}, "
                  f"concurrency {args.concurrency}:")
            for subs in (1, args.subs):
                run_case(server, receiver, subs, args, base)
        finally:
            server.stop()
            receiver.stop()


if __name__ == "__main__":
    main()
