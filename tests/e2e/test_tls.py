"""TLS listeners end to end, with certificates generated here (tls_support.Pki): kcat,
confluent-kafka (default hostname verification) and kafkajs over an SSL listener, curl over
HTTPS (HTTP/1.1 and HTTP/2 by ALPN), a plaintext client on the SSL port failing cleanly
while others keep being served, mTLS principals (`CN=alice,OU=svc` -> `User:alice` by a
mapping rule) on Kafka and HTTP, and the safe-default binding rule with its start-up
warning."""

import json
import os
import signal
import socket
import ssl
import struct
import subprocess
import time
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer

from conftest import free_port, strom_binary, wait_for_port
from tls_support import Pki, start_tls_server

NODE_DIR = Path(__file__).resolve().parent / "node"
DEADLINE = 30


@pytest.fixture
def pki(tmp_path):
    return Pki(tmp_path / "pki")


@pytest.fixture
def tls_strom(tmp_path, pki):
    server = start_tls_server(tmp_path, pki, log="info,strom_kafka=debug,strom_http=debug")
    yield server
    assert server.stop() in (None, 0), server.log_text()


def wait_for_log(server, *needles, deadline=DEADLINE):
    """Waits for a log line containing every one of `needles`."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if any(all(n in line for n in needles) for line in server.log_text().splitlines()):
            return
        time.sleep(0.1)
    raise AssertionError(f"{needles!r} not logged:\n{server.log_text()[-4000:]}")


def kcat(*args, input=None, check=True):
    out = subprocess.run(["kcat", *args], input=input, capture_output=True, timeout=60)
    if check and out.returncode != 0:
        raise AssertionError(f"kcat {args} failed: {out.stderr.decode(errors='replace')}")
    return out


def ssl_args(server, pki, port=None, cert=None):
    args = ["-b", f"localhost:{port or server.ssl_port}", "-X", "security.protocol=SSL",
            "-X", f"ssl.ca.location={pki.ca}"]
    if cert:
        args += ["-X", f"ssl.certificate.location={cert[0]}", "-X", f"ssl.key.location={cert[1]}"]
    return args


def consume_all(conf, topic, count):
    consumer = Consumer({**conf, "group.id": f"g-{topic}", "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    values, end = [], time.monotonic() + DEADLINE
    while len(values) < count and time.monotonic() < end:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            values.append(msg.value())
    consumer.close()
    return values


def test_kcat_produces_and_consumes_over_ssl(tls_strom, pki):
    kcat(*ssl_args(tls_strom, pki), "-P", "-t", "kcat-ssl", input=b"one\ntwo\n")
    out = kcat(*ssl_args(tls_strom, pki), "-C", "-t", "kcat-ssl", "-o", "beginning",
               "-c", "2", "-e", "-f", "%s\n")
    assert out.stdout.decode().split() == ["one", "two"]


def test_confluent_kafka_verifies_the_broker_certificate_and_hostname(tls_strom, pki):
    conf = {"bootstrap.servers": f"localhost:{tls_strom.ssl_port}",
            "security.protocol": "SSL", "ssl.ca.location": str(pki.ca)}
    # librdkafka verifies the hostname by default (ssl.endpoint.identification.algorithm).
    producer = Producer(conf)
    for i in range(10):
        producer.produce("confluent-ssl", value=f"v{i}".encode())
    assert producer.flush(DEADLINE) == 0
    assert consume_all(conf, "confluent-ssl", 10) == [f"v{i}".encode() for i in range(10)]
    # A client that trusts another CA refuses the server.
    other = Pki(pki.dir.parent / "other-pki")
    reports = []
    bad = Producer({**conf, "ssl.ca.location": str(other.ca), "message.timeout.ms": 3000})
    bad.produce("confluent-ssl", value=b"never", on_delivery=lambda err, _: reports.append(err))
    bad.flush(DEADLINE)
    assert len(reports) == 1 and reports[0] is not None, reports
    wait_for_log(tls_strom, "listener=SSL error=TLS handshake failed")


def test_kafkajs_produces_over_ssl(tls_strom, pki):
    script = """
