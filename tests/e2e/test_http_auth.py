"""HTTP authentication, authorization and CORS against the real binary.

The server runs with `http_auth = "required"`, the ACL authorizer on, `metrics_require_auth`
and the bootstrap super user `STROM_BOOTSTRAP_USER=admin:...:SCRAM-SHA-256`. `admin` (Basic,
super user) may do everything; `User:alice` (an API key the admin creates for her, no ACLs)
is refused everything with 403; no credentials is 401. Each endpoint family (records, feeds,
Atom, SSE, WebSocket, REST Proxy, admin, metrics) is checked all three ways with curl,
requests and websockets. Then: wrong password (401 + challenge + audit line, no password in
the log), API keys, cookie login with CSRF, stream tokens on SSE (never in the log), and a
real browser (Debian chromium through playwright-core) calling Strom across origins.
"""

import base64
import json
import subprocess
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
import websockets.sync.client as ws_client

from conftest import ROOT, free_port

ADMIN = ("admin", "admin:pw")
NODE_DIR = ROOT / "tests" / "e2e" / "node"


def start(strom_factory, tmp_path, cors=()):
    config = tmp_path / "strom.toml"
    origins = ", ".join(f'"{o}"' for o in cors)
    config.write_text(
        'http_auth = "required"\n'
        "authorizer_enabled = true\n"
        "metrics_require_auth = true\n"
        "http_auth_failures_per_minute = 50\n"
        f"cors_allowed_origins = [{origins}]\n"
    )
    server = strom_factory(
        extra_args=["--config", str(config)],
        env={"STROM_BOOTSTRAP_USER": "admin:admin:pw:SCRAM-SHA-256"},
    )
    server.start()
    r = requests.post(f"{server.http}/v1/topics", json={"name": "a"}, auth=ADMIN)
    assert r.status_code == 201, r.text
    r = requests.post(f"{server.http}/v1/topics/a/records", auth=ADMIN,
                      json={"records": [{"value": {"n": 1}}]})
    assert r.status_code == 200, r.text
    return server


def api_key(server, principal=None, auth=ADMIN):
    body = {"name": "test"} if principal is None else {"name": "test", "principal": principal}
    r = requests.post(f"{server.http}/v1/api-keys", json=body, auth=auth)
    assert r.status_code == 201, r.text
    return r.json()


def curl(*args):
    out = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", *args],
                         capture_output=True, text=True, check=False)
    return int(out.stdout or 0)


def sse_first_event(url, headers, timeout=20):
    """Status and the first `data:` line of an SSE stream (curl -N)."""
    args = ["curl", "-sN", "--max-time", str(timeout), "-H", "Accept: text/event-stream",
            "-w", "\nSTATUS:%{http_code}\n"]
    for h in headers:
        args += ["-H", h]
    proc = subprocess.Popen([*args, url], stdout=subprocess.PIPE, text=True)
    data = None
    for line in proc.stdout:
        if line.startswith("data:"):
            data = line[5:].strip()
            proc.kill()
            break
        if line.startswith("STATUS:"):
            return int(line[7:]), None
    proc.wait()
    return 200, data


