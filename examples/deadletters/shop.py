"""The shop: publishes paid orders to topic `paid-orders` with a Kafka producer; every fourth
order ships to Iceland."""
import json
import os
import sys

from confluent_kafka import Producer

COUNTRIES = ["DE", "FR", "NL", "IS"]
count = int(sys.argv[1]) if len(sys.argv) > 1 else 8
producer = Producer({"bootstrap.servers": os.environ.get("STROM_BOOTSTRAP", "localhost:9092"),
                     "enable.idempotence": True})
for n in range(1, count + 1):
    order = {"order": f"o-{n}", "country": COUNTRIES[(n - 1) % len(COUNTRIES)]}
    producer.produce("paid-orders", key=order["order"], value=json.dumps(order))
if producer.flush(30):
    sys.exit("shop: orders not acknowledged")
print(f"shop: {count} paid orders published")
