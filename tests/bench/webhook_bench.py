#!/usr/bin/env python3
"""Webhook delivery benchmark (not part of the default test run).

    cargo build --release -p strom
    STROM_BIN=target/release/strom python3 tests/bench/webhook_bench.py
    # before/after in one run: the same cases against two binaries, same receiver
    python3 tests/bench/webhook_bench.py --bin before=/tmp/strom-old --bin after=target/release/strom

A local receiver (plain asyncio HTTP/1.1 keep-alive server in its own process, no
signature checks) answers 204 to every POST and notes the produce->receipt latency from a
timestamp the producer puts in each record (`{"t": ..., "n": ...}`). Its counters are read
cheaply while a run goes on; latency percentiles are computed once, at the end of a run.
For each binary and each subscription count (`--subs`, default 1 and 100) on one topic of
`--partitions` partitions:

1. Baseline, right before the saturation run: a plain HTTP client (asyncio, keep-alive)
   posts CloudEvents-sized bodies with the same headers Strom sends to the receiver: the
   receiver's own limit at that moment, once with as many connections as the subscriptions
   can have requests in flight (ordering `partition`: subscriptions x partitions; the
   ratio's reference: a single-threaded receiver's cost per request grows with its
   connections) and once with `--concurrency` connections; the receiver's CPU per post
   under the plain client is reported beside its CPU per delivery under Strom.
2. Saturation: records produced at once (confluent-kafka; `--events` for one subscription,
   `--events-many` for more); deliveries per second from the first to the last receipt, and
   the ratio to the baseline, and the CPU time Strom and the receiver spent per delivery
   (from /proc: a figure the machine's load does not skew the way rates are).
3. Backlog (`--backlog`, on by default): the same number of records produced to a topic of
   their own BEFORE the subscriptions are created (start `earliest`), so nothing else runs
   while they are delivered: the delivery path alone against the same plain-client
   reference, labelled `backlog` beside the saturation run (which keeps producing while it
   delivers: the producer shares the machine). Both runs also report Strom's context
   switches per delivery (voluntary + involuntary, all threads, from /proc).
4. Paced: records produced at each of `--rates` per second for `--seconds`; deliveries per
   second and p50/p99 produce->receipt latency. A paced run that cannot keep up is cut off
   after `--drain` seconds and reports what arrived.

Everything runs on 127.0.0.1 against servers this script starts and stops itself."""

import argparse
import asyncio
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from conftest import Strom, free_port, strom_binary  # noqa: E402


# --- receiver (own process) -------------------------------------------------------------

def percentile(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def receiver_main(port, ready):
    stats = {"count": 0, "first": None, "last": None}
    lat = []

    def answer(path):
        if path.startswith("/reset"):
            stats.update(count=0, first=None, last=None)
            lat.clear()
        if path.startswith("/latency"):
            ms = sorted(x * 1000 for x in lat)
            return {"n": len(ms), "p50": percentile(ms, 0.5), "p99": percentile(ms, 0.99),
                    "max": ms[-1] if ms else float("nan")}
        return stats

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
                        lat.append(now - (event.get("data") or event)["t"])
                    except (ValueError, KeyError, TypeError):
                        pass
                    stats["count"] += 1
                    stats["first"] = stats["first"] or now
                    stats["last"] = now
                    writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                else:
                    out = json.dumps(answer(path)).encode()
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                                 b"content-length: %d\r\n\r\n%s" % (len(out), out))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def serve():
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=4096)
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
        requests.get(f"{self.url}/reset", timeout=60)

    def stats(self):
        return requests.get(f"{self.url}/stats", timeout=60).json()

    def latency(self):
        return requests.get(f"{self.url}/latency", timeout=120).json()

    def wait_count(self, n, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            s = self.stats()
            if s["count"] >= n:
                return s
            time.sleep(0.25)
        s = self.stats()
        print(f"    ! only {s['count']:,} of {n:,} deliveries within {timeout:.0f} s")
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
            # The headers Strom sends (a signature of the same length), so the receiver
            # parses as much per request as it does for a delivery.
            writer.write(b"POST /hook/base HTTP/1.1\r\nhost: 127.0.0.1:%d\r\n"
                         b"webhook-id: bench/0/%d\r\nwebhook-timestamp: %d\r\n"
                         b"webhook-signature: v1,%s\r\nuser-agent: strom-webhooks\r\n"
                         b"content-type: application/cloudevents+json\r\naccept: */*\r\n"
                         b"content-length: %d\r\n\r\n%s"
                         % (port, i, int(time.time()), b"A" * 44, len(body), body))
            await reader.readuntil(b"\r\n\r\n")
        writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))


