"""The CRM: upserts and deletes customers on the compacted topic; prints its own view as JSON."""
import json
import os

import requests

server = os.environ.get("STROM_SERVER", "http://localhost:8080")
view = {}


def publish(records):
    r = requests.post(f"{server}/v1/topics/customers/records", json={"records": records}, timeout=30)
    r.raise_for_status()
    for rec in records:
        if rec["value"] is None:
            view.pop(rec["key"], None)
        else:
            view[rec["key"]] = rec["value"]


publish([{"key": f"c{i}", "value": {"name": f"Customer {i}", "city": "Bern"}} for i in range(1, 6)])
publish([{"key": "c2", "value": {"name": "Customer 2", "city": "Basel"}},   # moved
         {"key": "c3", "value": None},                                       # deleted (tombstone)
         {"key": "c6", "value": {"name": "Customer 6", "city": "Chur"}}])
publish([{"key": "c5", "value": None}])
print(json.dumps(view, sort_keys=True))
