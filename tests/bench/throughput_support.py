"""The produce/consume measuring loop shared by the security benchmarks (tls_bench.py,
security_bench.py): several client configurations ("sides") of one server measured in the
same run, in ABBA order, with the server's and the client's CPU per phase, and a table of
medians, spreads and ratios to the first side.

Per round and side, confluent-kafka produces `mib` MiB of 1 KiB records (linger 5 ms, 1 MiB
batches, acks=1) into a fresh topic, then consumes them from the beginning; the topic is
deleted afterwards so long runs do not fill the disk. Forward order in even rounds, reversed
in odd ones, so a drift in the machine's load hits every side alike.
"""

import os
import statistics
import time
from pathlib import Path

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

RECORD = os.urandom(1024)
PHASES = ("produce", "consume")


def cpu_seconds(pid):
    """User + system CPU seconds of process `pid` so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def produce(conf, topic, count):
    producer = Producer({**conf, "linger.ms": 5, "batch.size": 1 << 20, "acks": 1,
                         "queue.buffering.max.kbytes": 1 << 20})
    start = time.monotonic()
    for _ in range(count):
        while True:
            try:
                producer.produce(topic, RECORD)
                break
            except BufferError:
                producer.poll(0.01)
    assert producer.flush(600) == 0
    return time.monotonic() - start


def consume(conf, topic, count):
    consumer = Consumer({**conf, "group.id": f"bench-{topic}", "auto.offset.reset": "earliest",
                         "enable.auto.commit": False, "fetch.queue.backoff.ms": 1})
    consumer.subscribe([topic])
    got, start = 0, time.monotonic()
    while got < count:
        for msg in consumer.consume(10000, 1.0):
            if msg.error() is None:
                got += 1
        assert time.monotonic() - start < 600, f"consumed {got} of {count}"
    elapsed = time.monotonic() - start
    consumer.close()
    return elapsed


def abba(items, round_):
    return list(items) if round_ % 2 == 0 else list(reversed(items))


def spread(values):
    return f"{statistics.median(values):7.1f} ({min(values):.1f}-{max(values):.1f})"


def measure(server_pid, confs, mib, rounds):
    """Runs the rounds over `confs` ({side: client config}); returns {side: {key: [values]}}
    with keys produce/consume (MB/s) and cpu_*/client_* (CPU seconds) per phase.
    `server_pid` is one server's pid, or {side: pid} when the sides run on different servers
    (two builds compared in one run)."""
    count = mib * 1024
    keys = [f"{kind}{p}" for p in PHASES for kind in ("", "cpu_", "client_")]
    results = {side: {k: [] for k in keys} for side in confs}
    for r in range(rounds):
        for side in abba(confs, r):
            topic = f"{side.replace('+', '-').replace(' ', '-')}-{r}"
            pid = server_pid[side] if isinstance(server_pid, dict) else server_pid
            marks = [(cpu_seconds(pid), time.process_time())]
            seconds = [produce(confs[side], topic, count)]
            marks.append((cpu_seconds(pid), time.process_time()))
            seconds.append(consume(confs[side], topic, count))
            marks.append((cpu_seconds(pid), time.process_time()))
            delete_topic(confs[side], topic)
            res = results[side]
            line = []
            for i, phase in enumerate(PHASES):
                res[phase].append(mib * 1.048576 / seconds[i])
                res[f"cpu_{phase}"].append(marks[i + 1][0] - marks[i][0])
                res[f"client_{phase}"].append(marks[i + 1][1] - marks[i][1])
                line.append(f"{phase} {res[phase][-1]:7.1f} MB/s in {seconds[i]:.2f} s (CPU "
                            f"server {res[f'cpu_{phase}'][-1]:.2f} s, client "
                            f"{res[f'client_{phase}'][-1]:.2f} s)")
            print(f"round {r} {side:13}: " + ", ".join(line), flush=True)
    return results


def delete_topic(conf, topic):
    admin = AdminClient({**conf, "log_level": 3})  # kept alive until the deletion is answered
    for future in admin.delete_topics([topic]).values():
        future.result(timeout=60)


def print_table(results, mib, rounds, phases=PHASES, client="librdkafka's threads included"):
    """A markdown table per phase: MB/s median (min-max); the ratio to the first side taken
    within each round (both sides ran minutes apart at most, under the same load), median
    (min-max) over rounds; and the median CPU seconds of server and client."""
    sides = list(results)
    print(f"\n{mib} MiB of 1 KiB records per side and round, {rounds} rounds (ABBA); "
          "median (min-max) MB/s, ratio to the first side within each round, median (min-max), "
          f"median CPU seconds of the server and of the client process ({client})")
    print("| side | " + " | ".join(f"{phase} MB/s | ratio | CPU server / client"
                                    for phase in phases) + " |")
    print("|---|" + "---:|---:|---:|" * len(phases))
    med = lambda side, k: statistics.median(results[side][k])  # noqa: E731
    for side in sides:
        cells = []
        for phase in phases:
            ratios = [a / b for a, b in zip(results[side][phase], results[sides[0]][phase])]
            cells.append(f"{spread(results[side][phase])} | {statistics.median(ratios):.2f} "
                         f"({min(ratios):.2f}-{max(ratios):.2f}) | "
                         f"{med(side, f'cpu_{phase}'):.2f} / {med(side, f'client_{phase}'):.2f} s")
        print(f"| {side} | " + " | ".join(cells) + " |")
