#!/usr/bin/env python3
"""Drives a recent librdkafka (bundled in the confluent-kafka Python wheel)
against capture_server.py, mirroring java/Capture.java:

  1. one idempotent producer per compression type (client.id
     golden-rdkafka-<codec>) sends 3 records to <topic> partition 0 in one
     batch with fixed timestamps;
  2. an AdminClient (golden-rdkafka-admin) creates golden-rdkafka-admin (3
     partitions) and describes it;
  3. a group consumer (golden-rdkafka-consumer, group golden-rdkafka-group)
     polls the records back and commits.

kcat (Debian's librdkafka 2.0.2) negotiates only pre-flexible versions; this
newer librdkafka negotiates flexible ones. Run with the venv made by
capture-all.sh:  librdkafka_capture.py <bootstrap> <topic>
"""

import sys
import time

import confluent_kafka
from confluent_kafka import Consumer, Producer, TopicCollection
from confluent_kafka.admin import AdminClient, NewTopic

CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
RECORDS = 3
BASE_TIMESTAMP_MS = 1700000000000


def key(i):
    return "key-%d" % i


def value(i, codec):
    return "value-%d-%s-%s" % (i, codec, "floe" * 8)


def produce(bootstrap, topic, codec):
    p = Producer({
        "bootstrap.servers": bootstrap,
        "client.id": "golden-rdkafka-" + codec,
        "acks": "all",
        "enable.idempotence": True,
        "compression.type": codec,
        "linger.ms": 200,
        "message.timeout.ms": 6000,
        "socket.timeout.ms": 3000,
    })
    errors = []
    for i in range(RECORDS):
        p.produce(topic, key=key(i), value=value(i, codec), partition=0,
                  timestamp=BASE_TIMESTAMP_MS + i, headers=[("h1", b"v1"), ("h2", b"v2")],
                  on_delivery=lambda err, msg: err and errors.append(err))
    remaining = p.flush(8)
    if remaining or errors:
        raise RuntimeError("undelivered=%d errors=%s" % (remaining, errors))


def admin(bootstrap, topic):
    a = AdminClient({"bootstrap.servers": bootstrap, "client.id": "golden-rdkafka-admin",
                     "socket.timeout.ms": 3000})
    name = "golden-rdkafka-admin"
    futures = a.create_topics([NewTopic(name, num_partitions=3, replication_factor=1,
                                        config={"retention.ms": "86400000"})],
                              request_timeout=5)
    futures[name].result(timeout=6)
    described = a.describe_topics(TopicCollection([name, topic]), request_timeout=5)
    for n, f in described.items():
        print("capture: described", n, len(f.result(timeout=6).partitions), "partitions")


def consume(bootstrap, topic):
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "client.id": "golden-rdkafka-consumer",
        "group.id": "golden-rdkafka-group",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "fetch.wait.max.ms": 200,
        "socket.timeout.ms": 3000,
        "session.timeout.ms": 6000,
    })
    c.subscribe([topic])
    seen = 0
    deadline = time.time() + 10
    while seen < RECORDS and time.time() < deadline:
        msg = c.poll(0.5)
        if msg is not None and not msg.error():
            seen += 1
    if seen:
        c.commit(asynchronous=False)
    c.close()
    print("capture: consumed %d records" % seen)


def step(name, fn, *args):
    """Runs one independent step; returns 1 if it failed (reported, not raised)."""
    try:
        fn(*args)
        print("capture: %s: ok" % name, flush=True)
        return 0
    except Exception as e:  # each step is independent; report and go on
        print("capture: %s: %r" % (name, e), flush=True)
        return 1


def main():
    bootstrap = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:19095"
    topic = sys.argv[2] if len(sys.argv) > 2 else "golden"
    print("capture: confluent-kafka %s, librdkafka %s" % (
        confluent_kafka.version(), confluent_kafka.libversion()[0]), flush=True)
    failed = 0
    for codec in CODECS:
        failed += step("produce " + codec, produce, bootstrap, topic, codec)
    failed += step("admin", admin, bootstrap, topic)
    failed += step("consume", consume, bootstrap, topic)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
