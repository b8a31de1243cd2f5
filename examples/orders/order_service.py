"""Places COUNT orders on topic `orders`; the first event is sent twice (a producer retry)."""
import json
import os
import sys
import uuid

from confluent_kafka import Producer

count = int(sys.argv[1])
producer = Producer({"bootstrap.servers": os.environ.get("STROM_BOOTSTRAP", "localhost:9092"), "acks": "all"})
events = [{"event_id": str(uuid.uuid4()), "type": "OrderPlaced", "order": f"order-{i}", "total_eur": 10 + i}
          for i in range(count)]
for event in events + events[:1]:
    producer.produce("orders", key=event["order"], value=json.dumps(event))
if producer.flush(30):
    sys.exit("order service: not every order was confirmed")
print(f"order service: placed {count} orders ({count + 1} events)")
