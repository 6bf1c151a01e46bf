#!/usr/bin/env python3
"""Apache Kafka behind Floe's command line, to check the harness's floe mode.

  kafka_as_floe.py serve --listen 127.0.0.1:PORT --data-dir DIR

starts one KRaft Kafka node (broker and controller) listening on PORT with
its logs and configuration under DIR, formatting DIR's storage only the
first time, so that a restart on the same DIR keeps the data. It replaces
itself with the JVM (exec), so signals reach Kafka directly.

  run.py --broker floe --floe-bin tests/compat/kafka_as_floe.py

then runs every scenario through the floe launcher (start, SIGKILL, restart on
the same data directory) while the broker is one known to work.

Floe's group settings given in the environment (FLOE_GROUP_*, as the group
scenarios set them) become the matching Kafka settings.
"""

import argparse
import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from harness import brokers, procs, wire  # noqa: E402


# Floe's environment setting -> Kafka's settings (a minimum follows the value
# so that a value below Kafka's default minimum is accepted).
GROUP_SETTINGS = {
    "FLOE_GROUP_INITIAL_REBALANCE_DELAY_MS": ["group.initial.rebalance.delay.ms"],
    "FLOE_GROUP_MIN_SESSION_TIMEOUT_MS": ["group.min.session.timeout.ms"],
    "FLOE_GROUP_MAX_SESSION_TIMEOUT_MS": ["group.max.session.timeout.ms"],
    "FLOE_GROUP_CONSUMER_SESSION_TIMEOUT_MS": ["group.consumer.session.timeout.ms",
                                               "group.consumer.min.session.timeout.ms"],
    "FLOE_GROUP_CONSUMER_HEARTBEAT_INTERVAL_MS": ["group.consumer.heartbeat.interval.ms",
                                                  "group.consumer.min.heartbeat.interval.ms"],
}


def group_config(environ):
    config = {}
    for variable, settings in GROUP_SETTINGS.items():
        if environ.get(variable):
            for setting in settings:
                config[setting] = environ[variable]
    return config


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["serve"])
    parser.add_argument("--listen", required=True)
    parser.add_argument("--data-dir", required=True)
    args = parser.parse_args()
    host, port = args.listen.rsplit(":", 1)
    if host != "127.0.0.1":
        parser.error("only 127.0.0.1 is supported")
    data = pathlib.Path(args.data_dir).resolve()
    data.mkdir(parents=True, exist_ok=True)
    broker = brokers.KafkaBroker(data, extra_config=group_config(os.environ))
    broker.port = int(port)
    port_file = data / "controller.port"
    if port_file.exists():
        broker.controller_port = int(port_file.read_text())
    else:
        while broker.controller_port == broker.port:
            broker.controller_port = wire.free_port()
        port_file.write_text(str(broker.controller_port))
    if not (broker.data_dir / "meta.properties").exists():
        broker._prepare()  # writes server.properties and formats the storage
    argv = broker._argv()
    procs.stop_all()
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    main()
