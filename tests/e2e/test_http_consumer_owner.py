"""REST Proxy v2 consumer instances are bound to the principal that created them.

The server runs with `http_auth = "required"` and the ACL authorizer on; `alice` and `bob`
(API keys) both may Read topic `a` and group `g`. Alice creates an instance; bob, who learns
its URL, is refused (403, REST Proxy error shape) on every instance route: subscribe, read
the subscription, assignments, seek, fetch records, commit, read committed offsets,
unsubscribe, delete. Alice herself, and the super user `admin`, are served; once alice's Read
ACL on the topic is removed, her next fetch is refused too.
"""

import requests

ADMIN = ("admin", "admin:pw")
V2 = "application/vnd.kafka.v2+json"


def start(strom_factory, tmp_path):
    config = tmp_path / "strom.toml"
    config.write_text('http_auth = "required"\nauthorizer_enabled = true\n')
    server = strom_factory(
        extra_args=["--config", str(config)],
        env={"STROM_BOOTSTRAP_USER": "admin:admin:pw:SCRAM-SHA-256"},
    ).start()
    r = requests.post(f"{server.http}/v1/topics", json={"name": "a"}, auth=ADMIN, timeout=10)
    assert r.status_code == 201, r.text
    r = requests.post(f"{server.http}/v1/topics/a/records", auth=ADMIN, timeout=10,
                      json={"records": [{"value": {"n": 1}}]})
    assert r.status_code == 200, r.text
    acls = [{"resource_type": rt, "resource_name": name, "principal": f"User:{who}",
             "operation": "READ", "permission": "ALLOW"}
            for who in ("alice", "bob") for rt, name in (("TOPIC", "a"), ("GROUP", "g"))]
    acls += [{"resource_type": "GROUP", "resource_name": "g", "principal": f"User:{who}",
              "operation": "DESCRIBE", "permission": "ALLOW"} for who in ("alice", "bob")]
    r = requests.post(f"{server.http}/v1/acls", json={"acls": acls}, auth=ADMIN, timeout=10)
    assert r.status_code == 201, r.text
    return server


def key_for(server, who):
    r = requests.post(f"{server.http}/v1/api-keys", auth=ADMIN, timeout=10,
                      json={"name": who, "principal": f"User:{who}"})
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['key']}"}


def instance_calls(base):
    """Every instance route: (method, url, body)."""
    tp = {"partitions": [{"topic": "a", "partition": 0}]}
    return [
        ("POST", f"{base}/subscription", {"topics": ["a"]}),
        ("GET", f"{base}/subscription", None),
        ("GET", f"{base}/assignments", None),
        ("POST", f"{base}/positions", {"offsets": [{"topic": "a", "partition": 0, "offset": 0}]}),
        ("POST", f"{base}/positions/beginning", tp),
        ("POST", f"{base}/positions/end", tp),
        ("GET", f"{base}/records?timeout=100", None),
        ("POST", f"{base}/offsets", {"offsets": [{"topic": "a", "partition": 0, "offset": 0}]}),
        ("GET", f"{base}/offsets", None),
        ("DELETE", f"{base}/subscription", None),
        ("DELETE", base, None),
    ]


def call(method, url, headers, body):
    h = {**headers, "Content-Type": V2, "Accept": "application/vnd.kafka.json.v2+json"}
    return requests.request(method, url, headers=h, json=body, timeout=30)


def test_another_principal_cannot_use_an_instance_it_did_not_create(strom_factory, tmp_path):
    s = start(strom_factory, tmp_path)
    alice, bob = key_for(s, "alice"), key_for(s, "bob")
    r = call("POST", f"{s.http}/consumers/g", alice,
             {"name": "c1", "format": "json", "auto.offset.reset": "earliest"})
    assert r.status_code == 200, r.text
    base = f"{s.http}/consumers/g/instances/c1"
    # Subscribe as alice so every later route has something to act on.
    assert call("POST", f"{base}/subscription", alice, {"topics": ["a"]}).status_code == 204
    for method, url, body in instance_calls(base):
        r = call(method, url, bob, body)
        assert r.status_code == 403, (method, url, r.status_code, r.text)
        assert r.json()["error_code"] == 40301, r.text
        assert "another principal" in r.json()["message"], r.text
    # Alice still owns a working instance: her records arrive.
    records = []
    for _ in range(50):
        r = call("GET", f"{base}/records?timeout=500", alice, None)
        assert r.status_code == 200, r.text
        records += r.json()
        if records:
            break
    assert [rec["value"] for rec in records] == [{"n": 1}]
    # Every fetch checks Read on the subscribed topics again: a revoked ACL counts at once.
    r = requests.delete(f"{s.http}/v1/acls", auth=ADMIN, timeout=10,
                        params={"resource_type": "TOPIC", "resource_name": "a",
                                "principal": "User:alice", "operation": "READ"})
    assert r.status_code == 200 and len(r.json()["acls"]) == 1, r.text
    r = call("GET", f"{base}/records?timeout=100", alice, None)
    assert r.status_code == 403 and r.json()["error_code"] == 40301, r.text
    # The super user may act on any instance (here: delete it).
    r = requests.delete(base, auth=ADMIN, headers={"Content-Type": V2}, timeout=10)
    assert r.status_code == 204, r.text
    assert call("GET", f"{base}/subscription", alice, None).status_code == 404
