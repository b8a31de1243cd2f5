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
