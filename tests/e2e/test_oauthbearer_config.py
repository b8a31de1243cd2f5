"""The `[oauth]` section of the configuration file against the real binary: a valid section
starts the server; signing keys without an expected issuer or audience, a malformed JWKS URL or
an unknown key refuse to start with exit code 78 and a message naming the setting; unverified
issuer and audience are accepted only when said explicitly. (Token checks over SASL:
test_oauthbearer.py.)"""

import json

import pytest

JWKS = {"keys": [{"kty": "EC", "kid": "e1", "crv": "P-256",
                  "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                  "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}


def start_with(strom_factory, tmp_path, oauth: str, name: str):
    (tmp_path / "jwks.json").write_text(json.dumps(JWKS))
    config = tmp_path / f"{name}.toml"
    config.write_text("[oauth]\n" + oauth.replace("JWKS", str(tmp_path / "jwks.json")))
    return strom_factory(extra_args=["--config", str(config)], name=name)


def test_a_complete_oauth_section_starts(strom_factory, tmp_path):
    server = start_with(strom_factory, tmp_path, 'jwks_file = "JWKS"\n'
                        'expected_issuer = "https://idp.test"\nexpected_audience = ["strom", "kafka"]\n', "ok")
    server.start()
    assert server.proc.poll() is None


@pytest.mark.parametrize("oauth,message", [
    ('jwks_file = "JWKS"\nexpected_audience = "strom"\n', "oauth.expected_issuer is required"),
    ('jwks_file = "JWKS"\nexpected_issuer = "https://idp.test"\n', "oauth.expected_audience is required"),
    ('jwks_url = "ftp://idp.test/jwks"\nexpected_issuer = "i"\nexpected_audience = "a"\n', "oauth.jwks_url must be"),
    ('jwks_file = "JWKS"\nexpected_issuer = "i"\nexpected_audience = "a"\nprincipal_clam = "x"\n', "principal_clam"),
])
def test_incomplete_oauth_settings_refuse_to_start(strom_factory, tmp_path, oauth, message):
    server = start_with(strom_factory, tmp_path, oauth, "bad")
    with pytest.raises(RuntimeError):
        server.start()
    assert server.proc.returncode == 78
    assert message in server.log_text(), server.log_text()


def test_unverified_issuer_and_audience_must_be_explicit(strom_factory, tmp_path):
    server = start_with(strom_factory, tmp_path, 'jwks_file = "JWKS"\n'
                        "allow_unverified_issuer = true\nallow_unverified_audience = true\n", "loose")
    server.start()
    assert server.proc.poll() is None
