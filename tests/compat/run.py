#!/usr/bin/env python3
"""Floe's real-client compatibility tests: one entry point.

  .deps/venv/bin/python tests/compat/run.py --broker floe --floe-bin build/floe
  .deps/venv/bin/python tests/compat/run.py --broker kafka --scenario java --records 10000
  .deps/venv/bin/python tests/compat/run.py --broker kafka --groups   # consume in groups

Each scenario runs against a fresh broker of the chosen kind (its own port
and data directory), stopped afterwards. Prints one PASS/FAIL line per
scenario part, then "N passed, M failed"; exits 1 when anything failed.
See tests/compat/README.md.
"""

import argparse
import pathlib
import shutil
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from harness import (api_usage, brokers, clients, group_scenarios, group_wire,  # noqa: E402
                     paths, procs, scenarios)

CLIENT_SCENARIOS = ("kcat", "python", "java", "kafkajs")
GROUP_SCENARIOS = ("groups-membership", "groups-resume", "groups-tool", "groups-wire")
# "all" is the record-checking scenarios; "groups" the consumer-group ones.
ALL = (*CLIENT_SCENARIOS, "kafka-tools", "restart")
SCENARIOS = (*ALL, *GROUP_SCENARIOS)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--broker", choices=("floe", "kafka"), required=True,
                        help="broker under test: Floe's binary, or Apache Kafka (to validate "
                             "the harness)")
    parser.add_argument("--floe-bin", default=str(paths.REPO / "build" / "floe"),
                        help="the floe executable (default: build/floe)")
    parser.add_argument("--floe-arg", action="append", default=[], metavar="ARG",
                        help="extra argument for `floe serve` (repeatable)")
    parser.add_argument("--scenario", action="append", metavar="NAME",
                        help=f"one of {', '.join(SCENARIOS)}, all (the first six) or groups "
                             f"(the groups-* ones); repeatable, or comma-separated; default "
                             f"all")
    parser.add_argument("--codec", default=",".join(scenarios.CODECS),
                        help="codecs for the client scenarios (default: all four)")
    parser.add_argument("--records", type=int, default=100000,
                        help="records per client and codec, and for the restart scenario "
                             "(default 100000)")
    parser.add_argument("--group-kinds", default=None, metavar="LIST",
                        help="client kinds for groups-membership and groups-resume, "
                             "comma-separated, from "
                             f"{', '.join(group_scenarios.MEMBERSHIP_KINDS)} (default: each "
                             "scenario's own list, see README)")
    parser.add_argument("--group-lanes", type=int, default=3,
                        help="client kinds run at once in groups-membership and groups-resume "
                             "(each with its own topic and group; default 3, 1 runs them one "
                             "after the other)")
    parser.add_argument("--group-records", type=int, default=2000,
                        help="records per client kind in groups-resume (default 2000)")
    parser.add_argument("--kills", type=int, default=3,
                        help="broker SIGKILLs in the restart scenario (at least 2; default 3)")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed for the restart scenario's kill points")
    parser.add_argument("--startup-timeout", type=float, default=None,
                        help="seconds a broker may take to answer ApiVersions "
                             "(default 30 for floe, 90 for kafka)")
    parser.add_argument("--groups", action="store_true",
                        help="consume through consumer groups (subscribe, commit, committed "
                             "offsets checked) instead of the default explicit assignment of "
                             "every partition, which needs no group APIs")
    parser.add_argument("--log-requests", action="store_true",
                        help="kafka only: log every request the broker serves and print, per "
                             "scenario, which APIs and versions each client used")
    parser.add_argument("--work-dir", default=None,
                        help="where logs and data go (default: a new directory in /tmp, "
                             "removed after a fully passing run)")
    parser.add_argument("--keep", action="store_true",
                        help="keep the work directory even when everything passed")
    args = parser.parse_args(argv)
    chosen = []
    for item in args.scenario or ["all"]:
        for name in item.split(","):
            name = name.strip()
            if name == "all":
                chosen.extend(ALL)
            elif name == "groups":
                chosen.extend(GROUP_SCENARIOS)
            elif name in SCENARIOS:
                chosen.append(name)
            else:
                parser.error(f"unknown scenario {name!r} (choose from "
                             f"{', '.join(SCENARIOS)}, all, groups)")
    args.scenarios = list(dict.fromkeys(chosen))
    args.codecs = [codec.strip() for codec in args.codec.split(",") if codec.strip()]
    for codec in args.codecs:
        if codec not in scenarios.CODECS:
            parser.error(f"unknown codec {codec!r}")
    args.group_kinds_list = None
    if args.group_kinds:
        args.group_kinds_list = [kind.strip() for kind in args.group_kinds.split(",")
                                 if kind.strip()]
        for kind in args.group_kinds_list:
            if kind not in group_scenarios.MEMBERSHIP_KINDS:
                parser.error(f"unknown group client kind {kind!r}")
    if args.group_records < 300:
        parser.error("--group-records must be at least 300")
    if args.records < 100:
        parser.error("--records must be at least 100")
    if args.kills < 2:
        parser.error("--kills must be at least 2")
    if args.log_requests and args.broker != "kafka":
        parser.error("--log-requests needs --broker kafka")
    return args


