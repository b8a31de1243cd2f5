"""The TLS benchmark's second client: Debian's Sarama (Go's crypto/tls) producing 1 KiB records.

librdkafka hands OpenSSL the produce request slice by slice, and where it keeps a record's value
by reference (a quarter of 1 KiB records in tls_bench.py's runs) that value and the record's
header each become a TLS record and a `write` of their own: its TLS cost is mostly its own
system calls. Go's crypto/tls writes a request as whole 16 KiB records, so the same measurement
with Sarama shows how much of the TLS / plaintext gap belongs to the client (tls_bench.py
prints both, and for each client the ratio a server with no TLS cost at all would reach).
"""

import json
import os
import statistics
import subprocess
from pathlib import Path

import go_build  # tests/e2e, on the path tls_bench.py sets
from throughput_support import abba, cpu_seconds, delete_topic

SOURCE = Path(__file__).resolve().parent / "go" / "sarama_bench.go"


def measure(pids, confs, mib, rounds):
    """`confs`: {side: confluent-kafka config} as for throughput_support.measure, `pids`:
    {side: server pid}. Per round (ABBA) Sarama
    produces `mib` MiB into a fresh topic; returns {side: {produce, cpu_produce,
    client_produce: [values]}} as throughput_support.measure does for the produce phase."""
    exe = go_build.build(SOURCE)
    results = {side: {"produce": [], "cpu_produce": [], "client_produce": []} for side in confs}
    for r in range(rounds):
        for side in abba(confs, r):
            pid, conf = pids[side], confs[side]
            topic = f"sarama-{side.replace(' ', '-')}-{r}"
            args = [exe, conf["bootstrap.servers"], topic, str(mib * 1024), "1024"]
            ca = conf.get("ssl.ca.location")
            server0, client0 = cpu_seconds(pid), children_cpu()
            done = subprocess.run(args + ([ca] if ca else []), capture_output=True,
                                  text=True, timeout=600)
            server1, client1 = cpu_seconds(pid), children_cpu()
            assert done.returncode == 0, done.stderr[-2000:]
            delete_topic(conf, topic)
            seconds = json.loads(done.stdout.splitlines()[-1])["seconds"]
            res = results[side]
            res["produce"].append(mib * 1.048576 / seconds)
            res["cpu_produce"].append(server1 - server0)
            res["client_produce"].append(client1 - client0)
            print(f"round {r} sarama {side:13}: produce {res['produce'][-1]:7.1f} MB/s in "
                  f"{seconds:.2f} s (CPU server {res['cpu_produce'][-1]:.2f} s, client "
                  f"{res['client_produce'][-1]:.2f} s)", flush=True)
    return results


def children_cpu():
    t = os.times()
    return t.children_user + t.children_system


def bounds(results, client, plain, tls):
    """What the TLS / plaintext produce ratio would be if the server's TLS cost were zero: both
    processes share the machine's cores, so throughput follows the CPU both spend per byte."""
    med = lambda side, k: statistics.median(results[side][k])  # noqa: E731
    server_p, client_p = med(plain, "cpu_produce"), med(plain, "client_produce")
    server_t, client_t = med(tls, "cpu_produce"), med(tls, "client_produce")
    print(f"{client}, produce: server CPU per byte plaintext / TLS {server_p / server_t:.2f}; "
          f"the client's TLS extra {client_t - client_p:.2f} CPU-s against the server's "
          f"{server_t - server_p:.2f}; with a server whose TLS cost nothing the ratio would be "
          f"{(server_p + client_p) / (server_p + client_t):.2f}")
