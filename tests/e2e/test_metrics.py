"""GET /metrics: Prometheus text with partition offsets and consumer-group lag that follow
what real clients did."""

import re

import requests
from confluent_kafka import Consumer, Producer, TopicPartition


def scrape(strom):
    r = requests.get(f"{strom.http}/metrics", timeout=10)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    return r.text


def sample(text, name, **labels):
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    m = re.search(rf"^{name}\{{{re.escape(want)}\}} (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def test_metrics_report_offsets_and_group_lag(strom):
    r = requests.post(f"{strom.http}/v1/topics", json={"name": "metered", "partitions": 1}, timeout=10)
    assert r.status_code == 201, r.text
    producer = Producer({"bootstrap.servers": strom.bootstrap})
    for i in range(10):
        producer.produce("metered", key=b"k", value=str(i).encode())
    assert producer.flush(10) == 0

    consumer = Consumer({
        "bootstrap.servers": strom.bootstrap,
        "group.id": "meter-group",
        "enable.auto.commit": False,
    })
    # Commit offset 4 directly: lag must be 10 - 4.
    consumer.commit(offsets=[TopicPartition("metered", 0, 4)], asynchronous=False)
    consumer.close()

    text = scrape(strom)
    assert "# TYPE strom_partition_high_watermark gauge" in text
    assert sample(text, "strom_partition_high_watermark", topic="metered", partition="0") == 10
    assert sample(text, "strom_partition_size_bytes", topic="metered", partition="0") > 0
    assert sample(text, "strom_consumer_group_committed_offset",
                  group="meter-group", topic="metered", partition="0") == 4
    assert sample(text, "strom_consumer_group_lag",
                  group="meter-group", topic="metered", partition="0") == 6


def test_kafka_error_codes_are_counted_by_name(strom):
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": strom.bootstrap})
    tiny = NewTopic("tiny", 1, config={"max.message.bytes": "1000"})
    admin.create_topics([tiny])["tiny"].result(30)
    try:
        admin.create_topics([NewTopic("tiny", 1)])["tiny"].result(30)
        raise AssertionError("a second create succeeded")
    except KafkaException as e:
        assert e.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS
    try:
        admin.delete_topics(["no-such-topic"])["no-such-topic"].result(30)
        raise AssertionError("deleting a missing topic succeeded")
    except KafkaException as e:
        assert e.args[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    errors = []
    p = Producer({"bootstrap.servers": strom.bootstrap, "retries": 0})
    for value in (b"x" * 5000, b"small"):  # one batch each
        p.produce("tiny", value=value, on_delivery=lambda err, _msg: errors.append(err))
        p.flush(30)
    assert sorted(str(e and e.code()) for e in errors) == sorted(
        [str(KafkaError.MSG_SIZE_TOO_LARGE), "None"]), errors

    text = scrape(strom)
    name = "strom_kafka_request_errors_total"
    assert sample(text, name, api="CreateTopics", error="TOPIC_ALREADY_EXISTS") == 1, text
    assert sample(text, name, api="DeleteTopics", error="UNKNOWN_TOPIC_OR_PARTITION") == 1
    assert sample(text, name, api="Produce", error="MESSAGE_TOO_LARGE") == 1
    # Successes are not errors; every label value is one of Kafka's code names.
    assert 'error="NONE"' not in text
    for line in text.splitlines():
        if line.startswith(name + "{"):
            assert re.search(r'error="[A-Z_]+"', line), line