def run_scenario(name, args, work):
    work.mkdir(parents=True, exist_ok=True)
    groups = name in GROUP_SCENARIOS
    broker = brokers.make_broker(
        args.broker, work / "broker", args.floe_bin, args.floe_arg, args.startup_timeout,
        log_requests=args.log_requests,
        kafka_config=group_scenarios.KAFKA_GROUP_CONFIG if groups else None,
        floe_env=group_scenarios.FLOE_GROUP_ENV if groups else None)
    started = time.monotonic()
    try:
        broker.start()
    except (brokers.BrokerError, RuntimeError, OSError) as error:
        outcome = scenarios.Outcome(name, "broker", False, f"broker did not start: {error}",
                                    time.monotonic() - started)
        report(outcome)
        return [outcome]
    print(f"  {args.broker} broker on {broker.bootstrap} answered ApiVersions after "
          f"{broker.ready_seconds:.1f}s (log {broker.log_path})", flush=True)
    try:
        if name in CLIENT_SCENARIOS:
            outcomes = []
            for codec in args.codecs:
                outcome = scenarios.run_client_codec(clients.CLIENTS[name], broker, codec,
                                                     args.records, work, groups=args.groups)
                report(outcome)
                outcomes.append(outcome)
                if not broker.alive():
                    break
        elif name in GROUP_SCENARIOS:
            outcomes = run_group_scenario(name, args, broker, work)
        elif name == "kafka-tools":
            outcomes = scenarios.run_kafka_tools(broker, args.records, work, groups=args.groups)
            for outcome in outcomes:
                report(outcome)
        else:
            outcomes = scenarios.run_restart(broker, args.records, work, kills=args.kills,
                                             seed=args.seed, groups=args.groups)
            for outcome in outcomes:
                report(outcome)
        if not broker.alive():
            outcome = scenarios.Outcome(name, "broker", False,
                                        f"the broker exited during the scenario (code "
                                        f"{broker.proc.returncode}); log {broker.log_path}:\n"
                                        f"{brokers.log_tail(broker.log_path)}")
            report(outcome)
            outcomes.append(outcome)
        return outcomes
    finally:
        broker.stop()
        if args.log_requests and args.broker == "kafka":
            lines = api_usage.format_usage(api_usage.summarize(broker.log_path))
            print("  requests served, by client: API and versions used", flush=True)
            for line in lines:
                print(f"    {line}", flush=True)
            with open(work.parent / "api-usage.txt", "a") as out:
                out.write(f"== {name}\n" + "".join(f"{line}\n" for line in lines))


def run_group_scenario(name, args, broker, work):
    """One of the groups-* scenarios; each Outcome is reported as it comes."""
    kinds = args.group_kinds_list
    if name == "groups-membership":
        outcomes = group_scenarios.run_membership(
            broker, work, kinds or group_scenarios.MEMBERSHIP_KINDS, args.group_lanes)
    elif name == "groups-resume":
        resume_kinds = [kind for kind in (kinds or group_scenarios.RESUME_KINDS)
                        if kind in group_scenarios.RESUME_KINDS]
        outcomes = group_scenarios.run_resume(broker, work, resume_kinds, args.group_records,
                                              args.group_lanes)
    elif name == "groups-tool":
        outcomes = group_scenarios.run_tool(broker, work)
    else:
        outcomes = group_wire.run_wire(broker)
    for outcome in outcomes:
        report(outcome)
    return outcomes


def report(outcome):
    status = "PASS" if outcome.ok else "FAIL"
    first, _, rest = outcome.detail.partition("\n")
    print(f"{status} {outcome.name:<38} {outcome.seconds:7.1f}s  {first}", flush=True)
    if rest:
        print("    " + rest.replace("\n", "\n    "), flush=True)
    for note in outcome.notes:
        print(f"    note: {note}", flush=True)


def main(argv=None):
    args = parse_args(argv)
    procs.install_cleanup()
    if args.work_dir:
        work_root = pathlib.Path(args.work_dir).resolve()
        work_root.mkdir(parents=True, exist_ok=True)
    else:
        work_root = pathlib.Path(tempfile.mkdtemp(prefix="floe-compat-"))
    mode = "consumer groups (--groups)" if args.groups else "explicit assignment, no groups"
    print(f"compat: broker {args.broker}, scenarios {', '.join(args.scenarios)}, "
          f"{args.records} records, consuming with {mode}, work dir {work_root}", flush=True)
    results = []
    durations = {}
    for name in args.scenarios:
        print(f"== {name}", flush=True)
        started = time.monotonic()
        results.extend(run_scenario(name, args, work_root / name))
        durations[name] = time.monotonic() - started
    failed = [outcome for outcome in results if not outcome.ok]
    print("compat: scenario times: " + ", ".join(f"{name} {seconds:.0f}s"
                                                 for name, seconds in durations.items()))
    for outcome in failed:
        first = outcome.detail.splitlines()[0] if outcome.detail else ""
        print(f"compat: FAILED {outcome.name} against {args.broker}: {first}")
    if failed or args.keep or args.work_dir:
        print(f"compat: logs and data kept in {work_root}")
    else:
        shutil.rmtree(work_root, ignore_errors=True)
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
