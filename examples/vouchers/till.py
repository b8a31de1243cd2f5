"""The till: sells COUNT vouchers (codes PREFIX-1..COUNT) to topic `vouchers` with a Kafka producer."""
import json
import os
import sys

from confluent_kafka import Producer

prefix, count = sys.argv[1], int(sys.argv[2])
producer = Producer({"bootstrap.servers": os.environ.get("STROM_BOOTSTRAP", "localhost:9092"),
                     "enable.idempotence": True, "acks": "all"})
for i in range(1, count + 1):
    code = f"{prefix}-{i}"
    producer.produce("vouchers", key=code, value=json.dumps({"code": code, "amount_eur": 25}))
left = producer.flush(30)
if left:
    sys.exit(f"till: {left} voucher(s) not confirmed")
print(f"till: sold {count} voucher(s) {prefix}-1..{count}")
