"""A confluent-kafka group consumer run as its own process by the group tests, so a test can
SIGKILL it (no LeaveGroup, no final commit). It processes each record by appending
`REC <partition> <offset> <value>` to its output file and then commits that record's offset
synchronously (commit after process). Assignment changes are logged as `ASSIGN <partitions>`.
It leaves the group cleanly when the stop file appears.

usage: group_consumer.py BOOTSTRAP GROUP TOPIC OUTPUT STOPFILE SESSION_MS [STRATEGY [INSTANCE_ID]]
"""

import os
import sys

from confluent_kafka import Consumer, TopicPartition


def main():
    bootstrap, group, topic, output, stopfile, session_ms = sys.argv[1:7]
    strategy = sys.argv[7] if len(sys.argv) > 7 else "range"
    instance_id = sys.argv[8] if len(sys.argv) > 8 else None
    out = open(output, "a", buffering=1)

    def on_assign(consumer, partitions):
        out.write("ASSIGN " + " ".join(str(p.partition) for p in partitions) + "\n")

    # Eager strategies assign and revoke everything at once, cooperative ones incrementally;
    # both are logged as the partitions added or removed.
    def on_revoke(consumer, partitions):
        out.write("REVOKE " + " ".join(str(p.partition) for p in partitions) + "\n")

    config = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "session.timeout.ms": int(session_ms),
        "heartbeat.interval.ms": max(100, int(session_ms) // 6),
        "partition.assignment.strategy": strategy,
    }
    if instance_id:
        config["group.instance.id"] = instance_id
    consumer = Consumer(config)
    consumer.subscribe([topic], on_assign=on_assign, on_revoke=on_revoke)
    while not os.path.exists(stopfile):
        message = consumer.poll(0.2)
        if message is None or message.error():
            continue
        out.write(f"REC {message.partition()} {message.offset()} {message.value().decode()}\n")
        out.flush()
        consumer.commit(
            offsets=[TopicPartition(topic, message.partition(), message.offset() + 1)],
            asynchronous=False,
        )
    consumer.close()
    out.write("CLOSED\n")


if __name__ == "__main__":
    main()
