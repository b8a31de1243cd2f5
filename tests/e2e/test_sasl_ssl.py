"""SASL over TLS (SASL_SSL) end to end, and a bounded SASL/TLS fuzz, against the real binary.

One server with a SASL_PLAINTEXT listener and a SASL_SSL listener (certificates from
tls_support.Pki, verified by every client). confluent-kafka, kafkajs and kcat each log in over
SASL_SSL with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512, produce, and are refused with a wrong
password.

The fuzz (a fixed seed, printed, so a failure can be replayed) mutates valid SaslHandshake and
SaslAuthenticate frames (sent on the SASL_PLAINTEXT listener, which parses them in the same
code as SASL_SSL) and a real TLS ClientHello (sent to the SASL_SSL listener): truncations,
flipped bytes, extreme length fields, inserted and repeated bytes. Each case's connection must
end with an answer or a close from the server; afterwards the server is still running and a
good client still logs in on both listeners. FUZZ_CASES (default 1500 per kind) sizes it.
"""

import json
import os
import random
import socket
import ssl
import struct
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import confluent_kafka as ck
import pytest
from confluent_kafka.admin import (
    AdminClient, ScramCredentialInfo, ScramMechanism, UserScramCredentialUpsertion,
)

from conftest import free_port
from tls_support import Pki

NODE_DIR = Path(__file__).resolve().parent / "node"
ADMIN = ("admin", "admin-pw")
MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
WRONG = "Wr0ng-Passw0rd"
CASES = int(os.environ.get("FUZZ_CASES", "1500"))


@pytest.fixture
def pki(tmp_path):
    return Pki(tmp_path / "pki")


@pytest.fixture
def server(strom_factory, tmp_path, pki):
    sasl_port, ssl_port = free_port(), free_port()
    config = tmp_path / "strom.toml"
    config.write_text(f"""
[[kafka_listeners]]
name = "SASL_PLAINTEXT"
protocol = "SASL_PLAINTEXT"
listen = "127.0.0.1:{sasl_port}"

[[kafka_listeners]]
name = "SASL_SSL"
protocol = "SASL_SSL"
listen = "127.0.0.1:{ssl_port}"
advertised = "localhost:{ssl_port}"
ssl = {{ cert_file = "{pki.server_cert}", key_file = "{pki.server_key}" }}
""")
    s = strom_factory(extra_args=["--config", str(config)],
                      env={"STROM_BOOTSTRAP_USER": f"{ADMIN[0]}:{ADMIN[1]}:SCRAM-SHA-512"})
    s.sasl_port, s.ssl_port = sasl_port, ssl_port
    s.start()
    admin = AdminClient(ssl_conf(s, pki, "SCRAM-SHA-512", *ADMIN))
    upserts = [UserScramCredentialUpsertion("alice", ScramCredentialInfo(m, 8192), b"alice-pw")
               for m in (ScramMechanism.SCRAM_SHA_256, ScramMechanism.SCRAM_SHA_512)]
    for future in admin.alter_user_scram_credentials(upserts).values():
        future.result(timeout=30)
    return s


def ssl_conf(server, pki, mechanism, user, password, **extra):
    return {"bootstrap.servers": f"localhost:{server.ssl_port}", "security.protocol": "SASL_SSL",
            "ssl.ca.location": str(pki.ca), "sasl.mechanisms": mechanism,
            "sasl.username": user, "sasl.password": password, **extra}


def confluent_produce(server, pki, mechanism, password, topic="sasl-ssl"):
    """Produces one record; None on success, else the error text (as tests/e2e/test_sasl.py)."""
    if password != "alice-pw":
        # The refusal reaches error_cb at once; wait for it rather than for a metadata timeout.
        errors = []
        admin = AdminClient(ssl_conf(server, pki, mechanism, "alice", password, error_cb=errors.append))
        deadline = time.monotonic() + 60
        while not errors and time.monotonic() < deadline:
            admin.poll(0.2)
        return " | ".join(str(x) for x in errors) or None
    producer = ck.Producer(ssl_conf(server, pki, mechanism, "alice", password))
    delivered = []
    producer.produce(topic, value=mechanism.encode(), on_delivery=lambda e, m: delivered.append(e))
    producer.flush(30)
    return None if delivered == [None] else repr(delivered)


def test_confluent_kafka_kafkajs_and_kcat_over_sasl_ssl(server, pki):
    for mechanism in MECHANISMS:
        assert confluent_produce(server, pki, mechanism, "alice-pw") is None, mechanism
        err = confluent_produce(server, pki, mechanism, WRONG)
        assert err is not None and "Invalid user credentials" in err, (mechanism, err)
    for mechanism in ["plain", "scram-sha-256", "scram-sha-512"]:
        for password, ok in (("alice-pw", True), (WRONG, False)):
            out = subprocess.run(
                ["node", str(NODE_DIR / "kafkajs_sasl.js"), f"localhost:{server.ssl_port}", mechanism,
                 "alice", password, "sasl-ssl", str(pki.ca)],
                capture_output=True, text=True, timeout=120)
            assert out.returncode == 0, out.stderr
            result = json.loads(out.stdout)
            assert result["ok"] is ok, (mechanism, result)
            if not ok:
                assert "Invalid user credentials" in result["error"], result
    for mechanism in MECHANISMS:
        for password, ok in (("alice-pw", True), (WRONG, False)):
            out = subprocess.run(
                ["kcat", "-b", f"localhost:{server.ssl_port}", "-X", "security.protocol=SASL_SSL",
                 "-X", f"ssl.ca.location={pki.ca}", "-X", f"sasl.mechanisms={mechanism}",
                 "-X", "sasl.username=alice", "-X", f"sasl.password={password}",
                 "-C", "-t", "sasl-ssl", "-o", "beginning", "-c", "9", "-e", "-f", "%s\n", "-m", "10"],
                capture_output=True, text=True, timeout=60)
            if ok:
                assert out.returncode == 0, (mechanism, out.stderr)
                # 3 confluent-kafka and 3 kafkajs records.
                assert sorted(out.stdout.split()) == sorted(
                    MECHANISMS + [f"kafkajs-{m}" for m in ("plain", "scram-sha-256", "scram-sha-512")]
                ), out.stdout
            else:
                assert out.returncode != 0 and "Invalid user credentials" in out.stderr, (mechanism, out.stderr)


