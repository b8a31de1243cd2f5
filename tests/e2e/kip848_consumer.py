"""A confluent-kafka consumer of KIP-848's consumer group protocol (`group.protocol=consumer`),
run as its own process by test_groups_kip848.py so a test can SIGKILL it. It processes each
record by appending `REC <topic> <partition> <offset> <value>` to its output file and then
commits that offset synchronously (commit after process); errors are logged as
`ERROR <name> <text>`. Assignment changes are logged as
`ASSIGN <topic>:<partition> ...` and `REVOKE ...` (the consumer protocol is incremental). It
leaves the group cleanly when the stop file appears. With `GROUP_PROTOCOL=classic` in its
environment it is a classic member instead (JoinGroup/SyncGroup, `cooperative-sticky`), as
test_groups_mixed.py runs it (`CLASSIC_SESSION_MS` sets its session timeout, 6000 by default).

usage: kip848_consumer.py BOOTSTRAP GROUP SUBSCRIPTION OUTPUT STOPFILE [ASSIGNOR [INSTANCE_ID]]
(SUBSCRIPTION: comma-separated topics, or one `^regex`; ASSIGNOR `-` for the server default)
"""

import os
import sys

from confluent_kafka import Consumer, TopicPartition


def main():
    bootstrap, group, subscription, output, stopfile = sys.argv[1:6]
    assignor = sys.argv[6] if len(sys.argv) > 6 else "-"
    instance_id = sys.argv[7] if len(sys.argv) > 7 else None
    out = open(output, "a", buffering=1)

    def log(kind, partitions):
        out.write(kind + " " + " ".join(f"{p.topic}:{p.partition}" for p in partitions) + "\n")

    config = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "group.protocol": "consumer",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "topic.metadata.refresh.interval.ms": 1000,
    }
    if os.environ.get("GROUP_PROTOCOL") == "classic":
        config.update({
            "group.protocol": "classic",
            "partition.assignment.strategy": "cooperative-sticky",
            "session.timeout.ms": int(os.environ.get("CLASSIC_SESSION_MS", "6000")),
            "heartbeat.interval.ms": 300,
        })
    if assignor != "-":
        config["group.remote.assignor"] = assignor
    if instance_id:
        config["group.instance.id"] = instance_id
    consumer = Consumer(config)
    topics = subscription.split(",") if not subscription.startswith("^") else [subscription]
    consumer.subscribe(
        topics, on_assign=lambda c, ps: log("ASSIGN", ps), on_revoke=lambda c, ps: log("REVOKE", ps)
    )
    while not os.path.exists(stopfile):
        message = consumer.poll(0.2)
        if message is None:
            continue
        if message.error():
            out.write(f"ERROR {message.error().name()} {message.error().str()}\n")
            continue
        out.write(f"REC {message.topic()} {message.partition()} {message.offset()} {message.value().decode()}\n")
        consumer.commit(
            offsets=[TopicPartition(message.topic(), message.partition(), message.offset() + 1)],
            asynchronous=False,
        )
    consumer.close()
    out.write("CLOSED\n")


if __name__ == "__main__":
    main()