def baseline(receiver, n, concurrency):
    """Posts per second of the plain client, and the receiver's CPU microseconds per post."""
    receiver.reset()
    cpu = cpu_seconds(receiver.proc.pid)
    start = time.perf_counter()
    asyncio.run(post_all(receiver.port, n, concurrency))
    rate = n / (time.perf_counter() - start)
    return rate, (cpu_seconds(receiver.proc.pid) - cpu) / n * 1e6


# --- strom ------------------------------------------------------------------------------

def produce(server, n, rate=None, topic="bench"):
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
        p.produce(topic, key=f"k{i}".encode(), value=json.dumps({"t": time.time(), "n": i}))
        if i % 1000 == 0:
            p.poll(0)
    p.flush(60)


def cpu_seconds(pid):
    """User + system CPU seconds a process has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def context_switches(pid):
    """Voluntary + involuntary context switches of all of a process's threads (/proc)."""
    total = 0
    for status in Path(f"/proc/{pid}/task").glob("*/status"):
        try:
            for line in status.read_text().splitlines():
                if "ctxt_switches:" in line:
                    total += int(line.split(":")[1])
        except (OSError, ValueError):
            pass  # a thread that ended meanwhile
    return total


def in_flight(subs, args):
    """Requests the subscriptions can have in flight at once."""
    per_sub = args.concurrency
    if args.ordering == "partition":
        per_sub = min(args.partitions, args.concurrency)
    return subs * per_sub


def deliver_measured(server, receiver, subs, args, case, start):
    """Baselines, then `start()` (which makes the records arrive), then the deliveries'
    rate, ratios and CPU and context switches per delivery."""
    events = args.events if subs == 1 else args.events_many
    posts = max(5000, min(events * subs, 20_000))
    fixed, _ = baseline(receiver, posts, args.concurrency)
    base, base_recv_us = baseline(receiver, posts, in_flight(subs, args))
    receiver.reset()
    pid = server.proc.pid
    cpu = cpu_seconds(pid), cpu_seconds(receiver.proc.pid)
    switches = context_switches(pid)
    start(events)
    s = receiver.wait_count(events * subs, timeout=args.drain * 4)
    n = max(s["count"], 1)
    strom_us = (cpu_seconds(pid) - cpu[0]) / n * 1e6
    recv_us = (cpu_seconds(receiver.proc.pid) - cpu[1]) / n * 1e6
    per_delivery = (context_switches(pid) - switches) / n
    window = (s["last"] - s["first"]) if s["first"] else float("nan")
    rate = s["count"] / window if window else float("nan")
    print(f"  {subs:>3} subscription(s), {case}: {s['count']:,} deliveries, {rate:,.0f}/s "
          f"= {rate / base:.2f} x the plain client with as many connections "
          f"({in_flight(subs, args)}: {base:,.0f}/s just before), {rate / fixed:.2f} x with "
          f"{args.concurrency} ({fixed:,.0f}/s); CPU per delivery: strom {strom_us:.0f} us, "
          f"receiver {recv_us:.0f} us (under the plain client {base_recv_us:.0f} us); strom context switches per delivery "
          f"{per_delivery:.2f}", flush=True)
    return {"subs": subs, "case": case, "deliveries": s["count"], "per_sec": rate,
            "baseline": base, "ratio": rate / base, "baseline_fixed": fixed,
            "ratio_fixed": rate / fixed, "strom_cpu_us": strom_us,
            "receiver_cpu_us": recv_us, "receiver_cpu_us_plain": base_recv_us,
            "strom_switches_per_delivery": per_delivery}


def saturation(server, receiver, subs, args):
    return deliver_measured(server, receiver, subs, args, "saturation",
                            lambda events: produce(server, events))


def subscribe(server, receiver, names, topic, args, start="latest"):
    for name in names:
        requests.post(f"{server.http}/v1/webhooks", json={
            "name": name, "url": f"{receiver.url}/hook/{name}", "topics": [topic],
            "concurrency": args.concurrency, "ordering": args.ordering, "start": start},
            timeout=30).raise_for_status()


