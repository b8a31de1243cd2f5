"""A kafka-python >= 2.1 consumer that uses incremental fetch sessions (KIP-227), run as a
subprocess by test_kafka_fetch_sessions.py with that kafka-python first on PYTHONPATH (the
suite's own kafka-python 2.0.2 does not speak fetch sessions).

    python3 kp_session_consumer.py BOOTSTRAP TOPIC PARTITIONS COUNT ISOLATION [SESSIONS]

Assigns every partition from the beginning, consumes until COUNT records arrived (or 60 s
passed) and prints one JSON line: the kafka-python version and [partition, offset, value]
of every record in arrival order. SESSIONS=0 turns sessions off (the bench's comparison).
"""

import json
import sys
import time

import kafka
from kafka import KafkaConsumer, TopicPartition


def main():
    bootstrap, topic, partitions, count, isolation = sys.argv[1:6]
    sessions = len(sys.argv) < 7 or sys.argv[6] != "0"
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        isolation_level=isolation,
        enable_incremental_fetch_sessions=sessions,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=200,
    )
    consumer.assign([TopicPartition(topic, p) for p in range(int(partitions))])
    for p in range(int(partitions)):
        consumer.seek(TopicPartition(topic, p), 0)
    print("ready", flush=True)
    records = []
    deadline = time.time() + 60
    count = int(count)
    while (count < 0 or len(records) < count) and time.time() < deadline:
        for batch in consumer.poll(timeout_ms=200).values():
            records.extend([r.partition, r.offset, r.value.decode()] for r in batch)
    consumer.close()
    print(json.dumps({"version": kafka.__version__, "records": records}), flush=True)


if __name__ == "__main__":
    main()
