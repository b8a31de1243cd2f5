"""kafka-python as a group consumer: join, consume, commit, and resume after a broker
restart exactly where the committed offsets say."""

import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import KafkaAdminClient, NewTopic


def consume(consumer, count, timeout=30):
    records = []
    deadline = time.time() + timeout
    while len(records) < count and time.time() < deadline:
        for batch in consumer.poll(timeout_ms=500, max_records=count - len(records)).values():
            records.extend(batch)
    return records


def test_kafka_python_group_resumes_after_restart(strom):
    admin = KafkaAdminClient(bootstrap_servers=strom.bootstrap)
    admin.create_topics([NewTopic("clicks", num_partitions=2, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=strom.bootstrap)
    for i in range(100):
        producer.send("clicks", value=str(i).encode(), partition=i % 2)
    producer.flush()
    producer.close()

    def group_consumer():
        return KafkaConsumer(
            "clicks",
            bootstrap_servers=strom.bootstrap,
            group_id="kp",
            auto_offset_reset="earliest",
            enable_auto_commit=False,
            session_timeout_ms=6000,
            heartbeat_interval_ms=1000,
        )

    consumer = group_consumer()
    first = consume(consumer, 60)
    assert len(first) == 60
    consumer.commit()
    assert consumer.assignment() == {TopicPartition("clicks", 0), TopicPartition("clicks", 1)}
    committed = {p: consumer.committed(TopicPartition("clicks", p)) for p in (0, 1)}
    consumer.close()
    assert sum(committed.values()) == 60

    strom.restart()
    consumer = group_consumer()
    rest = consume(consumer, 40)
    consumer.commit()
    consumer.close()
    seen = sorted(int(r.value) for r in first + rest)
    assert seen == list(range(100)), "nothing skipped and nothing repeated across the restart"
    for r in rest:
        assert r.offset >= committed[r.partition]
