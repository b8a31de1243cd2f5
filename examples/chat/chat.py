"""Alice and Bob chat over WebSocket; a wall display follows over Server-Sent Events."""
import json
import os
import threading

import requests
import websockets.sync.client as ws_client

server = os.environ.get("STROM_SERVER", "http://localhost:8080")
ws_url = server.replace("http://", "ws://").replace("https://", "wss://") + "/v1/ws"
room = os.environ.get("CHAT_ROOM", "chat")
seen_by_display = []


def display():
    with requests.get(f"{server}/feeds/{room}", headers={"Accept": "text/event-stream"}, stream=True,
                      timeout=30) as r:
        for line in r.iter_lines(decode_unicode=True):
            if line and line.startswith("data:"):
                seen_by_display.append(json.loads(line[5:])["data"])
                return


def join(name):
    ws = ws_client.connect(ws_url, open_timeout=10)
    ws.send(json.dumps({"op": "subscribe", "topic": room, "from": "beginning", "ref": name}))
    reply = json.loads(ws.recv(timeout=10))
    assert reply["type"] == "subscribed", reply
    return ws


alice, bob = join("alice"), join("bob")
watcher = threading.Thread(target=display)
watcher.start()
bob.send(json.dumps({"op": "publish", "topic": room, "key": "bob", "value": {"text": "hi Alice"}, "ref": "m1"}))
for ws, name in ((alice, "alice"), (bob, "bob")):
    while True:
        message = json.loads(ws.recv(timeout=20))
        if message["type"] == "event":
            print(f"{name} sees: {message['key']}: {message['value']['text']}")
            break
watcher.join(timeout=30)
print(f"display sees: {seen_by_display}")
assert seen_by_display == [{"text": "hi Alice"}], seen_by_display
alice.close()
bob.close()
print("chat: OK")
