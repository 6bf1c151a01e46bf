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
"""

import argparse
import os
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from harness import brokers, procs, wire  # noqa: E402


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
    broker = brokers.KafkaBroker(data)
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