@pytest.mark.timeout(180)
def test_every_endpoint_family_needs_credentials_and_checks_acls(strom_factory, tmp_path):
    s = start(strom_factory, tmp_path)
    alice = api_key(s, "User:alice")["key"]
    families = [
        ("records", "GET", "/v1/topics/a/partitions/0/records", {}, None),
        ("produce", "POST", "/v1/topics/a/records", {}, {"records": [{"value": 2}]}),
        ("feed", "GET", "/feeds/a", {}, None),
        ("atom", "GET", "/feeds/a", {"Accept": "application/atom+xml"}, None),
        ("rest-proxy-read", "GET", "/topics/a", {}, None),
        ("rest-proxy-produce", "POST", "/topics/a",
         {"Content-Type": "application/vnd.kafka.json.v2+json"}, {"records": [{"value": 3}]}),
        ("rest-proxy-consumer", "POST", "/consumers/g1",
         {"Content-Type": "application/vnd.kafka.v2+json"}, {"name": "c1", "format": "json"}),
        ("admin", "GET", "/v1/topics/a", {}, None),
        ("metrics", "GET", "/metrics", {}, None),
    ]
    for name, method, path, headers, body in families:
        url = s.http + path
        anonymous = requests.request(method, url, headers=headers, json=body)
        assert anonymous.status_code == 401, (name, anonymous.text)
        assert anonymous.headers["Content-Type"] == "application/problem+json" or name.startswith("rest"), name
        denied = requests.request(method, url, headers={**headers, "Authorization": f"Bearer {alice}"}, json=body)
        assert denied.status_code == 403, (name, denied.text)
        allowed = requests.request(method, url, headers=headers, json=body, auth=ADMIN)
        assert allowed.status_code in (200, 204), (name, allowed.status_code, allowed.text)
    # Open routes stay open.
    assert requests.get(f"{s.http}/healthz").status_code == 200
    assert requests.get(f"{s.http}/readyz").status_code == 200
    # SSE with curl.
    assert sse_first_event(f"{s.http}/feeds/a", [], timeout=5)[0] == 401
    assert sse_first_event(f"{s.http}/feeds/a", [f"Authorization: Bearer {alice}"], timeout=5)[0] == 403
    basic = base64.b64encode(b"admin:admin:pw").decode()
    status, data = sse_first_event(f"{s.http}/feeds/a", [f"Authorization: Basic {basic}"])
    assert status == 200 and json.loads(data)["data"] == {"n": 1}, data
    # WebSocket: the upgrade needs credentials; each subscription is checked.
    ws_url = f"ws://127.0.0.1:{s.http_port}/v1/ws"
    with pytest.raises(Exception, match="401"):
        ws_client.connect(ws_url, open_timeout=10).close()
    with ws_client.connect(ws_url, additional_headers={"Authorization": f"Bearer {alice}"}) as ws:
        ws.send(json.dumps({"op": "subscribe", "topic": "a", "from": "beginning", "ref": 1}))
        reply = json.loads(ws.recv(timeout=10))
        assert reply["type"] == "error" and reply["status"] == 403, reply
    with ws_client.connect(ws_url, additional_headers={"Authorization": f"Basic {basic}"}) as ws:
        ws.send(json.dumps({"op": "subscribe", "topic": "a", "from": "beginning", "ref": 1}))
        assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"
        assert json.loads(ws.recv(timeout=10))["type"] == "event"
    # Topic lists leave out what alice may not describe.
    assert requests.get(f"{s.http}/v1/topics", headers={"X-API-Key": alice}).json() == []
    assert [t["name"] for t in requests.get(f"{s.http}/v1/topics", auth=ADMIN).json()] == ["a"]


def test_wrong_password_is_401_with_a_challenge_and_an_audit_line(strom_factory, tmp_path):
    s = start(strom_factory, tmp_path)
    r = requests.get(f"{s.http}/v1/topics", auth=("admin", "not-the-password-xyz"))
    assert r.status_code == 401
    assert r.headers["Content-Type"] == "application/problem+json"
    assert 'Basic realm="strom"' in r.headers["WWW-Authenticate"]
    assert curl("-u", "admin:admin:pw", f"{s.http}/v1/topics") == 200
    assert curl("-u", "admin:wrong", f"{s.http}/v1/topics") == 401
    s.stop()
    log = s.log_text()
    assert "strom::audit" in log and "authentication failed" in log, log[-2000:]
    assert "not-the-password-xyz" not in log


