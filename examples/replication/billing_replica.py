"""Billing's replica: the HTTP feed of `customers` from the beginning; prints the copy as JSON."""
import json
import os

import requests

server = os.environ.get("STROM_SERVER", "http://localhost:8080")
copy, cursor = {}, None
while True:
    params = {"limit": 100} | ({"lastEventId": cursor} if cursor else {})
    r = requests.get(f"{server}/feeds/customers", params=params, headers={"Accept": "application/json"}, timeout=30)
    r.raise_for_status()
    events = r.json()
    if not events:
        break
    for event in events:
        if event["method"] == "DELETE":
            copy.pop(event["subject"], None)
        else:
            copy[event["subject"]] = event["data"]
        cursor = event["id"]
print(json.dumps(copy, sort_keys=True))
