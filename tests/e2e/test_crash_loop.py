"""Crash loop (issue 10): under `fsync = always`, an idempotent confluent-kafka producer keeps
producing while the server is SIGKILLed and restarted, again and again. Afterwards every
acknowledged record is in the log exactly once, at the offset its acknowledgement named, in the
order it was produced; and the server started every time.

CI runs CYCLES kills (50, a couple of minutes); STROM_CRASH_LOOP_CYCLES=N runs a longer soak."""

import os
import random
import threading
import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from kafka_support import create_topic

CYCLES = int(os.environ.get("STROM_CRASH_LOOP_CYCLES", "50"))
ACKS_PER_CYCLE = 40  # acknowledgements to wait for between two kills
IN_FLIGHT = 500  # produced but not yet acknowledged, at most


class Producing(threading.Thread):
    """Produces "0", "1", ... to partition 0 and records each acknowledgement."""

    def __init__(self, bootstrap):
        super().__init__(daemon=True)
        self.producer = Producer({
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 2,
            "message.timeout.ms": 600000,
            "reconnect.backoff.ms": 20,
            "reconnect.backoff.max.ms": 200,
        })
        self.acked = {}  # seq -> offset
        self.errors = []
        self.produced = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def on_delivery(self, err, msg):
        with self.lock:
            if err is not None:
                self.errors.append(err)
            else:
                self.acked[int(msg.value())] = msg.offset()

    def acked_count(self):
        with self.lock:
            return len(self.acked)

    def run(self):
        while not self.stop.is_set():
            if self.produced - self.acked_count() < IN_FLIGHT:
                try:
                    self.producer.produce("crashy", value=str(self.produced).encode(), partition=0,
                                          on_delivery=self.on_delivery)
                    self.produced += 1
                except BufferError:
                    pass
            self.producer.poll(0 if self.produced - self.acked_count() < IN_FLIGHT else 0.05)
        remaining = self.producer.flush(300)
        assert remaining == 0, f"{remaining} records never delivered"


def wait_for(condition, what, timeout):
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def read_log(bootstrap):
    """Every record of the partition, up to its high watermark, as (offset, seq)."""
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "crash-check",
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    out = []
    deadline = time.time() + 120
    try:
        low, end = c.get_watermark_offsets(TopicPartition("crashy", 0), timeout=30)
        assert low == 0, low
        c.assign([TopicPartition("crashy", 0, 0)])
        while len(out) < end:
            assert time.time() < deadline, f"read {len(out)} of {end} records"
            for m in c.consume(1000, timeout=1):
                assert m.error() is None, m.error()
                out.append((m.offset(), int(m.value())))
    finally:
        c.close()
    return out


@pytest.mark.timeout(1200 + 10 * CYCLES)
def test_sigkill_loop_loses_duplicates_and_reorders_nothing(strom_factory):
    server = strom_factory(extra_args=["--fsync", "always"]).start()
    create_topic(server.bootstrap, "crashy", partitions=1)
    producing = Producing(server.bootstrap)
    producing.start()
    rng = random.Random()
    starts = 1
    for cycle in range(CYCLES):
        target = producing.acked_count() + ACKS_PER_CYCLE
        wait_for(lambda: producing.acked_count() >= target or not producing.is_alive(),
                 f"{ACKS_PER_CYCLE} acknowledgements in cycle {cycle}", 120)
        assert producing.is_alive(), "the producer thread died"
        time.sleep(rng.uniform(0, 0.05))  # kill at a random point of the traffic, not a wait
        server.kill()
        server.start()  # raises if the server exits or does not listen
        starts += 1
    wait_for(lambda: producing.acked_count() >= target + ACKS_PER_CYCLE, "acks after the last restart", 120)
    producing.stop.set()
    producing.join(timeout=400)
    assert not producing.is_alive(), "the producer did not finish"
    assert producing.errors == [], producing.errors[:5]
    assert producing.acked_count() == producing.produced, "every produced record was acknowledged"

    acked = producing.acked
    log = read_log(server.bootstrap)
    offsets = [o for o, _ in log]
    seqs = [s for _, s in log]
    assert offsets == list(range(len(log))), "offsets are contiguous from 0"
    assert len(set(seqs)) == len(seqs), "a record was stored twice"
    assert seqs == sorted(seqs), "records are out of order"
    at = dict((s, o) for o, s in log)
    lost = [s for s in acked if s not in at]
    assert lost == [], f"{len(lost)} acknowledged records lost, first {lost[:5]}"
    moved = [(s, o, at[s]) for s, o in acked.items() if at[s] != o]
    assert moved == [], f"acknowledged offsets differ from the log: {moved[:5]}"
    print(f"{CYCLES} SIGKILL cycles, {starts} starts, {len(acked)} acknowledged records")
    assert server.stop() == 0
