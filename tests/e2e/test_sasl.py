"""SASL on a SASL_PLAINTEXT Kafka listener with real clients: PLAIN / SCRAM-SHA-256 /
SCRAM-SHA-512 with confluent-kafka, kafka-python (SaslHandshake v0, raw tokens), kafkajs and
kcat, right and wrong passwords; users created with KIP-554 AlterUserScramCredentials and
described without secrets; users surviving SIGKILL; KIP-368 re-authentication (confluent-kafka
re-authenticates on its connection, kcat's librdkafka 2.0.2 cannot and is disconnected); the
audit line and the per-IP throttle of failed authentications."""

import json
import re
import struct
import subprocess
import time
from pathlib import Path

import confluent_kafka as ck
import pytest
from confluent_kafka.admin import (
    AdminClient,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from conftest import free_port
from kafka_support import wait_for_log, write_config

NODE_DIR = Path(__file__).resolve().parent / "node"
ADMIN = ("admin", "admin-pw")
MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
WRONG = "Wr0ng-Passw0rd"


def start(strom_factory, tmp_path, name="data", **settings):
    sasl_port = free_port()
    config = write_config(tmp_path, sasl_plain_allow_plaintext=True, **settings)
    server = strom_factory(
        extra_args=["--config", str(config), "--kafka-sasl-listen", f"127.0.0.1:{sasl_port}"],
        env={"STROM_BOOTSTRAP_USER": f"{ADMIN[0]}:{ADMIN[1]}:SCRAM-SHA-512"},
        name=name,
    )
    server.sasl_port = sasl_port
    server.sasl_bootstrap = f"127.0.0.1:{sasl_port}"
    return server.start()


def sasl_conf(server, mechanism, user, password, **extra):
    conf = {
        "bootstrap.servers": server.sasl_bootstrap,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanisms": mechanism,
        "sasl.username": user,
        "sasl.password": password,
    }
    conf.update(extra)
    return conf


def add_user(server, user, password, mechanisms=(ScramMechanism.SCRAM_SHA_256, ScramMechanism.SCRAM_SHA_512)):
    admin = AdminClient(sasl_conf(server, "SCRAM-SHA-512", *ADMIN))
    upserts = [
        UserScramCredentialUpsertion(user, ScramCredentialInfo(m, 8192), password.encode())
        for m in mechanisms
    ]
    for future in admin.alter_user_scram_credentials(upserts).values():
        future.result(timeout=30)
    return admin


def confluent_login(server, mechanism, user, password):
    """Lists topics over SASL; returns None on success or the authentication error text."""
    errors = []
    admin = AdminClient(sasl_conf(server, mechanism, user, password, error_cb=lambda e: errors.append(e)))
    try:
        admin.list_topics(timeout=15)
        return None
    except ck.KafkaException as e:
        admin.poll(1)  # serves error_cb, which carries the server's message
        return " | ".join([str(e)] + [str(x) for x in errors])


@pytest.fixture
def server(strom_factory, tmp_path):
    s = start(strom_factory, tmp_path)
    add_user(s, "alice", "alice-pw")
    return s


def test_confluent_kafka_all_mechanisms_right_and_wrong(server):
    for mechanism in MECHANISMS:
        assert confluent_login(server, mechanism, "alice", "alice-pw") is None, mechanism
        producer = ck.Producer(sasl_conf(server, mechanism, "alice", "alice-pw"))
        delivered = []
        producer.produce("sasl-confluent", value=mechanism.encode(), on_delivery=lambda e, m: delivered.append(e))
        assert producer.flush(30) == 0
        assert delivered == [None], delivered
        err = confluent_login(server, mechanism, "alice", WRONG)
        assert err is not None and "Invalid user credentials" in err, (mechanism, err)
    # The audit line names the user tried, the client IP, the listener and the mechanism.
    assert re.search(
        r"strom::audit.*authentication failed.*principal=\"?alice.*client=127\.0\.0\.1.*"
        r"listener=SASL_PLAINTEXT.*mechanism=\"?SCRAM-SHA-512",
        server.log_text(),
    ), server.log_text()[-3000:]
    assert WRONG not in server.log_text() and "alice-pw" not in server.log_text(), "no password in the log"


def test_kafka_python_v0_handshake_all_mechanisms(server):
    from kafka import KafkaProducer
    from kafka.errors import NoBrokersAvailable

    for mechanism in MECHANISMS:
        producer = KafkaProducer(
            bootstrap_servers=server.sasl_bootstrap, security_protocol="SASL_PLAINTEXT",
            sasl_mechanism=mechanism, sasl_plain_username="alice", sasl_plain_password="alice-pw",
            api_version_auto_timeout_ms=15000,
        )
        producer.send("sasl-kafka-python", mechanism.encode()).get(timeout=30)
        producer.close()
        before = server.log_text().count("authentication failed")
        with pytest.raises(NoBrokersAvailable):
            KafkaProducer(
                bootstrap_servers=server.sasl_bootstrap, security_protocol="SASL_PLAINTEXT",
                sasl_mechanism=mechanism, sasl_plain_username="alice", sasl_plain_password=WRONG,
                api_version_auto_timeout_ms=5000,
            )
        assert server.log_text().count("authentication failed") > before, mechanism


def test_kafkajs_all_mechanisms_right_and_wrong(server):
    def run(mechanism, password):
        out = subprocess.run(
            ["node", str(NODE_DIR / "kafkajs_sasl.js"), server.sasl_bootstrap, mechanism, "alice",
             password, "sasl-kafkajs"],
            capture_output=True, text=True, timeout=120,
        )
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)

    for mechanism in ["plain", "scram-sha-256", "scram-sha-512"]:
        assert run(mechanism, "alice-pw") == {"ok": True}, mechanism
        failed = run(mechanism, WRONG)
        assert not failed["ok"] and "Invalid user credentials" in failed["error"], failed


