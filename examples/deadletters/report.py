"""What the label service has done: waits until it printed N labels (at most a minute), then
lists them and checks that no order got two labels."""
import json
import sys
import time
from pathlib import Path

state_file, expected = Path(sys.argv[1]), int(sys.argv[2])
deadline = time.time() + 60
labels = {}
while time.time() < deadline:
    labels = json.loads(state_file.read_text())["labels"] if state_file.exists() else {}
    if len(labels) >= expected:
        break
    time.sleep(0.1)
orders = sorted((label["order"] for label in labels.values()), key=lambda o: int(o[2:]))
if len(set(orders)) != len(orders):
    sys.exit(f"report: an order got two labels: {orders}")
print(f"report: {len(orders)} label(s): {' '.join(orders)}")
