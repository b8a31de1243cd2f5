"""Webhooks with another stack on both ends, against the real binary: records produced by
kafkajs (gzip-compressed, idempotent) and over HTTP reach a receiver written on Node's http
module that verifies every signature with node:crypto and deduplicates on `webhook-id`; all
arrive, verified, once each, as produced. Node closes idle keep-alive connections after 5 s:
events sent after a longer pause arrive with no failed attempt."""

import base64
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests

from test_webhooks import create_topic
from test_webhooks_connections import failed_attempts
from webhook_receiver import wait_for

NODE_DIR = Path(__file__).resolve().parent / "node"


class NodeReceiver:
    def __init__(self, secret):
        self.proc = subprocess.Popen(["node", str(NODE_DIR / "webhook_receiver.js"), secret],
                                     stdout=subprocess.PIPE, text=True)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.port = self.lines.get(timeout=30)["port"]
        self.got = []

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(json.loads(line))

    def requests(self):
        while not self.lines.empty():
            self.got.append(self.lines.get())
        return list(self.got)

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def kafkajs_produce(strom, topic, start, n):
    records = [{"key": f"k{i % 3}", "value": json.dumps({"n": i}), "headers": {"src": "kafkajs"}}
               for i in range(start, start + n)]
    out = subprocess.run(["node", str(NODE_DIR / "kafkajs_client.js"), "produce", strom.bootstrap,
                          topic], input=json.dumps(records), capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr


@pytest.mark.skipif(
    shutil.which("node") is None or not (NODE_DIR / "node_modules" / "kafkajs").exists(),
    reason="node or kafkajs not installed (tests/install-deps.sh)",
)
def test_kafkajs_events_reach_a_node_receiver_verified_once_each(strom):
    secret = "whsec_" + base64.b64encode(os.urandom(32)).decode()
    receiver = NodeReceiver(secret)
    create_topic(strom, "js", partitions=2)
    r = requests.post(f"{strom.http}/v1/webhooks", json={
        "name": "js-hook", "url": f"http://127.0.0.1:{receiver.port}/hook", "topics": ["js"],
        "start": "earliest", "secret": secret, "retry_schedule_ms": [0, 60000]})
    assert r.status_code == 201, r.text
    kafkajs_produce(strom, "js", 0, 30)
    r = requests.post(f"{strom.http}/v1/topics/js/records",
                      json={"records": [{"key": "http", "value": {"n": 30}}]})
    assert r.status_code == 200, r.text
    wait_for(lambda: len(receiver.requests()) >= 31, what="31 requests at the Node receiver")
    got = receiver.requests()
    assert all(g["verified"] for g in got), [g for g in got if not g["verified"]][:1]
    assert not any(g["duplicate"] for g in got)
    events = [json.loads(g["body"]) for g in got]
    assert sorted(e["data"]["n"] for e in events) == list(range(31))
    assert all(e["subject"] == f"k{e['data']['n'] % 3}" for e in events if e["data"]["n"] < 30)
    assert {g["id"] for g in got} == {f"js/{e['strompartition']}/{e['stromoffset']}" for e in events}
    # Past Node's 5 s keep-alive timeout: the next events still go through at the first attempt.
    time.sleep(6)
    kafkajs_produce(strom, "js", 31, 4)
    wait_for(lambda: len(receiver.requests()) >= 35, what="4 more requests after the pause")
    assert all(g["verified"] and not g["duplicate"] for g in receiver.requests())
    assert failed_attempts(strom, "js-hook") == 0
    receiver.close()
