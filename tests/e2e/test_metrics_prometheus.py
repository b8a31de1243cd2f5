"""A real Prometheus (Debian's `prometheus`) scrapes Strom every second; after a known
workload, PromQL answers the produce rate per topic and the group lag in records and seconds
with the expected values, and the exposition passes `promtool check metrics`.

Workload: 30 records over Kafka and 1 + 20 over HTTP to `rated`, nothing to `idle`; 10 records
stamped two minutes ago to `aged`, of which the group `laggy` committed 4. Waits are on
conditions with generous deadlines, never on elapsed time."""

import subprocess
import time

import pytest
import requests
from confluent_kafka import Consumer, Producer, TopicPartition
from kafka import KafkaConsumer
from kafka import TopicPartition as KafkaTopicPartition
from kafka.structs import OffsetAndMetadata

from conftest import free_port, wait_for_port

pytestmark = pytest.mark.timeout(240)
AGE_MS = 120_000


def scrape(strom):
    r = requests.get(f"{strom.http}/metrics", timeout=10)
    assert r.status_code == 200, r.text
    return r.text


@pytest.fixture
def prometheus(strom, tmp_path):
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: strom\n    scrape_interval: 1s\n    scrape_timeout: 900ms\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{strom.http_port}']\n"
    )
    proc = subprocess.Popen(
        ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, proc, timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def query(prom, promql):
    r = requests.get(f"{prom}/api/v1/query", params={"query": promql}, timeout=10)
    assert r.status_code == 200, r.text
    return {tuple(sorted(s["metric"].items())): float(s["value"][1]) for s in r.json()["data"]["result"]}


def eventually(prom, promql, accept, deadline=90):
    end = time.time() + deadline
    last = None
    while time.time() < end:
        last = query(prom, promql)
        if accept(last):
            return last
        time.sleep(0.5)
    raise AssertionError(f"{promql} never gave an acceptable answer; last: {last}")


def create_topics(strom):
    for name in ("rated", "idle", "aged"):
        r = requests.post(f"{strom.http}/v1/topics", json={"name": name, "partitions": 1}, timeout=10)
        assert r.status_code == 201, r.text


def workload(strom):
    producer = Producer({"bootstrap.servers": strom.bootstrap, "linger.ms": 0})
    for i in range(30):
        producer.produce("rated", value=f"k{i}".encode())
    old = int(time.time() * 1000) - AGE_MS
    for i in range(10):
        producer.produce("aged", value=f"a{i}".encode(), timestamp=old + i)
    assert producer.flush(10) == 0
    r = requests.post(f"{strom.http}/v1/topics/rated/records",
                      json={"records": [{"value": i} for i in range(20)]}, timeout=10)
    assert r.status_code == 200, r.text
    consumer = Consumer({"bootstrap.servers": strom.bootstrap, "group.id": "laggy",
                         "enable.auto.commit": False})
    consumer.commit(offsets=[TopicPartition("aged", 0, 4)], asynchronous=False)
    consumer.close()


def test_prometheus_scrapes_rates_and_lag(strom, prometheus):
    create_topics(strom)
    # One record first, seen by Prometheus, so the workload is an increase rate() can measure.
    r = requests.post(f"{strom.http}/v1/topics/rated/records", json={"records": [{"value": -1}]}, timeout=10)
    assert r.status_code == 200, r.text
    eventually(prometheus, 'strom_topic_records_in_total{topic="rated"}', lambda r: len(r) == 1)
    workload(strom)
    text = scrape(strom)
    check = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    for family in ("# TYPE strom_kafka_request_duration_seconds histogram",
                   "# TYPE strom_http_request_duration_seconds histogram",
                   "# TYPE strom_log_fsync_duration_seconds histogram",
                   "# TYPE process_cpu_seconds_total counter", "strom_build_info{version="):
        assert family in text, family

    # Records in per topic and protocol: exactly the workload.
    counts = eventually(prometheus, "sum by (topic, protocol) (strom_topic_records_in_total)",
                        lambda r: r.get((("protocol", "kafka"), ("topic", "rated"))) == 30
                        and r.get((("protocol", "http"), ("topic", "rated"))) == 21)
    assert (("protocol", "kafka"), ("topic", "idle")) not in counts
    # Produce rate per topic: positive for the topic written to, absent for the idle one.
    rates = eventually(prometheus, "sum by (topic) (rate(strom_topic_records_in_total[1m]))",
                       lambda r: r.get((("topic", "rated"),), 0) > 0)
    assert (("topic", "idle"),) not in rates

    # Lag: 10 - 4 records, the oldest unconsumed one written two minutes before the workload.
    key = (("group", "laggy"), ("topic", "aged"))
    eventually(prometheus, "sum by (group, topic) (strom_consumer_group_lag)",
               lambda r: r.get(key) == 6)
    seconds = eventually(prometheus, "max by (group, topic) (strom_consumer_group_lag_seconds)",
                         lambda r: key in r)
    assert AGE_MS / 1000 <= seconds[key] <= AGE_MS / 1000 + 300, seconds


def test_negative_committed_offset_lag_stays_within_the_partition(strom):
    r = requests.post(f"{strom.http}/v1/topics", json={"name": "reset", "partitions": 1}, timeout=10)
    assert r.status_code == 201, r.text
    r = requests.post(f"{strom.http}/v1/topics/reset/records",
                      json={"records": [{"value": i} for i in range(5)]}, timeout=10)
    assert r.status_code == 200, r.text
    # kafkajs `resetOffsets` leaves -2 (earliest) as the committed offset; kafka-python sends
    # it as given (librdkafka would not commit a logical offset).
    consumer = KafkaConsumer(bootstrap_servers=strom.bootstrap, group_id="reset-group",
                             enable_auto_commit=False)
    consumer.commit({KafkaTopicPartition("reset", 0): OffsetAndMetadata(-2, "")})
    consumer.close()
    text = scrape(strom)
    line = next(l for l in text.splitlines()
                if l.startswith('strom_consumer_group_lag{group="reset-group",topic="reset"'))
    assert float(line.rsplit(" ", 1)[1]) == 5, line
