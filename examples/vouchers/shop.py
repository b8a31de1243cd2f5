"""The web shop: learns vouchers from the HTTP feed, resuming after the cursor it saved."""
import json
import os
import sys
from pathlib import Path

import requests

server = os.environ.get("STROM_SERVER", "http://localhost:8080")
state_file = Path(sys.argv[1] if len(sys.argv) > 1 else "shop-state.json")
state = json.loads(state_file.read_text()) if state_file.exists() else {"cursor": None, "vouchers": []}
learnt = 0
while True:
    params = {"limit": 100, "timeout": 1000}
    if state["cursor"]:
        params["lastEventId"] = state["cursor"]
    r = requests.get(f"{server}/feeds/vouchers", params=params, headers={"Accept": "application/json"}, timeout=30)
    if r.status_code == 404:
        break  # no voucher sold yet: the topic does not exist
    r.raise_for_status()
    events = r.json()
    if not events:
        break  # caught up
    for event in events:
        code = event["data"]["code"]
        if code in state["vouchers"]:
            sys.exit(f"shop: voucher {code} delivered twice")
        state["vouchers"].append(code)
        state["cursor"] = event["id"]
        learnt += 1
    # Cursor and vouchers saved together: a crash here repeats nothing and loses nothing.
    state_file.write_text(json.dumps(state))
print(f"shop: learnt {learnt} new voucher(s), knows {len(state['vouchers'])}")
