"""Benchmark: the peak memory of `google-sync test --json` writing a first synchronization's plan. Prints figures.

    .venv/bin/python tests/bench/bench_test_json.py [--users 100000]

Each way runs in a process of its own (peak resident memory is per process): the directory state of --users
users in 200 groups is built in memory, planned against an empty Google (every user and membership is a
change, as in a first synchronization), and the report written to /dev/null as JSON:
  whole:    as before, json.dumps of the report's data, then print (the text and every change's dict at once);
  streamed: as `google-sync test --json` does now (json_output.write: each change's dict made as it is written).
The plan itself is in memory either way: the difference is the output.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time


def build_report(users: int):
    from app_google_sync.libraries.core.model import (
        DirectoryGroup,
        DirectoryState,
        DirectoryUser,
        GoogleState,
        LinkState,
    )
    from app_google_sync.libraries.settings import config
    from app_google_sync.libraries.sync.engine import Report
    from app_google_sync.libraries.sync.planner import build_plan

    people = tuple(
        DirectoryUser(
            uuid=f"uuid-{n}", dn=f"uid=u{n},ou=Users", uid=f"u{n:06}", given_name="User", family_name=f"Number {n}"
        )
        for n in range(users)
    )
    groups = tuple(
        DirectoryGroup(
            uuid=f"g-{n}",
            dn=f"cn=g{n},ou=Groups",
            name=f"g{n:04}",
            member_uids=frozenset(f"u{k:06}" for k in range(n, users, 500)),
        )
        for n in range(200)
    )
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as handle:
        handle.write(
            "[ldap]\nbase_dn = dc=example,dc=com\nenabled_group =\n[google]\ndomain = example.com\nadmin_email = admin@example.com\n"
            "credentials_file = /nonexistent/key.json\n[sync]\nstate_dir = /tmp\nmax_suspend = 100%\n"
        )
        handle.flush()
        settings = config.load(handle.name)
    plan = build_plan(DirectoryState(people, groups), GoogleState(users=(), groups=()), LinkState(), settings)
    return Report(plan, outcome="pending")


def one_way(way: str, users: int) -> None:
    from app_google_sync.libraries.sync import json_output

    report = build_report(users)
    planned = peak_rss()
    started = time.perf_counter()
    with open("/dev/null", "w", encoding="utf-8") as sink:
        if way == "whole":
            print(json.dumps({**report.data, "held": []}, indent=2, ensure_ascii=False), file=sink)
        else:
            json_output.write(sink, {**report.streamed_data, "held": json_output.lazy_list([])})
    seconds = time.perf_counter() - started
    print(json.dumps({"changes": len(report.plan.changes), "planned": planned, "peak": peak_rss(), "seconds": seconds}))


def peak_rss() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100000)
    parser.add_argument("--way", choices=("whole", "streamed"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.way:
        one_way(args.way, args.users)
        return
    for way in ("whole", "streamed"):
        done = subprocess.run(
            [sys.executable, __file__, "--users", str(args.users), "--way", way],
            capture_output=True,
            text=True,
            check=True,
        )
        figures = json.loads(done.stdout)
        print(
            f"{way:>8}: {figures['changes']} changes; peak memory {figures['peak']:.0f} MiB ({figures['planned']:.0f} MiB once planned, "
            f"+{figures['peak'] - figures['planned']:.0f} MiB to write the JSON in {figures['seconds']:.1f} s)"
        )


if __name__ == "__main__":
    main()
