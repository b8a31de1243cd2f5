"""A kafka-python >= 2.1 consumer that uses incremental fetch sessions (KIP-227), run as a
subprocess by test_kafka_fetch_sessions.py with that kafka-python first on PYTHONPATH (the
suite's own kafka-python 2.0.2 does not speak fetch sessions).

    python3 kp_session_consumer.py BOOTSTRAP TOPIC PARTITIONS COUNT ISOLATION [SESSIONS [PAUSE]]

Assigns every partition from the beginning, consumes until COUNT records arrived (or 60 s
passed) and prints one JSON line: the kafka-python version, [partition, offset, value]
of every record in arrival order, and `session`: what the client's FetchSessionHandler saw
(the test's evidence that the server keeps the session as KIP-227 says):
- `forgotten`: partitions the client dropped from its session (forgotten_topics_data), which
  it does for a partition whose fetched records it has not handed out yet;
- `rejected`: answers the client found invalid (an incremental answer naming a partition not
  in its session, e.g. one it forgot) and closed the session over;
- `unchanged`: partitions an incremental answer sent with no records, no error and the same
  high watermark and last stable offset as the client last saw (a full answer's worth
  sent again);
- `incremental`: incremental answers.
SESSIONS=0 turns sessions off (the bench's comparison). PAUSE > 0 pauses the first quarter
of the partitions for PAUSE seconds once the first record arrived (so the client forgets them
from its session, and adds them back on resuming).
"""

import json
import sys
import time

import kafka
from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import FetchSessionHandler

SESSION = {"forgotten": 0, "rejected": 0, "unchanged": 0, "incremental": 0}


def watch_sessions():
    """Wraps kafka-python 2.3's FetchSessionHandler to count what SESSION describes."""
    build_next, handle_response = FetchSessionHandler.build_next, FetchSessionHandler.handle_response
    seen = {}

    def counting_build_next(self, next_partitions):
        data = build_next(self, next_partitions)
        SESSION["forgotten"] += sum(len(ps) for _, ps in data.to_forget)
        return data

    def counting_handle_response(self, response):
        incremental = not self.next_metadata.is_full and response.error_code == 0
        SESSION["incremental"] += incremental
        for topic, partitions in response.topics:
            for p in partitions:
                # (partition, error_code, high_watermark, last_stable_offset, ..., records)
                offsets = (p[2], p[3])
                if incremental and p[1] == 0 and not p[-1] and seen.get((topic, p[0])) == offsets:
                    SESSION["unchanged"] += 1
                seen[(topic, p[0])] = offsets
        ok = handle_response(self, response)
        SESSION["rejected"] += not ok and response.error_code == 0
        return ok

    FetchSessionHandler.build_next = counting_build_next
    FetchSessionHandler.handle_response = counting_handle_response


def main():
    bootstrap, topic, partitions, count, isolation = sys.argv[1:6]
    sessions = len(sys.argv) < 7 or sys.argv[6] != "0"
    pause = float(sys.argv[7]) if len(sys.argv) > 7 else 0.0
    watch_sessions()
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
    paused = [TopicPartition(topic, p) for p in range(int(partitions) // 4)]
    resume_at = None
    while (count < 0 or len(records) < count) and time.time() < deadline:
        for batch in consumer.poll(timeout_ms=200).values():
            records.extend([r.partition, r.offset, r.value.decode()] for r in batch)
        if pause > 0 and records and resume_at is None:
            consumer.pause(*paused)
            resume_at = time.time() + pause
        elif resume_at is not None and time.time() >= resume_at and consumer.paused():
            consumer.resume(*paused)
    consumer.close()
    print(json.dumps({"version": kafka.__version__, "records": records, "session": SESSION}), flush=True)


if __name__ == "__main__":
    main()
