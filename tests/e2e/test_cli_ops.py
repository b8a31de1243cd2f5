"""Issue 17 (first hour and daily operation) against the real binary: HTTP produce, REST Proxy
produce and WebSocket publish auto-create topics like Kafka clients (and need Create to do it);
`strom consume --group --follow` leaves its group on Ctrl-C and SIGTERM (in a pseudo-terminal);
`strom group` over HTTP (/v1/groups: list, describe with lag, delete, reset-offsets); clear
errors for ordinary mistakes; quiet exit on a closed pipe; `topic alter`, `version`,
`completions`, `status`; the start banner."""

import json
import signal
import subprocess
import time

import pexpect
import requests
import websockets.sync.client as ws_client

from conftest import strom_binary

V2 = "application/vnd.kafka.v2+json"


def cli(strom, *args, stdin=None, check=True, server=None):
    out = subprocess.run([strom_binary(), *args, "--server", server or strom.http], input=stdin,
                         capture_output=True, text=True, timeout=60)
    if check:
        assert out.returncode == 0, out.stderr
    return out


def wait_until(condition, what, timeout=30.0):
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_http_rest_proxy_and_websocket_auto_create_topics(strom):
    # Confluent's REST Proxy quickstart, verbatim but for the port.
    r = requests.post(f"{strom.http}/topics/jsontest",
                      headers={"Content-Type": "application/vnd.kafka.json.v2+json", "Accept": V2},
                      data='{"records":[{"value":{"foo":"bar"}}]}', timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["offsets"][0]["offset"] == 0
    r = requests.post(f"{strom.http}/v1/topics/native/records", json={"records": [{"value": "x"}]}, timeout=10)
    assert r.status_code == 200, r.text
    # The chat example: subscribe, then publish, to a topic nobody created.
    host = strom.http.removeprefix("http://")
    with ws_client.connect(f"ws://{host}/v1/ws", open_timeout=10) as ws:
        ws.send(json.dumps({"op": "subscribe", "topic": "chat", "from": "beginning"}))
        assert json.loads(ws.recv(timeout=10))["type"] == "subscribed"
        ws.send(json.dumps({"op": "publish", "topic": "chat", "value": "hi"}))
        seen = [json.loads(ws.recv(timeout=10)) for _ in range(2)]
        assert {m["type"] for m in seen} == {"published", "event"}, seen
    names = {t["name"] for t in requests.get(f"{strom.http}/v1/topics", timeout=10).json()}
    assert {"jsontest", "native", "chat"} <= names


def test_auto_create_is_off_when_the_setting_is_off_and_needs_create(strom_factory):
    off = strom_factory(extra_args=["--auto-create-topics", "false"], name="off").start()
    r = requests.post(f"{off.http}/v1/topics/nope/records", json={"records": [{"value": 1}]}, timeout=10)
    assert r.status_code == 404, r.text
    r = requests.post(f"{off.http}/topics/nope", headers={"Content-Type": "application/vnd.kafka.json.v2+json"},
                      data='{"records":[{"value":1}]}', timeout=10)
    assert r.status_code == 404 and r.json()["error_code"] == 40401, r.text

    acl = strom_factory(name="acl").start()
    anon = "User:ANONYMOUS"
    grants = [
        {"resource_type": "TOPIC", "resource_name": "auto", "pattern_type": "PREFIXED", "principal": anon,
         "operation": "WRITE", "permission": "ALLOW"},
        {"resource_type": "TOPIC", "resource_name": "auto-ok", "principal": anon,
         "operation": "CREATE", "permission": "ALLOW"},
    ]
    assert requests.post(f"{acl.http}/v1/acls", json={"acls": grants}, timeout=10).status_code == 201
    acl.stop()
    acl.extra_args += ["--authorizer-enabled", "true", "--super-users", "User:admin"]
    acl.start()
    r = requests.post(f"{acl.http}/v1/topics/auto-no/records", json={"records": [{"value": 1}]}, timeout=10)
    assert r.status_code == 403 and "CREATE TOPIC" in r.text, r.text
    r = requests.post(f"{acl.http}/v1/topics/auto-ok/records", json={"records": [{"value": 1}]}, timeout=10)
    assert r.status_code == 200, r.text


def group_members(strom, group):
    r = requests.get(f"{strom.http}/v1/groups/{group}", timeout=10)
    return r.json()["members"] if r.status_code == 200 else []


def test_group_consumer_leaves_on_ctrl_c_and_sigterm(strom):
    cli(strom, "topic", "create", "live", "--partitions", "2")
    cli(strom, "produce", "live", stdin="a\nb\n")
    for stop in ("ctrl-c", "sigterm"):
        child = pexpect.spawn(strom_binary(), ["consume", "live", "--group", "g", "--follow", "--from-beginning",
                                              "--server", strom.http], timeout=60, encoding="utf-8")
        if stop == "ctrl-c":
            child.expect("a|b")
        wait_until(lambda: len(group_members(strom, "g")) == 1, "the CLI to join")
        if stop == "ctrl-c":
            child.sendcontrol("c")
        else:
            child.kill(signal.SIGTERM)
        child.expect(pexpect.EOF, timeout=30)
        # Gone at once, not after the 60 s instance timeout.
        wait_until(lambda: group_members(strom, "g") == [], f"the member to leave after {stop}", timeout=15)
        child.close()
        assert child.exitstatus == 0, (stop, child.exitstatus, child.signalstatus)


def test_group_commands_over_http(strom):
    cli(strom, "topic", "create", "t", "--partitions", "2")
    cli(strom, "produce", "t", "--partition", "0", stdin="".join(f"{i}\n" for i in range(10)))
    cli(strom, "consume", "t", "--group", "g", "--from-beginning", "--max-messages", "4")
    listed = json.loads(cli(strom, "group", "list", "--json").stdout)
    assert {"group": "g", "state": "Empty", "protocol_type": "consumer"} in listed
    assert ["g", "Empty", "consumer"] in [l.split() for l in cli(strom, "group", "list").stdout.splitlines()]
    described = json.loads(cli(strom, "group", "describe", "g", "--json").stdout)
    assert [(o["partition"], o["committed_offset"], o["lag"]) for o in described["offsets"]] == [(0, 4, 6)]
    assert ("t", "0", "4", "10", "6") in {tuple(l.split()[:5]) for l in cli(strom, "group", "describe", "g").stdout.splitlines()}

    # reset-offsets: a dry run by default, then executed, each way kafka-consumer-groups has.
    dry = json.loads(cli(strom, "group", "reset-offsets", "g", "--topic", "t", "--to-earliest", "--json").stdout)
    assert dry["executed"] is False and [p["new_offset"] for p in dry["partitions"]] == [0, 0]
    assert json.loads(cli(strom, "group", "describe", "g", "--json").stdout)["offsets"][0]["committed_offset"] == 4
    for args, want in [(["--to-latest"], [10, 0]), (["--to-offset", "3"], [3, 0]),
                       (["--shift-by", "-2"], [1, 0]), (["--to-datetime", "1970-01-01T00:00:00Z"], [0, 0])]:
        out = json.loads(cli(strom, "group", "reset-offsets", "g", "--topic", "t", *args, "--execute", "--json").stdout)
        assert [p["new_offset"] for p in out["partitions"]] == want, (args, out)
        committed = {o["partition"]: o["committed_offset"]
                     for o in json.loads(cli(strom, "group", "describe", "g", "--json").stdout)["offsets"]}
        assert committed == dict(enumerate(want)), (args, committed)

    # Only for an empty group, as kafka-consumer-groups.
    member = requests.post(f"{strom.http}/consumers/g", headers={"Content-Type": V2},
                           json={"name": "m", "format": "binary"}, timeout=10)
    assert member.status_code == 200, member.text
    base = f"{strom.http}/consumers/g/instances/m"
    requests.post(f"{base}/subscription", headers={"Content-Type": V2}, json={"topics": ["t"]}, timeout=10)
    wait_until(lambda: requests.get(f"{base}/records?timeout=500", timeout=10) is not None
               and len(group_members(strom, "g")) == 1, "the REST member to join")
    busy = cli(strom, "group", "reset-offsets", "g", "--all-topics", "--to-earliest", "--execute", check=False)
    assert busy.returncode != 0 and "no members" in busy.stderr, busy.stderr
    refused = cli(strom, "group", "delete", "g", check=False)
    assert refused.returncode != 0 and "active members" in refused.stderr, refused.stderr
    requests.delete(base, timeout=10)
    wait_until(lambda: requests.get(f"{strom.http}/v1/groups/g", timeout=10).json()["state"] == "Empty",
               "the REST member to leave")
    cli(strom, "group", "delete", "g")

    missing = cli(strom, "group", "describe", "g", check=False)
    assert missing.returncode != 0 and "consumer group 'g' does not exist" in missing.stderr, missing.stderr
    assert cli(strom, "group", "delete", "nope", check=False).returncode != 0


def test_clear_errors_for_ordinary_mistakes(strom):
    cli(strom, "topic", "create", "one", "--partitions", "1")
    bare = strom.http.removeprefix("http://")
    assert "one" in cli(strom, "topic", "list", server=bare).stdout
    kafka = cli(strom, "topic", "list", server=strom.bootstrap, check=False)
    assert kafka.returncode != 0 and "Kafka port" in kafka.stderr, kafka.stderr
    curl = subprocess.run(["curl", "-s", f"http://{strom.bootstrap}/v1/topics"], capture_output=True, text=True,
                          timeout=30)
    assert "Kafka port" in curl.stdout, (curl.stdout, curl.stderr)
    part = cli(strom, "consume", "one", "--partition", "5", check=False)
    assert part.returncode != 0 and "has no partition 5: it has 1 partition(s)" in part.stderr, part.stderr
    nothing = subprocess.run([strom_binary(), "topic", "list", "--server", "127.0.0.1:1"], capture_output=True,
                             text=True, timeout=60)
    assert nothing.returncode != 0 and "is `strom serve` running" in nothing.stderr, nothing.stderr


def test_a_closed_pipe_ends_the_cli_quietly(strom):
    cli(strom, "produce", "many", stdin="".join(f"line {i}\n" for i in range(20000)))
    for args in (["consume", "many", "--from-beginning"], ["consume", "many", "--from-beginning", "--group", "p"],
                 ["completions", "bash"]):
        proc = subprocess.Popen([strom_binary(), *args, "--server", strom.http] if args[0] != "completions"
                                else [strom_binary(), *args],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout.readline()
        proc.stdout.close()  # what `| head -1` does
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=60) == 0 and err == "", (args, proc.returncode, err)
    # The group consumer left its group on the way out.
    wait_until(lambda: group_members(strom, "p") == [], "the piped group member to leave")


def test_topic_alter_version_completions_status_and_banner(strom):
    cli(strom, "topic", "create", "cfg")
    cli(strom, "topic", "alter", "cfg", "--config", "retention.ms=1234", "--config", "cleanup.policy=compact")
    configs = {c["name"]: c for c in json.loads(cli(strom, "topic", "describe", "cfg", "--json").stdout)["configs"]}
    assert configs["retention.ms"]["value"] == "1234" and configs["cleanup.policy"]["value"] == "compact"
    cli(strom, "topic", "alter", "cfg", "--delete-config", "retention.ms")
    configs = {c["name"]: c for c in json.loads(cli(strom, "topic", "describe", "cfg", "--json").stdout)["configs"]}
    assert configs["retention.ms"]["default"] is True
    bad = cli(strom, "topic", "alter", "cfg", "--config", "retention.ms=soon", check=False)
    assert bad.returncode != 0 and "retention.ms" in bad.stderr

    version = json.loads(subprocess.run([strom_binary(), "version", "--json"], capture_output=True, text=True,
                                        check=True).stdout)
    # Built from this git checkout: a 12-digit commit, a date.
    assert len(version["commit"]) == 12 and int(version["commit"], 16) >= 0, version
    assert len(version["build_date"]) == 10 and version["build_date"][4] == "-", version
    for shell in ("bash", "zsh", "fish"):
        script = subprocess.run([strom_binary(), "completions", shell], capture_output=True, text=True, check=True)
        assert "reset-offsets" in script.stdout, shell

    status = json.loads(cli(strom, "status", "--json").stdout)
    assert status["status"]["version"] == version["version"]
    assert {l["frontend"] for l in status["status"]["listeners"]} == {"kafka", "http"}
    assert status["status"]["disk"]["state"] == "writable" and status["status"]["disk"]["free_bytes"] > 0
    assert "is up" in cli(strom, "status").stdout
    down = subprocess.run([strom_binary(), "status", "--server", "127.0.0.1:1"], capture_output=True, text=True,
                          timeout=60)
    assert down.returncode != 0

    log = strom.log_text()
    assert f"kcat -P -b {strom.bootstrap}" in log and f"curl -s {strom.http}/v1/topics/demo/records" in log, log
    assert str(strom.data_dir.resolve()) in log
