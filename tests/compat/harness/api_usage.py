"""Which Kafka APIs, at which versions, the clients sent (from Kafka's request log).

With run.py --broker kafka --log-requests, the Apache Kafka broker logs
every request it completes (kafka.request.logger at DEBUG, one JSON
document a line). This module turns that log into a summary per client:
the APIs Floe must serve for these scenarios, and the versions the clients
chose against Kafka 4.1 (against Floe they pick from what Floe advertises).
"""

import collections
import json
import re

_MARK = "Completed request:"
# Client ids carry topic names, group names and counters; fold those.
_TOPIC = re.compile(r"compat-[a-z0-9-]*?[0-9a-f]{6}(-group|-perf)?")
_COUNTER = re.compile(r"-\d+$")


def _client_kind(client_id):
    return _COUNTER.sub("", _TOPIC.sub("<topic>", client_id or "")) or "(none)"


def summarize(log_path):
    """{client kind: {api name: set of versions}} for the client listener."""
    usage = collections.defaultdict(lambda: collections.defaultdict(set))
    with open(log_path, errors="replace") as log:
        for line in log:
            at = line.find(_MARK)
            if at < 0:
                continue
            text = line[at + len(_MARK):].strip()
            text = text.rsplit(" (kafka.request.logger)", 1)[0]
            try:
                entry = json.loads(text)
            except ValueError:
                continue
            if entry.get("listener") != "PLAINTEXT":
                continue  # the node's own controller traffic
            header = entry.get("requestHeader", {})
            usage[_client_kind(header.get("clientId"))][header.get("requestApiKeyName")].add(
                header.get("requestApiVersion"))
    return usage


def format_usage(usage):
    lines = []
    for client in sorted(usage):
        apis = usage[client]
        listed = ", ".join(f"{api} v{'/'.join(str(v) for v in sorted(versions))}"
                           for api, versions in sorted(apis.items()))
        lines.append(f"{client}: {listed}")
    return lines
