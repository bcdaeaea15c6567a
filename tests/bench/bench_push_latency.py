"""Benchmark: delay from an LDAP modify to the change being visible in Google, and API calls per changed user.

    .venv/bin/python tests/bench/bench_push_latency.py [--changes 30] [--users 200] [--push-delay 1.0]
                                                       [--scenario idle|retrying|both] [--failing 3]

On the embedded demo parts: a throwaway slapd with syncprov, the Directory API emulator,
and the live synchronization (syncrepl watcher → durable push queue → targeted pushes)
that `google-sync watch` and `google-sync worker` run. Each change is an ldapmodify
of one user's givenName, made by the ldapmodify command as an administrator would,
one at a time (the next once the previous is visible).

Scenarios:
- idle: nothing else is queued.
- retrying: ``--failing`` other users were edited first and every call about them answers
  503 (the emulator's fail_calls_about), so their pushes keep failing and being retried
  while the measured edits (of other users, which meet no fault) go through.
Prints the median and 95th percentile delay per scenario; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time

from app_google_sync.demo.directory import DemoDirectory
from app_google_sync.demo.environment import DemoEnvironment
from app_google_sync.libraries.runtime.live import LiveSync
from app_google_sync.libraries.sync.engine import SyncEngine


def ldapmodify(directory: DemoDirectory, dn: str, given_name: str) -> None:
    ldif = f"dn: {dn}\nchangetype: modify\nreplace: givenName\ngivenName: {given_name}\n"
    command = ["ldapmodify", "-x", "-H", directory.uri, "-D", directory.root_dn, "-w", directory.root_pw]
    subprocess.run(command, input=ldif.encode(), check=True, capture_output=True)


def wait_until_visible(env: DemoEnvironment, email: str, given_name: str, timeout: float) -> float | None:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if env.emulator.get_user(email)["name"]["givenName"] == given_name:
            return time.perf_counter()
        time.sleep(0.005)
    return None


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(share * len(ordered))) - 1))]


def measure(env: DemoEnvironment, directory: DemoDirectory, args, scenario: str) -> None:
    failing = (
        [f"user{number:04}" for number in range(args.users - args.failing, args.users)]
        if scenario == "retrying"
        else []
    )
    if failing:
        keys = [
            key for uid in failing for key in (f"{uid}@example.com", env.emulator.get_user(f"{uid}@example.com")["id"])
        ]
        env.emulator.fail_calls_about(*keys)
        for uid in failing:  # their pushes fail and are retried for the whole measurement
            ldapmodify(directory, directory.user_dn(uid), "Failing")
        time.sleep(0.5)
    env.emulator.reset_calls()
    delays, missed = [], 0
    for change in range(args.changes):
        uid = f"user{change % (args.users - args.failing):04}"
        given_name = f"{scenario.capitalize()}{change}"
        started = time.perf_counter()
        ldapmodify(directory, directory.user_dn(uid), given_name)
        seen = wait_until_visible(env, f"{uid}@example.com", given_name, args.timeout)
        if seen is None:
            missed += 1
        else:
            delays.append(seen - started)
    calls = [call for call in env.emulator.calls if not any(uid in call["path"] for uid in failing)]
    env.emulator.fail_calls_about()
    lists = sum(call["method"] == "GET" and call["path"].endswith(("/users", "/groups", "/members")) for call in calls)
    print(
        f"[{scenario}] {args.changes} ldapmodify changes, {args.users} users, push_delay {args.push_delay} s, "
        f"emulator latency {args.latency * 1000:.0f} ms"
        + (f", {len(failing)} other users' pushes failing (503)" if failing else "")
    )
    if delays:
        print(
            f"[{scenario}] delay LDAP modify → visible in Google: p50 {statistics.median(delays):.2f} s, "
            f"p95 {percentile(delays, 0.95):.2f} s, max {max(delays):.2f} s"
            + (f"; {missed} not visible within {args.timeout:.0f} s" if missed else "")
        )
    print(
        f"[{scenario}] API calls per changed user (the measured ones): {len(calls) / args.changes:.1f} ({lists} list calls in all)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=30)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument(
        "--push-delay", type=float, default=1.0, help="debounce of the push queue ([sync] push_delay, default 1.0)"
    )
    parser.add_argument("--latency", type=float, default=0.02, help="seconds the emulator adds to each HTTP request")
    parser.add_argument("--scenario", choices=("idle", "retrying", "both"), default="both")
    parser.add_argument(
        "--failing", type=int, default=3, help="users whose pushes keep failing in the 'retrying' scenario"
    )
    parser.add_argument(
        "--timeout", type=float, default=90.0, help="seconds to wait for one change before counting it missed"
    )
    args = parser.parse_args()
    with DemoDirectory() as directory, tempfile.TemporaryDirectory() as state:
        directory.add_group("google_apps_plugin")
        for number in range(args.users):
            directory.add_user(f"user{number:04}", "User", f"Number {number}", groups=("google_apps_plugin",))
        with DemoEnvironment(state_dir=state, directory=directory, latency=args.latency) as env:
            env.write_config(push_delay=str(args.push_delay))
            SyncEngine(env.settings).sync()
            live = LiveSync(str(env.config_path))
            live.start()
            time.sleep(1.5)  # the watcher's initial refresh
            for scenario in ("idle", "retrying") if args.scenario == "both" else (args.scenario,):
                measure(env, directory, args, scenario)
            live.stop()


if __name__ == "__main__":
    main()
