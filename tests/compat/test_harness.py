"""Self-test of the harness's checks: each kind of broken read-back is caught.

  .deps/venv/bin/python -m unittest discover -s tests/compat -p 'test_*.py'

Needs no broker and no client.
"""

import pathlib
import sys
import tempfile
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from harness import records  # noqa: E402

COUNT = 300


def good_read(client="java", per_record=True, partitions=3):
    """What a correct broker returns: records spread over partitions by key."""
    offsets = [0] * partitions
    read = []
    for seq in range(COUNT):
        partition = (seq % records.KEY_COUNT) % partitions
        headers = records.format_headers(records.headers_of(seq, client, per_record))
        read.append(records.Consumed(partition, offsets[partition], records.key_of(seq),
                                     records.value_of(seq), headers))
        offsets[partition] += 1
    # A consumer reads partition by partition, not in producing order.
    return sorted(read, key=lambda record: (record.partition, record.offset))


def problems(read, **kwargs):
    report = records.verify(read, COUNT, "java", **kwargs)
    return report.summary() if not report else ""


class VerifyTest(unittest.TestCase):
    def test_correct_read_passes(self):
        self.assertEqual(problems(good_read()), "")

    def test_client_only_headers(self):
        read = good_read("kcat", per_record=False)
        self.assertEqual(records.verify(read, COUNT, "kcat", "client-only").count, 0)

    def test_missing_record(self):
        read = good_read()
        del read[-1]
        self.assertIn("1 of 300 records missing", problems(read))

    def test_duplicate_record(self):
        read = good_read()
        last = read[-1]
        read.append(last._replace(offset=last.offset + 1))
        self.assertIn("duplicate", problems(read))

    def test_offset_gap(self):
        read = good_read()
        read[5] = read[5]._replace(offset=read[5].offset + 7)
        self.assertIn("gap", problems(read))

    def test_offsets_not_from_zero(self):
        read = [r._replace(offset=r.offset + 1) if r.partition == 1 else r for r in good_read()]
        self.assertIn("partition 1: offset 1 read where 0 was next", problems(read))

    def test_changed_value(self):
        read = good_read()
        read[3] = read[3]._replace(value=read[3].value + "x")
        self.assertIn("value differs", problems(read))

    def test_changed_key(self):
        read = good_read()
        read[3] = read[3]._replace(key="key-999")
        self.assertIn("expected", problems(read))

    def test_missing_header(self):
        read = good_read()
        read[3] = read[3]._replace(headers="")
        self.assertIn("headers", problems(read))

    def test_key_order(self):
        read = good_read(partitions=1)
        # Swap two records of key-000 (seq 0 and seq 997 would do; COUNT is
        # smaller, so use a key's two records by building them explicitly).
        first, second = read[0], read[1]
        read[0] = second._replace(offset=0)
        read[1] = first._replace(offset=1)
        self.assertEqual(problems(read), "")  # different keys: any order is fine
        same_key = [records.Consumed(0, 0, records.key_of(997), records.value_of(997), ""),
                    records.Consumed(0, 1, records.key_of(0), records.value_of(0), "")]
        report = records.verify(same_key, 998, "java", "ignore")
        self.assertIn("out of producing order", report.summary())

    def test_key_in_two_partitions(self):
        same_key = [records.Consumed(0, 0, records.key_of(0), records.value_of(0), ""),
                    records.Consumed(1, 0, records.key_of(997), records.value_of(997), "")]
        report = records.verify(same_key, 998, "java", "ignore")
        self.assertIn("found in partitions 0 and 1", report.summary())

    def test_end_offset_not_reached(self):
        report = records.verify(good_read(), COUNT, "java", end_offsets={0: 10 ** 6})
        self.assertIn("end offset is 1000000", report.summary())


class FileFormatTest(unittest.TestCase):
    def test_round_trip(self):
        with tempfile.TemporaryDirectory() as work:
            path = pathlib.Path(work) / "read.tsv"
            with open(path, "w") as out:
                for record in good_read():
                    out.write("\t".join(map(str, record)) + "\n")
            self.assertEqual(records.read_consumed(path), good_read())

    def test_values_fit_the_line_format(self):
        for seq in range(5000):
            value = records.value_of(seq)
            self.assertNotIn("\t", value)
            self.assertNotIn("\n", value)
            self.assertEqual(records.seq_of(value), seq)


if __name__ == "__main__":
    unittest.main()
