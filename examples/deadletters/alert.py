"""The alert: scrapes Strom's Prometheus metrics until the subscription's dead-letter topic
holds at least N records (`strom_webhook_dead_letter_records`, what the shipped alert rule
watches), then reads the dead letters with a Kafka consumer and prints one alert line each,
with the reason from the `strom-dlq-*` headers. Exits 1 if nothing arrives within a minute."""
import json
import os
import re
import sys
import time

import requests
from confluent_kafka import Consumer, TopicPartition

subscription, expected = sys.argv[1], int(sys.argv[2])
server = os.environ.get("STROM_SERVER", "http://localhost:8080")
pattern = re.compile(r'^strom_webhook_dead_letter_records\{subscription="%s"\} (\S+)$'
                     % re.escape(subscription), re.M)


def dead_letters():
    found = pattern.search(requests.get(f"{server}/metrics", timeout=10).text)
    return int(float(found.group(1))) if found else 0


deadline = time.time() + 60
while (count := dead_letters()) < expected:
    if time.time() > deadline:
        sys.exit(f"alert: only {count} dead letter(s) after a minute")
    time.sleep(0.2)
print(f"ALERT: {subscription} has {count} dead letter(s) in {subscription}.dlq")

consumer = Consumer({"bootstrap.servers": os.environ.get("STROM_BOOTSTRAP", "localhost:9092"),
                     "group.id": f"{subscription}-alerts", "enable.auto.commit": False})
consumer.assign([TopicPartition(f"{subscription}.dlq", 0, 0)])
for _ in range(count):
    msg = consumer.poll(30)
    if msg is None or msg.error():
        sys.exit(f"alert: cannot read the dead letters: {msg and msg.error()}")
    why = {k[len("strom-dlq-"):]: v.decode() for k, v in msg.headers() or []
           if k.startswith("strom-dlq-")}
    order = json.loads(msg.value())["order"]
    print(f"ALERT: order {order} ({why['event-id']}) failed {why['attempts']} times, "
          f"last HTTP {why['status']}: {why['response']}")
consumer.close()
