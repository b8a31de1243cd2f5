"""Waits until each named group is Stable with two members that both own partitions
(`GET /v1/groups/{g}`, what `strom group describe` shows)."""
import os
import sys
import time

import requests

server = os.environ.get("STROM_SERVER", "http://localhost:8080")
deadline = time.time() + 60
for group in sys.argv[1:]:
    while True:
        r = requests.get(f"{server}/v1/groups/{group}", timeout=10)
        g = r.json() if r.status_code == 200 else {}
        members = g.get("members", [])
        if g.get("state") == "Stable" and len(members) == 2 and all(m["assignment"] for m in members):
            break
        if time.time() > deadline:
            sys.exit(f"group {group} did not settle: {g}")
        time.sleep(0.2)
print("groups settled: " + ", ".join(sys.argv[1:]))
