#!/usr/bin/env python3
"""HTTP front-end benchmark (not part of the default test run).

    pip install -r tests/bench/requirements.txt
    cargo build --release -p strom
    python3 tests/bench/http_bench.py --subscribers 10000

1. Produce throughput: the same records written over HTTP (JSON batches, and one record per
   request) and over the Kafka protocol (confluent-kafka), printed as a ratio to Kafka.
2. Fan-out: N concurrent Server-Sent Events (or long-poll) subscribers on one topic; M
   messages are produced and every subscriber measures produce-to-receipt latency.
   Prints p50/p99, delivery count and the server's RSS with and without the subscribers.

Everything runs on 127.0.0.1 against a server this script starts and stops itself."""

import argparse
import asyncio
import base64
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from conftest import Strom  # noqa: E402


def rss_kib(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raise_fd_limit(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < want:
        try:  # root may raise the hard limit too
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return want
        except (ValueError, OSError):
            pass
    target = min(hard, max(soft, want))
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def produce_http(server, topic, payloads, batch):
    s = requests.Session()
    start = time.perf_counter()
    for i in range(0, len(payloads), batch):
        records = [{"key": f"k{i + j}", "value_base64": base64.b64encode(p).decode()}
                   for j, p in enumerate(payloads[i:i + batch])]
        r = s.post(f"{server.http}/v1/topics/{topic}/records", json={"records": records})
        r.raise_for_status()
    return len(payloads) / (time.perf_counter() - start)


def produce_kafka(server, topic, payloads):
    from confluent_kafka import Producer
    p = Producer({"bootstrap.servers": server.bootstrap, "linger.ms": 5,
                  "partitioner": "murmur2_random", "acks": "all"})
    start = time.perf_counter()
    for i, payload in enumerate(payloads):
        while True:
            try:
                p.produce(topic, key=f"k{i}".encode(), value=payload)
                break
            except BufferError:
                p.poll(0.01)
        p.poll(0)
    assert p.flush(60) == 0
    return len(payloads) / (time.perf_counter() - start)


async def fan_out(server, topic, n, messages, mode, interval):
    import aiohttp
    info = requests.get(f"{server.http}/v1/topics/{topic}").json()
    cursor = ".".join(str(p["high_watermark"] - 1) for p in info["partitions"])
    latencies = []
    ready = 0
    connected = asyncio.Event()

    async def sse(session):
        nonlocal ready
        got = 0
        async with session.get(f"{server.http}/feeds/{topic}",
                               headers={"accept": "text/event-stream", "last-event-id": cursor}) as r:
            ready += 1
            if ready == n:
                connected.set()
            async for raw in r.content:
                line = raw.decode().strip()
                if line.startswith("data:"):
                    event = json.loads(line[5:])
                    latencies.append(time.time() - event["data"]["t"])
                    got += 1
                    if got >= messages:
                        return

    async def long_poll(session):
        nonlocal ready
        last, got, first = cursor, 0, True
        while got < messages:
            params = {"lastEventId": last, "timeout": "30000"}
            if first:
                ready += 1
                if ready == n:
                    connected.set()
                first = False
            async with session.get(f"{server.http}/feeds/{topic}", params=params) as r:
                batch = await r.json(content_type=None)
            now = time.time()
            for event in batch:
                latencies.append(now - event["data"]["t"])
                got += 1
                last = event["id"]

    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=None, sock_read=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        worker = sse if mode == "sse" else long_poll
        tasks = []
        for i in range(n):
            tasks.append(asyncio.create_task(worker(session)))
            if i % 500 == 499:
                await asyncio.sleep(0.05)
        await asyncio.wait_for(connected.wait(), 300)
        # Long polls are in flight once their request is sent; give the last ones a moment.
        await asyncio.sleep(2)
        rss_connected = rss_kib(server.proc.pid)
        cpu = (cpu_seconds(server.proc.pid), time.process_time())
        loop = asyncio.get_running_loop()
        for _ in range(messages):
            body = {"records": [{"value": {"t": time.time()}}]}
            await loop.run_in_executor(None, lambda: requests.post(
                f"{server.http}/v1/topics/{topic}/records", json=body).raise_for_status())
            await asyncio.sleep(interval)
        done, pending = await asyncio.wait(tasks, timeout=120)
        for t in pending:
            t.cancel()
        errors = sum(1 for t in done if t.exception() is not None)
    cpu = (cpu_seconds(server.proc.pid) - cpu[0], time.process_time() - cpu[1])
    return latencies, rss_connected, errors, cpu


def fan_out_rust(server, topic, n, messages, interval, rss_idle):
    """Fan-out with the compiled SSE client (tests/bench/loadgen `fanout`)."""
    import subprocess
    here = Path(__file__).resolve().parent / "loadgen"
    binary = here / "target" / "release" / "strom-loadgen"
    if not binary.exists():
        subprocess.run(["cargo", "build", "--release", "--manifest-path", str(here / "Cargo.toml")],
                       check=True)
    info = requests.get(f"{server.http}/v1/topics/{topic}").json()
    cursor = ".".join(str(p["high_watermark"] - 1) for p in info["partitions"])
    proc = subprocess.Popen([str(binary), "--topic", topic, "--count", str(messages), "fanout",
                             "--url", f"{server.http}/feeds/{topic}", f"--last-event-id={cursor}",
                             "--subscribers", str(n)], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("ready"):
        raise RuntimeError(f"fan-out client did not get ready: {line!r}")
    time.sleep(2)
    rss_connected = rss_kib(server.proc.pid)
    cpu0 = cpu_seconds(server.proc.pid)
    own0 = time.process_time()
    load0 = os.getloadavg()[0]
    print(f"producing {messages} messages (server pid {server.proc.pid})", flush=True)
    for _ in range(messages):
        body = {"records": [{"value": {"t": time.time()}}]}
        requests.post(f"{server.http}/v1/topics/{topic}/records", json=body).raise_for_status()
        time.sleep(interval)
    out, _ = proc.communicate(timeout=600)
    server_cpu = cpu_seconds(server.proc.pid) - cpu0
    producer_cpu = time.process_time() - own0
    load1 = os.getloadavg()[0]
    result = json.loads(out.strip().splitlines()[-1])
    client_cpu = result.get("cpu_s", float("nan"))
    print(f"connected {line.split()[1]}; delivered {result['delivered']}/{n * messages} events, "
          f"subscriber errors {result['errors']} {result['first_error']}")
    print(f"produce-to-receipt latency p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
          f"max {result['max_ms']:.1f} ms")
    print(f"server CPU during delivery {server_cpu:.1f} s "
          f"({server_cpu / max(1, result['delivered']) * 1e6:.1f} us per delivered event)")
    print(f"load generator CPU {client_cpu:.1f} s (subscribers), producer {producer_cpu:.1f} s; "
          f"subscriber client share of client + server CPU {client_cpu / max(1e-9, client_cpu + server_cpu):.0%}")
    print(f"server RSS idle {rss_idle / 1024:.1f} MiB, with subscribers {rss_connected / 1024:.1f} MiB "
          f"({(rss_connected - rss_idle) / max(1, n):.1f} KiB per subscriber)")
    print(f"load average (1 min) at start {load0:.1f}, at end {load1:.1f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=50_000)
    ap.add_argument("--size", type=int, default=100, help="value bytes")
    ap.add_argument("--batch", type=int, default=500, help="records per HTTP request")
    ap.add_argument("--single", type=int, default=2_000, help="records sent one per HTTP request")
    ap.add_argument("--subscribers", type=int, default=10_000)
    ap.add_argument("--messages", type=int, default=10)
    ap.add_argument("--interval", type=float, default=0.5, help="seconds between fan-out messages")
    ap.add_argument("--rate", type=float, default=None,
                    help="sustained fan-out workload: messages per second (sets --interval)")
    ap.add_argument("--duration", type=float, default=None,
                    help="sustained fan-out workload: seconds of producing (sets --messages)")
    ap.add_argument("--fanout-only", action="store_true", help="skip the produce throughput part")
    ap.add_argument("--mode", choices=["sse", "longpoll", "sse-rust"], default="sse-rust",
                    help="sse-rust: SSE subscribers in the compiled client tests/bench/loadgen "
                         "(one thread); sse/longpoll: the asyncio Python client")
    args = ap.parse_args()
    if args.rate:
        args.interval = 1.0 / args.rate
        if args.duration:
            args.messages = max(1, int(args.rate * args.duration))

    # The server keeps room for both listeners' max_connections beside its log-file budget
    # (it lowers max_connections otherwise, and subscribers beyond it are refused with 503).
    fds = raise_fd_limit(args.subscribers * 2 + 4000)
    data = Path(tempfile.mkdtemp(prefix="strom-http-bench-"))
    cfg = data / "strom.toml"
    # All subscribers come from 127.0.0.1: raise the per-address limit with the total.
    cfg.write_text(
        f"max_connections = {args.subscribers + 1000}\n"
        f"max_connections_per_ip = {args.subscribers + 1000}\nhttp_max_poll_timeout_ms = 60000\n"
        "max_open_log_files = 16\n"
    )
    server = Strom(data / "data", extra_args=["--config", str(cfg)]).start()
    try:
        for name in ("tput-http", "tput-kafka", "tput-single", "fan"):
            requests.post(f"{server.http}/v1/topics", json={"name": name, "partitions": 1}).raise_for_status()
        if not args.fanout_only:
            payloads = [os.urandom(args.size) for _ in range(args.records)]
            print(f"== produce throughput: {args.records} records of {args.size} B (fd limit {fds})")
            kafka = produce_kafka(server, "tput-kafka", payloads)
            http = produce_http(server, "tput-http", payloads, args.batch)
            single = produce_http(server, "tput-single", payloads[:args.single], 1)
            print(f"kafka protocol (confluent-kafka, linger 5 ms): {kafka:12,.0f} records/s  (baseline)")
            print(f"HTTP JSON, {args.batch} records/request:        {http:12,.0f} records/s  ratio {http / kafka:.2f}")
            print(f"HTTP JSON, 1 record/request:             {single:12,.0f} records/s  ratio {single / kafka:.3f}")

        rss_idle = rss_kib(server.proc.pid)
        print(f"\n== fan-out: {args.subscribers} {args.mode} subscribers, {args.messages} messages")
        if args.mode == "sse-rust":
            fan_out_rust(server, "fan", args.subscribers, args.messages, args.interval, rss_idle)
            return
        latencies, rss_connected, errors, cpu = asyncio.run(
            fan_out(server, "fan", args.subscribers, args.messages, args.mode, args.interval))
        expected = args.subscribers * args.messages
        lat = sorted(latencies)
        if lat:
            p50 = statistics.median(lat) * 1000
            p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
            print(f"delivered {len(lat)}/{expected} events, subscriber errors {errors}")
            print(f"produce-to-receipt latency p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {lat[-1] * 1000:.1f} ms")
            print(f"server CPU per delivered event {cpu[0] / len(lat) * 1e6:.1f} us")
            print(f"CPU during delivery: server {cpu[0]:.1f} s, this client {cpu[1]:.1f} s "
                  f"(the single-process Python client is part of the measured latency)")
        print(f"server RSS idle {rss_idle / 1024:.1f} MiB, with subscribers {rss_connected / 1024:.1f} MiB "
              f"({(rss_connected - rss_idle) / max(1, args.subscribers):.1f} KiB per subscriber)")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