def test_api_keys_are_shown_once_listed_without_secrets_and_revocable(strom_factory, tmp_path):
    s = start(strom_factory, tmp_path)
    created = api_key(s)
    key = created["key"]
    assert key.startswith("strom_")
    assert curl("-H", f"X-API-Key: {key}", f"{s.http}/v1/topics/a") == 200
    assert curl("-H", f"Authorization: Bearer {key}", f"{s.http}/v1/topics/a") == 200
    listed = requests.get(f"{s.http}/v1/api-keys", auth=ADMIN).json()
    assert [k["id"] for k in listed] == [created["id"]]
    assert key not in json.dumps(listed) and "key" not in listed[0]
    # Keys survive a restart (digests in __strom_security).
    s.restart()
    assert curl("-H", f"X-API-Key: {key}", f"{s.http}/v1/topics/a") == 200
    r = requests.delete(f"{s.http}/v1/api-keys/{created['id']}", auth=ADMIN)
    assert r.status_code == 204, r.text
    assert curl("-H", f"X-API-Key: {key}", f"{s.http}/v1/topics/a") == 401


def test_cookie_login_and_csrf(strom_factory, tmp_path):
    s = start(strom_factory, tmp_path)
    session = requests.Session()
    r = session.post(f"{s.http}/v1/login", json={"username": "admin", "password": "wrong"})
    assert r.status_code == 401
    r = session.post(f"{s.http}/v1/login", json={"username": "admin", "password": "admin:pw"})
    assert r.status_code == 200, r.text
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    csrf = r.json()["csrf_token"]
    assert session.get(f"{s.http}/v1/topics/a").status_code == 200
    produce = f"{s.http}/v1/topics/a/records"
    body = {"records": [{"value": 9}]}
    # A forged cross-site POST: the browser sends the cookie but knows no CSRF token.
    forged = session.post(produce, json=body, headers={"Origin": "http://evil.example"})
    assert forged.status_code == 403, forged.text
    no_token = session.post(produce, json=body, headers={"Origin": s.http})
    assert no_token.status_code == 403
    ok = session.post(produce, json=body, headers={"Origin": s.http, "X-CSRF-Token": csrf})
    assert ok.status_code == 200, ok.text
    assert session.post(f"{s.http}/v1/logout").status_code == 204
    assert session.get(f"{s.http}/v1/topics/a").status_code == 401


def test_stream_token_opens_sse_and_is_never_logged(strom_factory, tmp_path):
    s = start(strom_factory, tmp_path)
    r = requests.post(f"{s.http}/v1/stream-tokens", json={"topic": "a"}, auth=ADMIN)
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    status, data = sse_first_event(f"{s.http}/feeds/a?access_token={token}", [])
    assert status == 200 and json.loads(data)["data"] == {"n": 1}, data
    assert curl(f"{s.http}/v1/topics/a?access_token={token}") == 401, "not accepted off the live routes"
    assert curl(f"{s.http}/feeds/a?access_token={token}x") == 401
    s.stop()
    assert token not in s.log_text()


class _Page(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve_page(directory):
    port = free_port()
    httpd = ThreadingHTTPServer(("127.0.0.1", port), partial(_Page, directory=str(directory)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{port}"


def browser(page_url, strom, key, token):
    out = subprocess.run(["node", str(NODE_DIR / "cors_browser.js"), page_url, strom, key, token],
                         capture_output=True, text=True, timeout=120, cwd=NODE_DIR)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.timeout(240)
def test_browser_cross_origin_feeds_sse_and_rest(strom_factory, tmp_path):
    (tmp_path / "index.html").write_text("<!doctype html><title>app</title>")
    allowed_httpd, allowed = serve_page(tmp_path)
    other_httpd, other = serve_page(tmp_path)
    try:
        s = start(strom_factory, tmp_path, cors=[allowed])
        key = api_key(s)["key"]
        token = requests.post(f"{s.http}/v1/stream-tokens", json={"topic": "a"}, auth=ADMIN).json()["token"]
        ok = browser(f"{allowed}/index.html", s.http, key, token)
        assert ok == {"produce": "ok:200", "feed": "ok:200:2", "sse": "ok:true"}, ok
        refused = browser(f"{other}/index.html", s.http, key, token)
        assert all(v.startswith("error:") for v in refused.values()), refused
    finally:
        allowed_httpd.shutdown()
        other_httpd.shutdown()
