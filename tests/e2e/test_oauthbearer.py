"""SASL/OAUTHBEARER with real clients against the real binary: an RS256 key made here, its
JWKS written for Strom, tokens signed with PyJWT. confluent-kafka's `oauth_cb` with a valid
token produces and consumes; expired, wrong-audience, wrong-issuer and forged tokens are refused
with the server's reason; kcat's unsecured JWT (`alg: none`) works only when
`allow_unsecured_jwt` is on. Needs the SASL listener (`kafka_sasl_listen`, the sasl branch)."""

import base64
import json
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import confluent_kafka as ck
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import free_port, wait_for_port

ISSUER = "https://idp.strom.test"
AUDIENCE = "strom"
NODE_DIR = Path(__file__).resolve().parent / "node"


def b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def keys():
    good = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = good.public_key().public_numbers()
    jwks = {"keys": [{"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
                      "n": b64(numbers.n), "e": b64(numbers.e)}]}
    return good, other, jwks


def token(key, kid="k1", **overrides):
    now = int(time.time())
    claims = {"sub": "alice", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600,
              "scope": "kafka"}
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid}), claims["exp"]


def start(strom_factory, tmp_path, keys, name, allow_unsecured=False, pki=None):
    """A server with a SASL_PLAINTEXT listener (and a SASL_SSL one with `pki`)."""
    _, _, jwks = keys
    jwks_path = tmp_path / f"{name}-jwks.json"
    jwks_path.write_text(json.dumps(jwks))
    sasl_port, ssl_port = free_port(), free_port()
    tls_listener = "" if pki is None else (
        "[[kafka_listeners]]\n"
        'name = "SASL_SSL"\nprotocol = "SASL_SSL"\n'
        f'listen = "127.0.0.1:{ssl_port}"\nadvertised = "localhost:{ssl_port}"\n'
        f'ssl = {{ cert_file = "{pki.server_cert}", key_file = "{pki.server_key}" }}\n')
    config = tmp_path / f"{name}.toml"
    config.write_text(
        f'kafka_sasl_listen = "127.0.0.1:{sasl_port}"\n'
        + tls_listener +
        "[oauth]\n"
        f'jwks_file = "{jwks_path}"\n'
        f'expected_issuer = "{ISSUER}"\n'
        f'expected_audience = "{AUDIENCE}"\n'
        f"allow_unsecured_jwt = {'true' if allow_unsecured else 'false'}\n"
    )
    server = strom_factory(extra_args=["--config", str(config)], name=name).start()
    wait_for_port(sasl_port, server.proc)
    server.sasl_bootstrap = f"127.0.0.1:{sasl_port}"
    server.ssl_bootstrap = f"localhost:{ssl_port}"
    return server


def client_config(server, token_and_expiry, errors):
    return {
        "bootstrap.servers": server.sasl_bootstrap,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "OAUTHBEARER",
        "oauth_cb": lambda _config: token_and_expiry,
        "error_cb": errors.append,
    }