const fs = require('fs'); const { Kafka, logLevel } = require('kafkajs');
const [port, ca] = process.argv.slice(1);
const kafka = new Kafka({ brokers: ['localhost:' + port], logLevel: logLevel.WARN,
  ssl: { ca: [fs.readFileSync(ca, 'utf8')] } });
(async () => { const p = kafka.producer(); await p.connect();
  await p.send({ topic: 'kafkajs-ssl', messages: [{ value: 'from-kafkajs' }] });
  await p.disconnect(); })().catch(e => { console.error(e); process.exit(1); });
"""
    out = subprocess.run(["node", "-e", script, str(tls_strom.ssl_port), str(pki.ca)],
                         cwd=NODE_DIR, capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    got = kcat(*ssl_args(tls_strom, pki), "-C", "-t", "kafkajs-ssl", "-o", "beginning",
               "-c", "1", "-e", "-f", "%s")
    assert got.stdout == b"from-kafkajs"


def curl(*args):
    out = subprocess.run(["curl", "-sS", *args], capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    return out.stdout.decode()


def test_https_with_curl_over_http1_and_http2(tls_strom, pki):
    url = f"https://localhost:{tls_strom.http_port}/healthz"
    for flag, version in [("--http1.1", "1.1"), ("--http2", "2")]:
        out = curl("--cacert", str(pki.ca), flag, "-o", "/dev/null",
                   "-w", "%{http_code} %{http_version}", url)
        assert out == f"200 {version}", out
    # Plain HTTP on the HTTPS port is not served.
    plain = subprocess.run(["curl", "-sS", f"http://127.0.0.1:{tls_strom.http_port}/healthz"],
                           capture_output=True, timeout=60)
    assert plain.returncode != 0
    wait_for_log(tls_strom, "closing HTTPS connection")


def test_plaintext_client_on_the_ssl_port_fails_cleanly_and_others_are_served(tls_strom, pki):
    # A plaintext ApiVersions request, as a Kafka client without TLS would send it.
    api_versions = bytes([0, 0, 0, 10, 0, 18, 0, 3, 0, 0, 0, 1, 0, 0])
    with socket.create_connection(("127.0.0.1", tls_strom.ssl_port), timeout=DEADLINE) as s:
        s.sendall(api_versions)
        received = b""
        while chunk := s.recv(4096):  # a TLS alert at most, then the server closes
            received += chunk
    assert len(received) < 64, received
    wait_for_log(tls_strom, "TLS handshake failed")
    # A client that connects and stays silent does not hold up the others either.
    with socket.create_connection(("127.0.0.1", tls_strom.ssl_port)):
        kcat(*ssl_args(tls_strom, pki), "-P", "-t", "after-garbage", input=b"still-served\n")
        out = kcat("-b", tls_strom.bootstrap, "-C", "-t", "after-garbage", "-o", "beginning",
                   "-c", "1", "-e", "-f", "%s")
    assert out.stdout == b"still-served"
    assert "panicked" not in tls_strom.log_text()


def test_tls_client_on_the_plaintext_port_fails_cleanly_and_others_are_served(tls_strom, pki):
    context = ssl.create_default_context(cafile=str(pki.ca))
    with socket.create_connection(("127.0.0.1", tls_strom.kafka_port), timeout=DEADLINE) as raw:
        with pytest.raises(OSError):  # ssl.SSLError or a reset: the server closed mid-handshake
            context.wrap_socket(raw, server_hostname="localhost")
    wait_for_log(tls_strom, "closing Kafka connection", "a TLS handshake on a listener without TLS")
    reports = []
    producer = Producer({"bootstrap.servers": tls_strom.bootstrap, "security.protocol": "SSL",
                         "ssl.ca.location": str(pki.ca), "message.timeout.ms": 5000})
    producer.produce("tls-on-plain", b"never", on_delivery=lambda err, _: reports.append(err))
    producer.flush(DEADLINE)
    assert len(reports) == 1 and reports[0] is not None, reports
    kcat("-b", tls_strom.bootstrap, "-P", "-t", "tls-on-plain", input=b"plain-served\n")
    out = kcat("-b", tls_strom.bootstrap, "-C", "-t", "tls-on-plain", "-o", "beginning", "-c", "1",
               "-e", "-f", "%s")
    assert out.stdout == b"plain-served"
    assert "panicked" not in tls_strom.log_text()


def test_the_server_picks_aes_128_and_large_produces_arrive_intact(tls_strom, pki):
    """OpenSSL (Python's ssl, as librdkafka's) lists AES-256-GCM first; the server picks
    AES-128-GCM by its own order (docs/security.md, "Cipher suites"). Then 6 MiB of random
    records produced over TLS by confluent-kafka (1 MiB requests, read by the server without
    a buffer of its own above rustls) come back byte for byte over plaintext."""
    context = ssl.create_default_context(cafile=str(pki.ca))
    with socket.create_connection(("127.0.0.1", tls_strom.ssl_port), timeout=DEADLINE) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            assert tls.cipher()[0] == "TLS_AES_128_GCM_SHA256", tls.cipher()
    values = [os.urandom(100_000 + i) for i in range(64)]
    producer = Producer({"bootstrap.servers": f"localhost:{tls_strom.ssl_port}",
                         "security.protocol": "SSL", "ssl.ca.location": str(pki.ca),
                         "linger.ms": 20, "batch.size": 1 << 20})
    for value in values:
        producer.produce("tls-bulk", value)
    assert producer.flush(DEADLINE) == 0
    assert consume_all({"bootstrap.servers": tls_strom.bootstrap}, "tls-bulk", 64) == values


def test_a_large_fetch_reaches_a_slow_tls_reader_whole(tls_strom, pki):
    """6 MiB Fetch responses over TLS reach a reader that empties its socket slowly, whole and
    in time, three times on one connection. (TLS keeps a response's last records in the server
    until the stream is flushed; on loopback the stall that a missing flush could cause was
    not produced, see docs/testing.md.)"""
    from kafka.protocol.fetch import FetchRequest
    from kafka_support import Wire

    producer = Producer({"bootstrap.servers": tls_strom.bootstrap, "linger.ms": 5})
    for _ in range(48):
        producer.produce("big-fetch", os.urandom(128 * 1024))
    assert producer.flush(DEADLINE) == 0
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.connect(("127.0.0.1", tls_strom.ssl_port))
    context = ssl.create_default_context(cafile=str(pki.ca))
    wire = Wire.__new__(Wire)
    wire.sock, wire.correlation = context.wrap_socket(raw, server_hostname="localhost"), 0
    for attempt in range(3):
        request = FetchRequest[4](-1, 0, 1, 64 << 20, 0, [("big-fetch", [(0, 0, 64 << 20)])])
        wire.send(request)
        time.sleep(1)  # the server fills both socket buffers, then waits for the reader
        wire.sock.settimeout(DEADLINE)
        received = 0
        (size,) = struct.unpack(">i", wire._exact(4))
        while received < size:
            chunk = wire.sock.recv(min(16384, size - received))  # socket.timeout: the tail never came
            assert chunk, "closed by the server"
            received += len(chunk)
            time.sleep(0.0005)
        assert size > 6 << 20, size
    wire.close()


def test_mtls_principal_comes_from_the_mapped_certificate_subject(tls_strom, pki):
    alice = pki.leaf("alice", O="Org", OU="svc", CN="alice")
    bob = pki.leaf("bob", OU="ops", CN="bob")
    port = tls_strom.mtls_port
    kcat(*ssl_args(tls_strom, pki, port, alice), "-P", "-t", "mtls", input=b"from-alice\n")
    wait_for_log(tls_strom, 'listener=MTLS principal=User:alice')
    kcat(*ssl_args(tls_strom, pki, port, bob), "-L")
    wait_for_log(tls_strom, 'principal=User:CN=bob,OU=ops')
    # client_auth = required: no certificate, no connection.
    refused = kcat(*ssl_args(tls_strom, pki, port), "-L", "-m", "5", check=False)
    assert refused.returncode != 0
    wait_for_log(tls_strom, "listener=MTLS error=TLS handshake failed")
    # HTTPS asks for a certificate (requested): alice's request carries her principal.
    whoami = json.loads(curl("--cacert", str(pki.ca), "--cert", str(alice[0]), "--key", str(alice[1]),
                             f"https://localhost:{tls_strom.http_port}/v1/whoami"))
    assert (whoami["principal"], whoami["authenticated_by"]) == ("User:alice", "mtls"), whoami
    wait_for_log(tls_strom, "HTTPS connection established", "principal=User:alice")


def test_mtls_principals_are_authorized_by_their_acls(tmp_path, pki):
    import requests
    from confluent_kafka import KafkaError

    server = start_tls_server(tmp_path, pki)
    https = f"https://localhost:{server.http_port}"
    # Prepared with the authorizer off: the topic, and WRITE on it for User:alice only.
    r = requests.post(f"{https}/v1/topics", json={"name": "mtls-acl", "partitions": 1},
                      verify=str(pki.ca), timeout=30)
    assert r.status_code == 201, r.text
    acl = {"resource_type": "TOPIC", "resource_name": "mtls-acl", "principal": "User:alice",
           "operation": "WRITE", "permission": "ALLOW"}
    r = requests.post(f"{https}/v1/acls", json={"acls": [acl]}, verify=str(pki.ca), timeout=30)
    assert r.status_code == 201, r.text
    server.stop()
    server.extra_args += ["--authorizer-enabled", "true", "--super-users", "User:admin"]
    server.start()
    wait_for_port(server.mtls_port, server.proc)

    def produce(cert):
        reports = []
        producer = Producer({"bootstrap.servers": f"localhost:{server.mtls_port}",
                             "security.protocol": "SSL", "ssl.ca.location": str(pki.ca),
                             "ssl.certificate.location": str(cert[0]),
                             "ssl.key.location": str(cert[1]), "message.timeout.ms": 20000})
        producer.produce("mtls-acl", b"v", on_delivery=lambda err, _: reports.append(err))
        producer.flush(DEADLINE)
        assert len(reports) == 1, reports
        return reports[0]

    # CN=alice,OU=svc maps to User:alice, who may write; CN=bob,OU=ops stays a DN and may not.
    assert produce(pki.leaf("alice", O="Org", OU="svc", CN="alice")) is None
    err = produce(pki.leaf("bob", OU="ops", CN="bob"))
    assert err is not None and err.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED, err
    wait_for_log(server, "authorization denied", "principal=User:CN=bob,OU=ops", "listener=MTLS")
    server.stop()


def run_serve(tmp_path, name, args, env=None):
    """Starts `strom serve` with exactly `args`; returns the process and its log file."""
    log = tmp_path / f"{name}.log"
    proc = subprocess.Popen(
        [strom_binary(), "serve", "--data-dir", str(tmp_path / name), *args],
        stdout=open(log, "ab"), stderr=subprocess.STDOUT,
        env={**os.environ, "STROM_LOG": "info", **(env or {})})
    return proc, log


def test_network_binding_without_authentication_needs_the_setting_and_warns(tmp_path):
    kafka, http = free_port(), free_port()
    args = ["--kafka-listen", f"127.0.0.1:{kafka}", "--http-listen", f"0.0.0.0:{http}"]
    proc, log = run_serve(tmp_path, "refused", args)
    assert proc.wait(timeout=60) == 78, log.read_text()
    assert "allow_unauthenticated_network = true" in log.read_text(), log.read_text()
    warning = (f"the HTTP listener on 0.0.0.0:{http} accepts clients from the network "
               "without authentication")
    for start in range(2):  # the warning comes at every start
        proc, log = run_serve(tmp_path, "open", args,
                              env={"STROM_ALLOW_UNAUTHENTICATED_NETWORK": "true"})
        try:
            wait_for_port(http, proc)
            wait_for_port(kafka, proc)
            end = time.monotonic() + DEADLINE
            # Signals are handled once the server is ready.
            while log.read_text().count("strom ready") < start + 1:
                assert time.monotonic() < end, log.read_text()
                time.sleep(0.1)
            assert log.read_text().count(warning) == start + 1, log.read_text()
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0, log.read_text()
