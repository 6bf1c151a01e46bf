"""The records every client scenario produces, and the check of what it read.

Record `seq` (0 <= seq < count) has
  key     "key-NNN"     NNN = seq % KEY_COUNT, so each key carries many records
  value   "SSSSSSSSSS|" + deterministic words (10-digit seq, then 40-160
          bytes of text: compressible, but not trivially)
  headers floe-seq=<seq> and floe-client=<client> (clients that can set a
          header per record); kcat sets only floe-client=kcat
Keys and values are printable ASCII without tabs, so that every client can
write what it consumed as one line per record:

  partition \\t offset \\t key \\t value \\t headers

where headers is `name=value` pairs joined by "," (empty when none).

The content depends only on seq, never on the partition a client's
partitioner picks, so one check serves every client.
"""

import collections

KEY_COUNT = 997
_WORDS = ("floe", "stream", "partition", "offset", "batch", "segment", "object", "wal",
          "epoch", "leader", "fetch", "produce", "commit", "record", "header", "broker",
          "replica", "cluster", "client", "consumer", "group", "zone", "durable", "acked")


def key_of(seq):
    return f"key-{seq % KEY_COUNT:03d}"


def value_of(seq):
    state = (seq * 2654435761 + 12345) & 0xFFFFFFFF
    words = []
    length = 11
    target = 40 + seq % 121
    while length < target:
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        word = _WORDS[(state >> 8) % len(_WORDS)]
        words.append(word)
        length += len(word) + 1
    return f"{seq:010d}|" + " ".join(words)


def seq_of(value):
    return int(value[:10])


def headers_of(seq, client, per_record=True):
    if per_record:
        return [("floe-seq", str(seq)), ("floe-client", client)]
    return [("floe-client", client)]


def format_headers(headers):
    return ",".join(f"{name}={value}" for name, value in headers)


def write_input(path, count):
    """The records as `key \\t value` lines, for producers that read a file."""
    with open(path, "w") as out:
        for seq in range(count):
            out.write(f"{key_of(seq)}\t{value_of(seq)}\n")


Consumed = collections.namedtuple("Consumed", "partition offset key value headers")


def read_consumed(path):
    """Parses a consumer's output file (format above), in the order read."""
    records = []
    with open(path, encoding="utf-8", errors="replace") as source:
        for number, line in enumerate(source, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            fields = line.split("\t")
            if len(fields) == 4:
                fields.append("")
            if len(fields) != 5:
                raise ValueError(f"{path}:{number}: malformed line {line[:200]!r}")
            records.append(Consumed(int(fields[0]), int(fields[1]), fields[2], fields[3],
                                    fields[4]))
    return records


class Report:
    """Collected problems, capped so that a broken run prints readably."""

    def __init__(self, limit=20):
        self.limit = limit
        self.problems = []
        self.count = 0

    def add(self, message):
        self.count += 1
        if len(self.problems) < self.limit:
            self.problems.append(message)

    def __bool__(self):
        return self.count == 0

    def summary(self):
        more = f"\n  ... and {self.count - len(self.problems)} more" \
            if self.count > len(self.problems) else ""
        return "\n  ".join(self.problems) + more


def check_offsets(records, report, end_offsets=None, start_offsets=None):
    """Per partition: offsets strictly increasing in read order and contiguous
    from the start offset (0 unless records were deleted) to the end offset."""
    by_partition = collections.defaultdict(list)
    for record in records:
        by_partition[record.partition].append(record.offset)
    partitions = set(by_partition) | set(end_offsets or {})
    for partition in sorted(partitions):
        offsets = by_partition.get(partition, [])
        start = (start_offsets or {}).get(partition, 0)
        expected_next = start
        for offset in offsets:
            if offset != expected_next:
                kind = "gap" if offset > expected_next else "repeat or reorder"
                report.add(f"partition {partition}: offset {offset} read where {expected_next} "
                           f"was next ({kind})")
                if offset < expected_next:
                    continue
            expected_next = offset + 1
        if end_offsets is not None and partition in end_offsets \
                and expected_next != end_offsets[partition]:
            report.add(f"partition {partition}: read up to offset {expected_next - 1}, "
                       f"end offset is {end_offsets[partition]}")


def verify(records, count, client, headers_mode="per-record", end_offsets=None):
    """Checks one client's consumed records against the `count` produced.

    headers_mode: "per-record" (both headers), "client-only" (kcat), or
    "ignore". Returns a Report; it is truthy when nothing is wrong.
    """
    report = Report()
    seen = {}
    key_partition = {}
    last_seq_of_key = {}
    for record in records:
        try:
            seq = seq_of(record.value)
        except ValueError:
            report.add(f"partition {record.partition} offset {record.offset}: value "
                       f"{record.value[:60]!r} carries no sequence number")
            continue
        where = f"seq {seq} (partition {record.partition} offset {record.offset})"
        if not 0 <= seq < count:
            report.add(f"{where}: sequence number out of range")
            continue
        if seq in seen:
            first = seen[seq]
            report.add(f"{where}: duplicate, first read at partition {first[0]} "
                       f"offset {first[1]}")
            continue
        seen[seq] = (record.partition, record.offset)
        if record.key != key_of(seq):
            report.add(f"{where}: key {record.key!r}, expected {key_of(seq)!r}")
        if record.value != value_of(seq):
            report.add(f"{where}: value differs: {record.value[:80]!r}")
        if headers_mode != "ignore":
            expected = format_headers(headers_of(seq, client, headers_mode == "per-record"))
            if record.headers != expected:
                report.add(f"{where}: headers {record.headers!r}, expected {expected!r}")
        key = record.key
        partition = key_partition.setdefault(key, record.partition)
        if partition != record.partition:
            report.add(f"{where}: key {key} found in partitions {partition} and "
                       f"{record.partition}")
        # Within a key's partition, read order must be producing order.
        previous = last_seq_of_key.get(key)
        if previous is not None and seq < previous:
            report.add(f"{where}: key {key} out of producing order (seq {previous} "
                       f"read before it)")
        last_seq_of_key[key] = seq
    missing = count - len(seen)
    if missing:
        sample = [seq for seq in range(count) if seq not in seen][:10]
        report.add(f"{missing} of {count} records missing (first: {sample})")
    check_offsets(records, report, end_offsets)
    return report