def test_valid_token_produces_and_consumes(strom_factory, tmp_path, keys):
    server = start(strom_factory, tmp_path, keys, "valid")
    errors = []
    good, _, _ = keys
    config = client_config(server, token(good), errors)
    topic = f"oauth-{uuid.uuid4().hex[:8]}"
    producer = ck.Producer(config)
    delivered = []
    producer.produce(topic, b"hello", on_delivery=lambda err, msg: delivered.append(err))
    assert producer.flush(30) == 0
    assert delivered == [None], errors
    consumer = ck.Consumer({**config, "group.id": "g-oauth", "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    deadline = time.time() + 60
    message = None
    while message is None and time.time() < deadline:
        polled = consumer.poll(1.0)
        if polled is not None and polled.error() is None:
            message = polled
    consumer.close()
    assert message is not None and message.value() == b"hello", errors
    assert not [e for e in errors if e.code() == ck.KafkaError._AUTHENTICATION]


@pytest.mark.parametrize("case,reason", [
    ("expired", "the token has expired"),
    ("audience", "audience does not include this server"),
    ("issuer", "issuer is not the expected one"),
    ("forged", "signature is invalid"),
    ("unknown_kid", "key id is unknown"),
])
def test_bad_tokens_are_refused_with_the_reason(strom_factory, tmp_path, keys, case, reason):
    server = start(strom_factory, tmp_path, keys, f"bad-{case}")
    good, other, _ = keys
    now = int(time.time())
    bad = {
        # The client is told a future expiry (librdkafka refuses a token it knows has
        # expired, before sending it); the server must see the JWT's own `exp`.
        "expired": lambda: (token(good, iat=now - 7200, exp=now - 3600)[0], now + 300),
        "audience": lambda: token(good, aud="someone-else"),
        "issuer": lambda: token(good, iss="https://evil.test"),
        "forged": lambda: token(other),
        "unknown_kid": lambda: token(other, kid="k9"),
    }[case]()
    errors = []
    producer = ck.Producer(client_config(server, bad, errors))
    deadline = time.time() + 60
    while not errors and time.time() < deadline:
        producer.poll(0.5)
    auth = [e for e in errors if e.code() == ck.KafkaError._AUTHENTICATION]
    assert auth, errors
    assert reason in auth[0].str(), auth[0].str()
    assert "alice" not in auth[0].str()


def kcat_unsecured(server):
    if shutil.which("kcat") is None:
        pytest.fail("kcat is not installed (tests/install-deps.sh)")
    return subprocess.run(
        ["kcat", "-b", server.sasl_bootstrap, "-L", "-m", "15",
         "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanism=OAUTHBEARER",
         "-X", "enable.sasl.oauthbearer.unsecure.jwt=true",
         "-X", "sasl.oauthbearer.config=principal=alice scope=kafka lifeSeconds=600"],
        capture_output=True, text=True, timeout=60,
    )


def test_kcat_unsecured_jwt_is_refused_by_default(strom_factory, tmp_path, keys):
    server = start(strom_factory, tmp_path, keys, "strict")
    result = kcat_unsecured(server)
    assert result.returncode != 0, result.stdout
    assert "unsigned tokens (alg none) are not accepted" in result.stderr, result.stderr


def test_kcat_unsecured_jwt_works_when_allowed(strom_factory, tmp_path, keys):
    server = start(strom_factory, tmp_path, keys, "dev", allow_unsecured=True)
    result = kcat_unsecured(server)
    assert result.returncode == 0, result.stderr
    assert "1 brokers:" in result.stdout
    assert "allow_unsecured_jwt is ON" in server.log_text()


def test_kafka_python_and_kafkajs_with_right_and_wrong_tokens(strom_factory, tmp_path, keys):
    from kafka import KafkaProducer
    from kafka.errors import AuthenticationFailedError
    from kafka.oauth.abstract import AbstractTokenProvider

    class Provider(AbstractTokenProvider):
        def __init__(self, jwt_text):
            super().__init__()
            self.jwt_text = jwt_text

        def token(self):
            return self.jwt_text

    server = start(strom_factory, tmp_path, keys, "clients")
    good, other, _ = keys
    valid, forged = token(good)[0], token(other)[0]
    producer = KafkaProducer(bootstrap_servers=server.sasl_bootstrap, security_protocol="SASL_PLAINTEXT",
                             sasl_mechanism="OAUTHBEARER", sasl_oauth_token_provider=Provider(valid),
                             api_version_auto_timeout_ms=15000)
    producer.send("oauth-clients", b"kafka-python").get(timeout=30)
    producer.close()
    before = server.log_text().count("authentication failed")
    # kafka-python 2.0 (SaslHandshake v0) reads the server's RFC 7628 error challenge as an
    # unrecognized answer and gives up.
    with pytest.raises(AuthenticationFailedError):
        KafkaProducer(bootstrap_servers=server.sasl_bootstrap, security_protocol="SASL_PLAINTEXT",
                      sasl_mechanism="OAUTHBEARER", sasl_oauth_token_provider=Provider(forged),
                      api_version_auto_timeout_ms=5000)
    assert server.log_text().count("authentication failed") > before
    assert "signature is invalid" in server.log_text()
    for jwt_text, ok in ((valid, True), (forged, False)):
        before = server.log_text().count("authentication failed")
        out = subprocess.run(
            ["node", str(NODE_DIR / "kafkajs_sasl.js"), server.sasl_bootstrap, "oauthbearer", "alice",
             jwt_text, "oauth-clients"],
            capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        result = json.loads(out.stdout)
        assert result["ok"] is ok, result
        # kafkajs takes the error challenge for success and sends its next request, which
        # closes the connection (as Kafka does): it only sees "Closed connection"; the
        # server's audit line has the reason.
        assert (server.log_text().count("authentication failed") > before) is not ok
    assert valid not in server.log_text() and forged not in server.log_text(), "no token in the log"


def test_confluent_kafka_over_sasl_ssl_with_right_and_wrong_tokens(strom_factory, tmp_path, keys):
    from tls_support import Pki

    pki = Pki(tmp_path / "pki")
    server = start(strom_factory, tmp_path, keys, "tls", pki=pki)
    good, other, _ = keys
    tls = {"bootstrap.servers": server.ssl_bootstrap, "security.protocol": "SASL_SSL",
           "ssl.ca.location": str(pki.ca)}
    errors = []
    producer = ck.Producer({**client_config(server, token(good), errors), **tls})
    delivered = []
    producer.produce("oauth-tls", b"over-tls", on_delivery=lambda err, msg: delivered.append(err))
    assert producer.flush(30) == 0
    assert delivered == [None], errors
    errors = []
    bad = ck.Producer({**client_config(server, token(other), errors), **tls})
    deadline = time.time() + 60
    while not errors and time.time() < deadline:
        bad.poll(0.5)
    auth = [e for e in errors if e.code() == ck.KafkaError._AUTHENTICATION]
    assert auth and "signature is invalid" in auth[0].str(), errors


def test_kafka_python_and_kafkajs_over_sasl_ssl_with_right_and_wrong_tokens(strom_factory, tmp_path,
                                                                            keys):
    """OAUTHBEARER inside TLS: kafka-python's `sasl_oauth_token_provider` and kafkajs's
    `oauthBearerProvider` verify the server certificate against the test CA, log in with a
    valid token and produce; a token signed by another key is refused (audit line with the
    reason) and no token reaches the log."""
    from kafka import KafkaProducer
    from kafka.errors import AuthenticationFailedError
    from kafka.oauth.abstract import AbstractTokenProvider
    from tls_support import Pki

    class Provider(AbstractTokenProvider):
        def __init__(self, jwt_text):
            super().__init__()
            self.jwt_text = jwt_text

        def token(self):
            return self.jwt_text

    pki = Pki(tmp_path / "pki")
    server = start(strom_factory, tmp_path, keys, "tls-clients", pki=pki)
    good, other, _ = keys
    valid, forged = token(good)[0], token(other)[0]
    tls = dict(bootstrap_servers=server.ssl_bootstrap, security_protocol="SASL_SSL",
               ssl_cafile=str(pki.ca), ssl_check_hostname=True, sasl_mechanism="OAUTHBEARER")
    producer = KafkaProducer(sasl_oauth_token_provider=Provider(valid),
                             api_version_auto_timeout_ms=15000, **tls)
    producer.send("oauth-tls-clients", b"kafka-python").get(timeout=30)
    producer.close()
    before = server.log_text().count("authentication failed")
    with pytest.raises(AuthenticationFailedError):
        KafkaProducer(sasl_oauth_token_provider=Provider(forged), api_version_auto_timeout_ms=5000,
                      **tls)
    assert server.log_text().count("authentication failed") > before
    for jwt_text, ok in ((valid, True), (forged, False)):
        before = server.log_text().count("authentication failed")
        out = subprocess.run(
            ["node", str(NODE_DIR / "kafkajs_sasl.js"), server.ssl_bootstrap, "oauthbearer", "alice",
             jwt_text, "oauth-tls-clients", str(pki.ca)],
            capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        result = json.loads(out.stdout)
        assert result["ok"] is ok, result
        assert (server.log_text().count("authentication failed") > before) is not ok
    log = server.log_text()
    assert log.count("signature is invalid") >= 2 and "listener=SASL_SSL" in log
    assert valid not in log and forged not in log, "no token in the log"
    # Both clients' records arrived over TLS, as the authenticated principal.
    consumer = ck.Consumer({"bootstrap.servers": server.ssl_bootstrap, "security.protocol": "SASL_SSL",
                            "ssl.ca.location": str(pki.ca), "sasl.mechanism": "OAUTHBEARER",
                            "oauth_cb": lambda _config: token(good), "group.id": "g-oauth-tls",
                            "auto.offset.reset": "earliest"})
    consumer.subscribe(["oauth-tls-clients"])
    values, deadline = [], time.time() + 60
    while len(values) < 2 and time.time() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and msg.error() is None:
            values.append(msg.value())
    consumer.close()
    assert sorted(values) == [b"kafka-python", b"kafkajs-oauthbearer"], values