def test_kafka_python_over_sasl_ssl_right_and_wrong(server, pki):
    from kafka import KafkaProducer
    from kafka.errors import NoBrokersAvailable

    common = dict(bootstrap_servers=f"localhost:{server.ssl_port}", security_protocol="SASL_SSL",
                  ssl_cafile=str(pki.ca), ssl_check_hostname=True, sasl_plain_username="alice")
    for mechanism in MECHANISMS:
        producer = KafkaProducer(sasl_mechanism=mechanism, sasl_plain_password="alice-pw",
                                 api_version_auto_timeout_ms=15000, **common)
        producer.send("sasl-ssl-kafka-python", mechanism.encode()).get(timeout=30)
        producer.close()
        before = server.log_text().count("authentication failed")
        with pytest.raises(NoBrokersAvailable):
            KafkaProducer(sasl_mechanism=mechanism, sasl_plain_password=WRONG,
                          api_version_auto_timeout_ms=5000, **common)
        assert server.log_text().count("authentication failed") > before, mechanism
    assert "listener=SASL_SSL" in server.log_text()


# --- fuzz ----------------------------------------------------------------------------------

def _str(s):
    return struct.pack(">h", len(s)) + s


def request(api_key, version, correlation, body):
    header = struct.pack(">hhi", api_key, version, correlation) + _str(b"fuzz")
    payload = header + body
    return struct.pack(">i", len(payload)) + payload


def sasl_seeds():
    """Valid frame sequences: handshake v0/v1 and authenticate v0/v1 for PLAIN and SCRAM."""
    seeds = []
    for version in (0, 1):
        for mech, token in ((b"PLAIN", b"\0alice\0alice-pw"),
                            (b"SCRAM-SHA-256", b"n,,n=alice,r=abcdefghijklmnop")):
            handshake = request(17, version, 1, _str(mech))
            auth = request(36, version, 2, struct.pack(">i", len(token)) + token)
            raw = struct.pack(">i", len(token)) + token  # v0 handshake: bare token frame
            seeds.append(handshake + (raw if version == 0 else auth))
    return seeds


def client_hello():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


EXTREMES = [b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x80\x00\x00\x00",
            b"\x00\x00", b"\xff\xff", b"\x7f\xff", b"\x00\x01"]


def mutate(rng, data):
    data = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(5)
        if op == 0 and data:
            del data[rng.randrange(len(data)):]
        elif op == 1 and data:
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif op == 2 and data:
            at = rng.randrange(len(data))
            data[at:at + 4] = rng.choice(EXTREMES)
        elif op == 3:
            at = rng.randrange(len(data) + 1)
            data[at:at] = os.urandom(rng.randint(1, 64))
        else:
            at = rng.randrange(len(data) + 1)
            data[at:at] = data[:rng.randint(0, len(data))]
    return bytes(data)


def one_case(port, payload):
    """Sends `payload`, half-closes, and reads until the server closes. True when it did."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        try:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass
        except (ConnectionResetError, BrokenPipeError):
            pass
        except socket.timeout:
            return False
    return True


def test_bounded_sasl_and_tls_fuzz_never_crashes_the_server(server, pki):
    seed = int(os.environ.get("FUZZ_SEED", random.randrange(1 << 32)))
    print(f"FUZZ_SEED={seed}")
    rng = random.Random(seed)
    seeds, hello = sasl_seeds(), client_hello()
    cases = [(server.sasl_port, mutate(rng, rng.choice(seeds))) for _ in range(CASES)]
    cases += [(server.ssl_port, mutate(rng, hello)) for _ in range(CASES)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda c: one_case(*c), cases))
    hung = [c for c, closed in zip(cases, results) if not closed]
    assert not hung, f"seed {seed}: {len(hung)} connections neither answered nor closed, e.g. {hung[0]!r}"
    assert server.proc.poll() is None, f"seed {seed}: the server exited\n{server.log_text()[-3000:]}"
    assert "panicked" not in server.log_text(), f"seed {seed}: {server.log_text()[-3000:]}"
    # Good clients are still served on both listeners.
    assert confluent_produce(server, pki, "SCRAM-SHA-512", "alice-pw") is None
    plain = ck.Producer({"bootstrap.servers": f"127.0.0.1:{server.sasl_port}",
                         "security.protocol": "SASL_PLAINTEXT", "sasl.mechanisms": "SCRAM-SHA-256",
                         "sasl.username": "alice", "sasl.password": "alice-pw"})
    delivered = []
    plain.produce("after-fuzz", b"x", on_delivery=lambda e, m: delivered.append(e))
    plain.flush(30)
    assert delivered == [None], delivered
