"""Users over HTTP and the CLI: `strom user add` (password from standard input or
STROM_USER_PASSWORD, never argv) creates a SCRAM user that then logs in over SASL, `strom user
list` shows mechanisms and iterations only, `strom user delete` removes it, and `/v1/users`
validates its input."""

import json
import subprocess

import requests

from conftest import strom_binary
from test_sasl import confluent_login, start


def cli(server, *args, stdin=None, env=None):
    import os

    return subprocess.run(
        [strom_binary(), "user", *args, "--server", server.http],
        input=stdin, capture_output=True, text=True, timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_user_add_list_delete_over_the_cli(strom_factory, tmp_path):
    server = start(strom_factory, tmp_path)
    added = cli(server, "add", "bob", "--mechanism", "SCRAM-SHA-256", stdin="bob-pw\n")
    assert added.returncode == 0, added.stderr
    assert "bob-pw" not in server.log_text()
    assert confluent_login(server, "SCRAM-SHA-256", "bob", "bob-pw") is None
    assert "Invalid user credentials" in confluent_login(server, "SCRAM-SHA-256", "bob", "nope")

    env_added = cli(server, "add", "carol", "--iterations", "8192", env={"STROM_USER_PASSWORD": "c-pw"})
    assert env_added.returncode == 0, env_added.stderr
    assert confluent_login(server, "SCRAM-SHA-512", "carol", "c-pw") is None

    listed = cli(server, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    users = {u["name"]: u["credentials"] for u in json.loads(listed.stdout)}
    assert users["bob"] == [{"mechanism": "SCRAM-SHA-256", "iterations": 4096}]
    assert users["carol"] == [{"mechanism": "SCRAM-SHA-512", "iterations": 8192}]
    assert users["admin"] == [{"mechanism": "SCRAM-SHA-512", "iterations": 4096}], "bootstrap user"
    table = cli(server, "list")
    assert "bob" in table.stdout and "SCRAM-SHA-256" in table.stdout

    deleted = cli(server, "delete", "bob")
    assert deleted.returncode == 0, deleted.stderr
    assert "Invalid user credentials" in confluent_login(server, "SCRAM-SHA-256", "bob", "bob-pw")
    again = cli(server, "delete", "bob")
    assert again.returncode != 0 and "404" in again.stderr

    empty = cli(server, "add", "dave", stdin="")
    assert empty.returncode != 0 and "no password" in empty.stderr


def test_users_http_api_validates_and_never_returns_secrets(strom_factory, tmp_path):
    server = start(strom_factory, tmp_path)
    url = f"{server.http}/v1/users/eve"
    bad_iterations = requests.put(url, json={"mechanism": "SCRAM-SHA-256", "password": "p", "iterations": 10})
    assert bad_iterations.status_code == 422, bad_iterations.text
    bad_mechanism = requests.put(url, json={"mechanism": "MD5", "password": "p"})
    assert bad_mechanism.status_code == 422
    assert requests.put(url, json={"mechanism": "SCRAM-SHA-512", "password": "p"}).status_code == 204
    body = requests.get(f"{server.http}/v1/users").text
    for secret in ("salt", "stored", "server_key", '"p"'):
        assert secret not in body, body
    assert requests.delete(url, params={"mechanism": "SCRAM-SHA-256"}).status_code == 404
    assert requests.delete(url, params={"mechanism": "SCRAM-SHA-512"}).status_code == 204
