"""Self-test of groups-resume's delivery check: each way of resuming wrong is caught.

  .deps/venv/bin/python -m unittest discover -s tests/compat -p 'test_*.py'

Needs no broker and no client: members are replaced by their status lines.
"""

import pathlib
import sys
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from harness import group_members, group_scenarios, records  # noqa: E402

COUNT = 10  # one partition, record seq at offset seq


class FakeMember:
    """What Member.read() gives, built step by step."""

    def __init__(self, name, program="java"):
        self.name = name
        self.program = program
        self.stored_metadata_suffix = ""
        self.lines = []

    def event(self, kind, t, **fields):
        self.lines.append(("E", {"ev": kind, "t": t, **fields}))
        return self

    def assigned(self, t, partitions, **fields):
        return self.event("assigned", t, member=self.name, partitions=partitions, **fields)

    def commit(self, t, offset, confirmed=True):
        metadata = f"{self.name}@{t}"
        self.event("committing", t, offsets={"0": offset}, metadata=metadata)
        if confirmed:
            self.event("committed", t + 0.5, offsets={"0": offset}, metadata=metadata)
        return self

    def read_offsets(self, *offsets):
        for offset in offsets:
            self.lines.append(("R", 0, offset, records.key_of(offset), records.value_of(offset),
                               records.format_headers(records.headers_of(offset, "python"))))
        return self

    def read(self):
        return [line[1] for line in self.lines if line[0] == "E"], self.lines

    def events(self, kind=None):
        return [e for e in self.read()[0] if kind is None or e["ev"] == kind]


def problems(*members):
    return group_scenarios._check_deliveries(list(members), {0: COUNT}, COUNT)


class ResumeCheckTest(unittest.TestCase):
    def test_exact_resume_passes(self):
        a = FakeMember("a").assigned(1, [0]).read_offsets(0, 1, 2, 3, 4).commit(2, 5) \
            .read_offsets(5, 6)  # processed, not committed: delivered again to b
        b = FakeMember("b").assigned(3, [0]).read_offsets(5, 6, 7, 8, 9)
        self.assertEqual(problems(a, b), [])

    def test_resume_after_the_commit_is_a_skip(self):
        a = FakeMember("a").assigned(1, [0]).read_offsets(0, 1, 2, 3, 4).commit(2, 5)
        b = FakeMember("b").assigned(3, [0]).read_offsets(6, 7, 8, 9)
        found = problems(a, b)
        self.assertTrue(any("read from offset 6, the committed offset was 5" in p
                            for p in found), found)
        self.assertTrue(any("missing" in p for p in found), found)

    def test_resume_before_the_commit(self):
        a = FakeMember("a").assigned(1, [0]).read_offsets(0, 1, 2, 3, 4).commit(2, 5)
        b = FakeMember("b").assigned(3, [0]).read_offsets(3, 4, 5, 6, 7, 8, 9)
        found = problems(a, b)
        self.assertTrue(any("read from offset 3, the committed offset was 5" in p
                            for p in found), found)

    def test_gap_within_a_run(self):
        a = FakeMember("a").assigned(1, [0]).read_offsets(0, 1, 2, 4, 5, 6, 7, 8, 9)
        found = problems(a)
        self.assertTrue(any("offset 4 after 2" in p for p in found), found)

    def test_commit_of_unknown_outcome_allows_either(self):
        # a was killed while committing 8: the broker may or may not have it.
        for start in (5, 8):
            a = FakeMember("a").assigned(1, [0]).read_offsets(*range(8)).commit(2, 5) \
                .commit(3, 8, confirmed=False)
            b = FakeMember("b").assigned(4, [0]).read_offsets(*range(start, COUNT))
            self.assertEqual(problems(a, b), [], start)

    def test_no_commit_means_from_the_start(self):
        a = FakeMember("a").assigned(1, [0]).read_offsets(0, 1, 2)
        b = FakeMember("b").assigned(3, [0]).read_offsets(3, 4, 5, 6, 7, 8, 9)
        found = problems(a, b)
        self.assertTrue(any("read from offset 3, the committed offset was 0" in p
                            for p in found), found)

    def test_start_event_must_match_the_first_record(self):
        a = FakeMember("a").assigned(1, [0]).read_offsets(0, 1, 2, 3, 4).commit(2, 5)
        b = FakeMember("b").assigned(3, [0]).event("start", 3, offsets={"0": [4, "a@2"]}) \
            .read_offsets(5, 6, 7, 8, 9)
        found = problems(a, b)
        self.assertTrue(any("read committed offset [4, 'a@2']" in p for p in found), found)

    def test_record_of_a_partition_not_owned(self):
        a = FakeMember("a").assigned(1, [0]).read_offsets(*range(5)).assigned(2, []) \
            .read_offsets(5)
        found = problems(a)
        self.assertTrue(any("without owning it" in p for p in found), found)

    def test_kept_partition_continues_incrementally(self):
        # Cooperative / KIP-848: a keeps partition 0 across a rebalance.
        a = FakeMember("a").assigned(1, [0]).read_offsets(0, 1, 2).assigned(2, [0, 1]) \
            .read_offsets(3, 4, 5, 6, 7, 8, 9)
        self.assertEqual(problems(a), [])

    def test_fresh_assignment_restarts_from_the_commit(self):
        # KafkaJS (eager): every assignment starts over at the committed offset.
        a = FakeMember("a", "kafkajs").assigned(1, [0], fresh=True).read_offsets(0, 1, 2) \
            .commit(2, 3).assigned(3, [0], fresh=True).read_offsets(*range(3, COUNT))
        self.assertEqual(problems(a), [])
        a = FakeMember("a", "kafkajs").assigned(1, [0], fresh=True).read_offsets(0, 1, 2) \
            .commit(2, 2).assigned(3, [0], fresh=True).read_offsets(*range(3, COUNT))
        self.assertTrue(problems(a))


class KcatParseTest(unittest.TestCase):
    def test_rebalance_lines(self):
        text = ("% Waiting for group rebalance\n"
                "% Group g rebalanced (memberid m-1): assigned: t [0], t [1], t [2]\n"
                "% Reached end of topic t [0] at offset 0\n"
                "% Group g rebalanced (memberid m-1): revoked: t [0], t [1], t [2]\n"
                "% Group g rebalanced (memberid m-1): assigned: t [2]\n")
        events, _ = group_members._kcat_events(text)
        self.assertEqual([e["partitions"] for e in events], [[0, 1, 2], [], [2]])
        self.assertEqual({e["member"] for e in events}, {"m-1"})


if __name__ == "__main__":
    unittest.main()