def unsubscribe(server, names):
    for name in names:
        requests.delete(f"{server.http}/v1/webhooks/{name}", timeout=60)


def backlog(server, receiver, subs, args):
    """Records produced before the subscriptions exist: delivery with no producer running."""
    topic = f"backlog-{subs}"
    requests.post(f"{server.http}/v1/topics", json={
        "name": topic, "partitions": args.partitions}, timeout=30).raise_for_status()
    events = args.events if subs == 1 else args.events_many
    produce(server, events, topic=topic)
    names = [f"backlog-{subs}-{i}" for i in range(subs)]
    try:
        return deliver_measured(server, receiver, subs, args, "backlog",
                                lambda _: subscribe(server, receiver, names, topic, args,
                                                    start="earliest"))
    finally:
        unsubscribe(server, names)


def paced(server, receiver, subs, rate, args):
    receiver.reset()
    total = int(rate * args.seconds)
    cpu = cpu_seconds(server.proc.pid)
    produce(server, total, rate=rate)
    s = receiver.wait_count(total * subs, timeout=args.drain)
    strom_us = (cpu_seconds(server.proc.pid) - cpu) / max(s["count"], 1) * 1e6
    lat = receiver.latency()
    window = (s["last"] - s["first"]) if s["first"] else float("nan")
    per_sec = s["count"] / window if window else float("nan")
    print(f"  {subs:>3} subscription(s), {rate:,.0f} events/s: {s['count']:,} of {total * subs:,} "
          f"deliveries ({per_sec:,.0f}/s), produce->receipt p50 {lat['p50']:.1f} ms, "
          f"p99 {lat['p99']:.1f} ms, max {lat['max']:.1f} ms; strom CPU per delivery "
          f"(produce included) {strom_us:.0f} us", flush=True)
    return {"subs": subs, "case": f"{rate:.0f}/s", "deliveries": s["count"],
            "expected": total * subs, "per_sec": per_sec, "strom_cpu_us": strom_us, **lat}


def run_binary(label, binary, receiver, args):
    os.environ["STROM_BIN"] = binary
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        server = Strom(Path(tmp) / "data").start()
        try:
            requests.post(f"{server.http}/v1/topics", json={
                "name": "bench", "partitions": args.partitions}, timeout=30).raise_for_status()
            print(f"{label}: {binary}, {args.partitions} partitions, ordering {args.ordering}, "
                  f"concurrency {args.concurrency}", flush=True)
            for subs in args.subs:
                names = [f"bench-{subs}-{i}" for i in range(subs)]
                subscribe(server, receiver, names, "bench", args)
                results.append(saturation(server, receiver, subs, args))
                for rate in [r for r in args.rates if r > 0]:
                    results.append(paced(server, receiver, subs, rate, args))
                unsubscribe(server, names)
                if args.backlog:
                    results.append(backlog(server, receiver, subs, args))
        finally:
            server.stop(timeout=60)
    return [{"binary": label, **r} for r in results]


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=20_000, help="records, 1-subscription saturation")
    ap.add_argument("--events-many", type=int, default=2_000,
                    help="records of a saturation run with more than one subscription")
    ap.add_argument("--rates", type=lambda s: [float(x) for x in s.split(",")],
                    default=[1000, 10000], help="events/s of the paced runs")
    ap.add_argument("--seconds", type=float, default=5, help="length of a paced run")
    ap.add_argument("--drain", type=float, default=60, help="most seconds a paced run waits")
    ap.add_argument("--subs", type=lambda s: [int(x) for x in s.split(",")], default=[1, 100])
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--ordering", choices=["partition", "key", "none"], default="partition")
    ap.add_argument("--backlog", action=argparse.BooleanOptionalAction, default=True,
                    help="also deliver a backlog produced before the subscriptions exist")
    ap.add_argument("--bin", action="append", default=[],
                    help="label=path of a strom binary; repeat to compare (default: STROM_BIN)")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args()
    binaries = [b.split("=", 1) for b in args.bin] or [["strom", strom_binary()]]
    receiver = Receiver()
    results = []
    try:
        for label, binary in binaries:
            results += run_binary(label, binary, receiver, args)
    finally:
        receiver.stop()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
