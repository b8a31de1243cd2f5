"""Webhook options no other suite covers, against the real binary (one server for the module,
with `webhook_ca_file` trusting the test CA): delivery over HTTP/2 (TLS, ALPN h2) to a receiver
on the `h2` library, start position by timestamp, custom headers arriving, the rate limit
holding (arrivals per one-second window), a receiver that answers garbage (not HTTP) counted
as failures and dead-lettered while another subscription of the topic is unaffected; and, on
its own server with authentication required, the SSRF rule: loopback refused until
allow-listed in `webhook_allowed_networks`, then accepted and delivered."""

import json
import socket
import threading
import time

import pytest
import requests
from confluent_kafka import Producer

from conftest import Strom
from h2_receiver import H2Receiver
from test_webhooks import create_topic, delivered_numbers, metric, produce, subscribe
from tls_support import Pki
from webhook_receiver import Receiver, wait_for


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def strom(tmp_path_factory, pki):
    base = tmp_path_factory.mktemp("options")
    config = base / "strom.toml"
    config.write_text(f'webhook_ca_file = "{pki.ca}"\n')
    server = Strom(base / "data", extra_args=["--config", str(config)]).start()
    yield server
    assert server.stop() in (None, 0), server.log_text()


def test_delivery_over_http2_with_tls(strom, pki):
    receiver = H2Receiver(str(pki.server_cert), str(pki.server_key))
    create_topic(strom, "h2")
    sub = requests.post(f"{strom.http}/v1/webhooks", json={
        "name": "h2-hook", "url": receiver.url, "topics": ["h2"], "start": "earliest"})
    assert sub.status_code == 201, sub.text
    receiver.secret = sub.json()["secret"]
    produce(strom, "h2", 5)
    wait_for(lambda: len(receiver.received()) == 5, what="5 deliveries over h2")
    for alpn, headers, body, verified in receiver.received():
        assert alpn == "h2" and headers[":method"] == "POST" and verified
    assert [json.loads(r[2])["data"]["n"] for r in receiver.received()] == [0, 1, 2, 3, 4]
    receiver.close()


def test_start_timestamp_and_custom_headers(strom):
    receiver = Receiver()
    create_topic(strom, "ts")
    now = int(time.time() * 1000)
    p = Producer({"bootstrap.servers": strom.bootstrap})
    for i, ts in enumerate([now - 60_000, now - 30_000, now - 1_000]):
        p.produce("ts", value=json.dumps({"n": i}).encode(), timestamp=ts)
    assert p.flush(30) == 0
    subscribe(strom, receiver, "ts-hook", ["ts"], start_timestamp_ms=now - 45_000,
              headers={"x-team": "payments", "authorization": "Bearer t0ken"})
    produce(strom, "ts", 1, start=3)
    wait_for(lambda: 3 in delivered_numbers(receiver), what="the event after creation")
    assert delivered_numbers(receiver) == [1, 2, 3]
    for r in receiver.delivered():
        assert r.headers["x-team"] == "payments" and r.headers["authorization"] == "Bearer t0ken"
        assert r.verified
    receiver.close()


def test_rate_limit_holds(strom):
    receiver = Receiver()
    create_topic(strom, "rl", partitions=3)
    subscribe(strom, receiver, "rl-hook", ["rl"], rate_limit_per_sec=5, ordering="none")
    produce(strom, "rl", 15)
    wait_for(lambda: len(receiver.delivered()) == 15, what="15 deliveries")
    times = sorted(r.at for r in receiver.delivered())
    busiest = max(sum(1 for t in times if start <= t < start + 1.0) for start in times)
    # 5 per second; one-second windows may straddle two slots' edges: generous bound 7.
    assert busiest <= 7, busiest
    assert times[-1] - times[0] >= 2.0, times
    receiver.close()


class Garbage:
    """Accepts connections and answers bytes that are not HTTP, then closes."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            try:
                conn.recv(65536)
                conn.sendall(b"\x00\x01garbage, not HTTP at all\r\n\r\n" * 10)
            except OSError:
                pass
            conn.close()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/hook"

    def close(self):
        self.sock.close()


def test_a_garbage_answering_receiver_fails_and_others_go_on(strom):
    garbage, good = Garbage(), Receiver()
    create_topic(strom, "gb")
    subscribe(strom, garbage, "garbage-hook", ["gb"], retry_schedule_ms=[0, 50], timeout_ms=2000)
    subscribe(strom, good, "gbgood-hook", ["gb"])
    produce(strom, "gb", 5)
    wait_for(lambda: len(good.delivered()) == 5, what="the good receiver's 5 events")
    wait_for(lambda: metric(strom, "strom_webhook_dead_letter_records", "garbage-hook") == 5,
             what="garbage answers dead-lettered")
    text = requests.get(f"{strom.http}/metrics").text
    failed = sum(float(l.split()[-1]) for l in text.splitlines()
                 if l.startswith('strom_webhook_failed_attempts_total{subscription="garbage-hook"'))
    assert failed == 10, [l for l in text.splitlines() if "garbage-hook" in l]
    letters = requests.get(f"{strom.http}/v1/webhooks/garbage-hook/dlq").json()["dead_letters"]
    assert letters[0]["status"] is None and letters[0]["error"], letters[0]
    assert metric(strom, "strom_webhook_delivered_total", "garbage-hook") == 0
    garbage.close()
    good.close()


ADMIN = ("admin", "admin:pw")


def test_ssrf_loopback_refused_with_authentication_until_allow_listed(strom_factory, tmp_path):
    config = tmp_path / "auth.toml"
    config.write_text('http_auth = "required"\n')
    server = strom_factory(extra_args=["--config", str(config)],
                           env={"STROM_BOOTSTRAP_USER": "admin:admin:pw:SCRAM-SHA-256"})
    server.start()
    receiver = Receiver()
    r = requests.post(f"{server.http}/v1/topics", json={"name": "s"}, auth=ADMIN)
    assert r.status_code == 201, r.text
    body = {"name": "s-hook", "url": receiver.url, "topics": ["s"], "start": "earliest"}
    refused = requests.post(f"{server.http}/v1/webhooks", json=body, auth=ADMIN)
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"].endswith("target-refused")
    assert "webhook_allowed_networks" in refused.json()["detail"]
    server.stop()
    config.write_text('http_auth = "required"\nwebhook_allowed_networks = ["127.0.0.1/32"]\n')
    server.start()
    created = requests.post(f"{server.http}/v1/webhooks", json=body, auth=ADMIN)
    assert created.status_code == 201, created.text
    receiver.secret = created.json()["secret"]
    r = requests.post(f"{server.http}/v1/topics/s/records", auth=ADMIN,
                      json={"records": [{"value": {"n": 7}}]})
    assert r.status_code == 200, r.text
    wait_for(lambda: delivered_numbers(receiver) == [7], what="delivered once allow-listed")
    assert receiver.delivered()[0].verified
    receiver.close()
