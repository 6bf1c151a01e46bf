"""One consumer-group member with confluent-kafka (librdkafka), as a process.

  python harness/group_member.py BOOTSTRAP TOPIC GROUP NAME STATUS_FILE [key=value ...]

The command line, options, stdin commands ("pause", "stop") and status-file
format are those of java/src/FloeGroupMember.java (read its header);
`protocol=consumer` sets librdkafka's group.protocol=consumer (KIP-848).
Run by harness/groups.py, never imported by it.
"""

import json
import sys
import threading
import time

from confluent_kafka import Consumer, KafkaException, TopicPartition


class Member:
    def __init__(self, bootstrap, topic, group, name, status_path, options):
        self.topic = topic
        self.name = name
        self.status = open(status_path, "w", encoding="utf-8")
        self.lock = threading.Lock()
        self.owned = set()
        self.processed = {}  # partition -> next offset, from records processed
        self.position = {}  # partition -> next offset, committed or processed
        self.commits = 0
        self.pause_requested = False
        self.stop_requested = False
        self.commit_every = int(options.get("commit-every", "0"))
        self.rate = float(options.get("rate", "0"))
        self.finish = options.get("finish", "false") == "true"
        protocol = options.get("protocol", "classic")
        config = {"bootstrap.servers": bootstrap, "group.id": group, "client.id": name,
                  "group.protocol": protocol, "auto.offset.reset": "earliest",
                  "enable.auto.commit": False, "enable.auto.offset.store": False}
        if "assignor" in options:
            config["partition.assignment.strategy"] = options["assignor"]
        if protocol == "classic":
            config["session.timeout.ms"] = int(options.get("session", "10000"))
            config["heartbeat.interval.ms"] = 1000
        self.consumer = Consumer(config)

    def event(self, kind, **fields):
        line = {"ev": kind, "t": int(time.time() * 1000), **fields}
        with self.lock:
            self.status.write("E " + json.dumps(line) + "\n")
            self.status.flush()

    def report(self):
        self.event("assigned", member=self.consumer.memberid(), partitions=sorted(self.owned))

    def committed_view(self, partitions):
        got = self.consumer.committed([TopicPartition(self.topic, p) for p in partitions],
                                      timeout=30)
        return {str(tp.partition): None if tp.offset < 0 else [tp.offset, tp.metadata]
                for tp in got}

    def on_assign(self, consumer, partitions):
        new = [tp.partition for tp in partitions]
        self.owned.update(new)
        self.report()
        if new and (self.commit_every > 0 or self.finish):
            start = self.committed_view(new)
            self.event("start", offsets=start)
            for partition in new:
                self.position[partition] = (start[str(partition)] or [0])[0]
        if self.pause_requested and partitions:
            # librdkafka assigns after the callback returns: assign here, then pause.
            if consumer.rebalance_protocol() == "COOPERATIVE":
                consumer.incremental_assign(partitions)
            else:
                consumer.assign(partitions)
            consumer.pause(partitions)

    def on_revoke(self, consumer, partitions):
        for tp in partitions:
            self.owned.discard(tp.partition)
            self.processed.pop(tp.partition, None)
            self.position.pop(tp.partition, None)
        if partitions:
            self.report()

    def read_stdin(self):
        for line in sys.stdin:
            if line.strip() == "pause":
                self.pause_requested = True
            elif line.strip() == "stop":
                break
        self.stop_requested = True

    def commit(self):
        self.commits += 1
        metadata = f"{self.name}#{self.commits}"
        offsets = {p: self.processed[p] for p in sorted(self.owned) if p in self.processed}
        if not offsets:
            return True
        view = {str(p): o for p, o in offsets.items()}
        self.event("committing", offsets=view, metadata=metadata)
        try:
            self.consumer.commit(offsets=[TopicPartition(self.topic, p, o, metadata=metadata)
                                          for p, o in offsets.items()], asynchronous=False)
        except KafkaException as error:
            self.event("commit-failed", error=str(error), metadata=metadata)
            return False
        self.event("committed", offsets=view, metadata=metadata)
        return True

    def run(self):
        threading.Thread(target=self.read_stdin, daemon=True).start()
        end = {}
        if self.finish:
            metadata = self.consumer.list_topics(self.topic, timeout=60)
            for partition in metadata.topics[self.topic].partitions:
                end[partition] = self.consumer.get_watermark_offsets(
                    TopicPartition(self.topic, partition), timeout=30)[1]
        self.consumer.subscribe([self.topic], on_assign=self.on_assign,
                                on_revoke=self.on_revoke, on_lost=self.on_revoke)
        count = 0
        started = time.monotonic()
        paused = False
        while not self.stop_requested:
            if self.pause_requested and not paused:
                self.consumer.pause(self.consumer.assignment())
                paused = True
                self.event("paused", processed=count)
            messages = self.consumer.consume(num_messages=50, timeout=0.2)
            if paused:
                continue
            for message in messages:
                if self.pause_requested or self.stop_requested:
                    break  # the rest of the batch is dropped unprocessed
                if message.error() is not None:
                    self.event("error", error=str(message.error()))
                    continue
                if message.partition() not in self.owned:
                    continue
                if self.rate > 0:
                    wait = started + count / self.rate - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                headers = ",".join(f"{k}={(v or b'').decode()}"
                                   for k, v in (message.headers() or []))
                with self.lock:
                    self.status.write(f"R\t{message.partition()}\t{message.offset()}\t"
                                      f"{(message.key() or b'').decode()}\t"
                                      f"{(message.value() or b'').decode()}\t{headers}\n")
                self.processed[message.partition()] = message.offset() + 1
                self.position[message.partition()] = message.offset() + 1
                count += 1
                if self.commit_every > 0 and count % self.commit_every == 0:
                    with self.lock:
                        self.status.flush()
                    self.commit()
            with self.lock:
                self.status.flush()
            if self.finish and self.owned == set(end) \
                    and all(self.position.get(p, -1) >= end[p] for p in end):
                self.processed.update(end)
                if self.commit():
                    self.event("final", offsets=self.committed_view(sorted(end)))
                    break
        self.consumer.close()
        self.event("closed")


def main(argv):
    if len(argv) < 5:
        sys.exit("usage: group_member.py BOOTSTRAP TOPIC GROUP NAME STATUS_FILE [key=value ...]")
    options = dict(arg.split("=", 1) for arg in argv[5:])
    Member(*argv[:5], options).run()


if __name__ == "__main__":
    main(sys.argv[1:])