def test_kcat_all_mechanisms_right_and_wrong(server):
    def kcat(mechanism, password):
        return subprocess.run(
            ["kcat", "-b", server.sasl_bootstrap, "-X", "security.protocol=SASL_PLAINTEXT",
             "-X", f"sasl.mechanisms={mechanism}", "-X", "sasl.username=alice",
             "-X", f"sasl.password={password}", "-m", "10", "-L"],
            capture_output=True, text=True, timeout=60,
        )

    for mechanism in MECHANISMS:
        ok = kcat(mechanism, "alice-pw")
        assert ok.returncode == 0 and "1 brokers" in ok.stdout, (mechanism, ok.stderr)
        bad = kcat(mechanism, WRONG)
        assert bad.returncode != 0 and "Invalid user credentials" in bad.stderr, (mechanism, bad.stderr)


def test_unknown_mechanism_and_metadata_before_authentication(server):
    from kafka_support import Wire
    from kafka.protocol.admin import SaslHandShakeRequest
    from kafka.protocol.metadata import MetadataRequest

    wire = Wire(server.sasl_port)
    wire.send(MetadataRequest[1](topics=None))
    assert wire.closed_by_server(wait=10)
    assert wait_for_log(server, "Unexpected Kafka request of type Metadata during SASL handshake")
    wire = Wire(server.sasl_port)
    request = SaslHandShakeRequest[1]("GSSAPI")
    wire.send(request)
    _, response = wire.recv(request)
    assert response.error_code == 33
    assert response.enabled_mechanisms == ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN", "OAUTHBEARER"]
    assert wire.closed_by_server(wait=10)


def test_scram_admin_api_creates_users_that_log_in_and_survive_sigkill(server):
    admin = add_user(server, "bob", "bob-pw", mechanisms=(ScramMechanism.SCRAM_SHA_256,))
    described = admin.describe_user_scram_credentials().result(timeout=30)
    bob = described["bob"]
    assert [(i.mechanism, i.iterations) for i in bob.scram_credential_infos] == [
        (ScramMechanism.SCRAM_SHA_256, 8192)
    ]
    assert set(vars(bob.scram_credential_infos[0])) == {"mechanism", "iterations"}, "no secrets"
    assert {"admin", "alice", "bob"} <= set(described)
    assert confluent_login(server, "SCRAM-SHA-256", "bob", "bob-pw") is None
    # bob has no SCRAM-SHA-512 credential, but PLAIN checks any of his credentials.
    assert "Invalid user credentials" in confluent_login(server, "SCRAM-SHA-512", "bob", "bob-pw")
    assert confluent_login(server, "PLAIN", "bob", "bob-pw") is None
    server.kill()
    server.start()
    assert confluent_login(server, "SCRAM-SHA-256", "bob", "bob-pw") is None
    assert confluent_login(server, "SCRAM-SHA-512", *ADMIN) is None


