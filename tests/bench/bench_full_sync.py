"""Benchmark: a first synchronization of a large directory, the no-op resync, and a single-user push.

    .venv/bin/python tests/bench/bench_full_sync.py [--users 2000] [--groups 20] [--latency 0.02]

Runs on the embedded demo parts (a throwaway slapd with a small size limit that only
paged reads may pass, and the Directory API emulator adding --latency seconds to every
HTTP request, like a network round trip to Google). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from app_google_sync.demo.directory import DemoDirectory, paged_only_limits
from app_google_sync.demo.environment import DemoEnvironment
from app_google_sync.libraries.sync.engine import SyncEngine


def seed(directory: DemoDirectory, users: int, groups: int) -> None:
    directory.add_group("google_apps_plugin")
    uids = [f"user{number:05}" for number in range(users)]
    for number, uid in enumerate(uids):
        directory.add_user(
            uid, "User", f"Number {number}", password=f"Password-{number}", groups=("google_apps_plugin",)
        )
    for number in range(groups):
        directory.add_group(f"team{number:02}", members=uids[number::groups])


def measure(label: str, env: DemoEnvironment, action) -> None:
    env.emulator.reset_calls()
    started = time.perf_counter()
    report = action()
    elapsed = time.perf_counter() - started
    calls = env.emulator.calls
    writes = sum(call["method"] != "GET" for call in calls)
    http = len(env.emulator.batches) + sum(not call.get("batch") for call in calls)
    print(
        f"{label:<28} {elapsed:8.2f} s  {len(calls):6} API calls ({writes} writes) in {http:5} HTTP requests  outcome={report.outcome}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds added to each HTTP request (default 0.02)")
    args = parser.parse_args()
    with (
        DemoDirectory(size_limit=500, sync_limits=paged_only_limits(500)) as directory,
        tempfile.TemporaryDirectory() as state,
    ):
        started = time.perf_counter()
        seed(directory, args.users, args.groups)
        print(
            f"seeded {args.users} users and {args.groups} groups in {time.perf_counter() - started:.1f} s "
            f"(slapd size limit 500, emulator latency {args.latency * 1000:.0f} ms per request)"
        )
        with DemoEnvironment(state_dir=state, directory=directory, latency=args.latency) as env:
            env.write_config(max_suspend="100%", batch_size="500")
            engine = SyncEngine(env.settings)
            measure("first synchronization", env, engine.sync)
            measure("no-op resynchronization", env, engine.sync)
            directory.modify_user("user00042", givenName="Changed")
            measure("push of one changed user", env, lambda: engine.push_user("user00042"))
            directory.add_to_group("team01", "user00000")
            measure("push of one changed group", env, lambda: engine.push_group("team01"))


if __name__ == "__main__":
    main()
