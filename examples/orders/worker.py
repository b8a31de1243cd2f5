"""One instance of SERVICE (invoicing or shipping): an idempotent member of group SERVICE.
Runs until the service has handled EXPECTED orders (all instances together) or DEADLINE s."""
import json
import os
import sqlite3
import sys
import time

from confluent_kafka import Consumer

service, instance, db_path, expected = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
deadline = time.time() + float(os.environ.get("DEADLINE", "90"))
db = sqlite3.connect(db_path, timeout=30, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("CREATE TABLE IF NOT EXISTS processed (event_id TEXT PRIMARY KEY)")
db.execute("CREATE TABLE IF NOT EXISTS work (order_id TEXT, instance TEXT)")
consumer = Consumer({"bootstrap.servers": os.environ.get("STROM_BOOTSTRAP", "localhost:9092"),
                     "group.id": service, "auto.offset.reset": "earliest", "enable.auto.commit": False,
                     "session.timeout.ms": 10000})
consumer.subscribe(["orders"])


def handle(event):
    """Records the event id and does the work in one transaction; False for a duplicate."""
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("INSERT INTO processed VALUES (?)", (event["event_id"],))
    except sqlite3.IntegrityError:
        db.execute("ROLLBACK")
        return False
    db.execute("INSERT INTO work VALUES (?, ?)", (event["order"], instance))
    db.execute("COMMIT")
    return True


handled = skipped = 0
try:
    while time.time() < deadline:
        if db.execute("SELECT COUNT(*) FROM processed").fetchone()[0] >= expected:
            break
        msg = consumer.poll(0.5)
        if msg is None or msg.error():
            continue
        if handle(json.loads(msg.value())):
            handled += 1
        else:
            skipped += 1
        consumer.commit(message=msg, asynchronous=False)
finally:
    consumer.close()  # leaves the group: the other instance takes over at once
print(f"{service}/{instance}: handled {handled}, skipped {skipped} duplicate(s)")