def raw_plain_login(port, user, password):
    """SaslHandshake v1 + SaslAuthenticate v0 with PLAIN over a raw socket; returns
    (error_code, error_message)."""
    from kafka_support import Wire
    from kafka.protocol.admin import SaslAuthenticateRequest, SaslHandShakeRequest

    wire = Wire(port)
    try:
        handshake = SaslHandShakeRequest[1]("PLAIN")
        wire.send(handshake)
        _, response = wire.recv(handshake)
        assert response.error_code == 0
        auth = SaslAuthenticateRequest[0](f"\0{user}\0{password}".encode())
        wire.send(auth)
        _, response = wire.recv(auth)
        return response.error_code, response.error_message
    finally:
        wire.close()


def test_a_wrong_password_loop_is_throttled(server):
    from concurrent.futures import ThreadPoolExecutor

    # Wrong passwords 30 at once from one IP: 10 per second are checked, the rest refused.
    # On a loaded machine one batch can take longer than the window it would exhaust, so
    # batches are sent until one is throttled; a server that never throttles fails.
    results, throttled = [], []
    with ThreadPoolExecutor(max_workers=30) as pool:
        for _ in range(10):
            batch = list(pool.map(lambda _: raw_plain_login(server.sasl_port, "alice", WRONG), range(30)))
            results += batch
            throttled += [m for _, m in batch if "too many failed authentications" in m]
            if throttled:
                break
    assert all(code == 58 for code, _ in results), results
    checked = [m for _, m in results if "Invalid user credentials" in m]
    assert len(checked) + len(throttled) == len(results), results
    assert len(checked) >= 10 and throttled, results
    assert wait_for_log(server, "authentication failed")
    failures = server.log_text().count("authentication failed")
    assert failures >= len(results), "every failure, throttled or not, has its audit line"


def auth_lines(server, user="alice"):
    return re.findall(
        rf"SASL authentication succeeded peer=(\S+) listener=\S+ principal=User:{user} reauth=(true|false)",
        server.log_text(),
    )


@pytest.mark.timeout(180)
def test_confluent_kafka_reauthenticates_without_reconnecting(strom_factory, tmp_path):
    server = start(strom_factory, tmp_path, name="reauth", connections_max_reauth_ms=5000)
    add_user(server, "alice", "alice-pw")
    start_lines = len(auth_lines(server))
    producer = ck.Producer(sasl_conf(server, "SCRAM-SHA-256", "alice", "alice-pw", **{"linger.ms": 0}))
    delivered = []
    deadline = time.time() + 20
    sent = 0
    while time.time() < deadline:
        producer.produce("reauth", value=b"x", on_delivery=lambda e, m: delivered.append(e))
        sent += 1
        producer.poll(0.2)
    assert producer.flush(30) == 0
    assert delivered == [None] * sent
    lines = auth_lines(server)[start_lines:]
    initial = {peer for peer, reauth in lines if reauth == "false"}
    reauths = [peer for peer, reauth in lines if reauth == "true"]
    assert len(reauths) >= 3, lines
    assert set(reauths) <= initial, lines
    assert len(initial) <= 2, f"the producer reconnected: {lines}"
    assert "SASL session expired" not in server.log_text()


@pytest.mark.timeout(180)
def test_kcat_without_reauthentication_is_disconnected_and_reconnects(strom_factory, tmp_path):
    server = start(strom_factory, tmp_path, name="kcat-reauth", connections_max_reauth_ms=3000)
    add_user(server, "alice", "alice-pw")
    producer = ck.Producer({"bootstrap.servers": server.bootstrap})
    producer.produce("kcat-reauth", value=b"m0")
    assert producer.flush(10) == 0
    consumer = subprocess.Popen(
        ["kcat", "-b", server.sasl_bootstrap, "-X", "security.protocol=SASL_PLAINTEXT",
         "-X", "sasl.mechanisms=SCRAM-SHA-256", "-X", "sasl.username=alice",
         "-X", "sasl.password=alice-pw", "-C", "-t", "kcat-reauth", "-o", "beginning", "-c", "12", "-E",
         "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    for i in range(1, 12):
        producer.produce("kcat-reauth", value=f"m{i}".encode())
        producer.flush(10)
        time.sleep(1)
    out, err = consumer.communicate(timeout=120)
    assert consumer.returncode == 0, err
    assert out.split() == [f"m{i}" for i in range(12)]
    assert "SASL session expired" in server.log_text()
