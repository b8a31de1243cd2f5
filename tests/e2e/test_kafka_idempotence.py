"""Idempotent producing under connection faults: a TCP proxy between the producer and Strom
cuts connections mid-flight — most often right after a request reached the broker but before
its response reached the client — so the producer retries batches that were already written.
The log must hold every record exactly once, in order: no duplicates, no gaps.

Strom listens on 127.0.0.1:P and advertises 127.0.0.2; the proxy listens on 127.0.0.2:P, so
after bootstrap the client keeps talking through the proxy."""

import random
import socket
import threading
import time

import confluent_kafka as ck

from kafka_support import consume, create_topic

PROXY_HOST = "127.0.0.2"


class ChaosProxy:
    """Forwards TCP connections and, until `max_cuts` is reached, closes a connection instead
    of forwarding a chunk with probability `p_response` (server→client: a written batch's
    acknowledgement is lost) or `p_request` (client→server: the request is lost)."""

    def __init__(self, listen_port, upstream_port, p_response=0.15, p_request=0.05, max_cuts=12, seed=7):
        self.upstream = ("127.0.0.1", upstream_port)
        self.server = socket.create_server((PROXY_HOST, listen_port))
        self.p_response, self.p_request = p_response, p_request
        self.max_cuts = max_cuts
        self.cuts = 0
        self.connections = 0
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.stopped = False
        self.chaos = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _should_cut(self, p):
        with self.lock:
            if self.chaos and self.cuts < self.max_cuts and self.random.random() < p:
                self.cuts += 1
                return True
            return False

    def _accept(self):
        while not self.stopped:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            self.connections += 1
            for src, dst, p in ((client, upstream, self.p_request), (upstream, client, self.p_response)):
                threading.Thread(target=self._pump, args=(src, dst, p, (client, upstream)), daemon=True).start()

    def _pump(self, src, dst, p, pair):
        carried = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                carried += len(data)
                # Let the handshake (ApiVersions, Metadata, InitProducerId) through, so cuts
                # land on produce traffic rather than on reconnect attempts.
                if carried > 2048 and self._should_cut(p):
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in pair:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self):
        self.stopped = True
        self.server.close()


def test_idempotent_producer_retries_through_cut_connections(strom_factory):
    server = strom_factory(
        extra_args=["--kafka-advertised-host", PROXY_HOST],
        env={"STROM_LOG": "info,strom_kafka::handlers::produce=debug"},
    ).start()
    # Every client reaches the broker through the proxy (that is what Metadata advertises);
    # faults are injected only while producing.
    proxy = ChaosProxy(server.kafka_port, server.kafka_port)
    bootstrap = f"{PROXY_HOST}:{server.kafka_port}"
    try:
        create_topic(bootstrap, "exactly-once", partitions=2)
        proxy.chaos = True
        p = ck.Producer({
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "acks": "all",
            "max.in.flight.requests.per.connection": 5,
            "linger.ms": 2,
            "batch.num.messages": 50,
            "retry.backoff.ms": 50,
            "reconnect.backoff.ms": 50,
            "reconnect.backoff.max.ms": 200,
            "message.timeout.ms": 120000,
        })
        errors = []
        round_size = 4000
        total = 0

        def delivered(err, msg):
            if err is not None:
                errors.append(err)

        # Rounds of 4,000 until the proxy has cut at least 5 connections (how many requests
        # a round takes depends on the client's batching, so the count is not fixed).
        deadline = time.time() + 120
        while total == 0 or (proxy.cuts < 5 and time.time() < deadline):
            for i in range(total, total + round_size):
                p.produce("exactly-once", key=str(i % 2).encode(), value=str(i).encode(),
                          partition=i % 2, on_delivery=delivered)
                if i % 40 == 0:
                    p.poll(0)
                    time.sleep(0.01)  # spread the load over many produce requests for the cuts
            total += round_size
            assert p.flush(120) == 0
        assert errors == []
        assert proxy.cuts >= 5, f"only {proxy.cuts} cuts: the fault injection did not bite"
        assert proxy.connections > 1
        proxy.chaos = False
        # The scenario that matters happened: batches written but not acknowledged came back.
        assert "retried batch already written" in server.log_text()

        for partition in (0, 1):
            got = consume(bootstrap, "exactly-once", total // 2, partitions=(partition,), timeout=30)
            values = [int(m.value()) for m in got]
            assert values == list(range(partition, total, 2)), "duplicates, gaps or reordering"
            assert [m.offset() for m in got] == list(range(total // 2))
            c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": "check"})
            try:
                low, high = c.get_watermark_offsets(
                    ck.TopicPartition("exactly-once", partition), timeout=10)
            finally:
                c.close()
            assert (low, high) == (0, total // 2)
    finally:
        proxy.close()
    assert server.stop() == 0
