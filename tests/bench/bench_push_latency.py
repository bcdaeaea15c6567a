"""Benchmark: delay from an LDAP modify to the change being visible in Google, and API calls per changed user.

    .venv/bin/python tests/bench/bench_push_latency.py [--changes 30] [--users 200] [--push-delay 1.0]

On the embedded demo parts: a throwaway slapd with syncprov, the Directory API emulator,
and the live synchronization (syncrepl watcher → debounced push queue → targeted push)
that `google-sync watch` and `google-sync worker` run. Each change is an ldapmodify
of one user's givenName, made by the ldapmodify command as an administrator would.
Prints the median and 95th percentile delay; asserts nothing.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time

from app_google_sync.demo.directory import DemoDirectory
from app_google_sync.demo.environment import DemoEnvironment
from app_google_sync.libraries.sync.engine import SyncEngine
from app_google_sync.libraries.runtime.live import LiveSync


def ldapmodify(directory: DemoDirectory, dn: str, given_name: str) -> None:
    ldif = f"dn: {dn}\nchangetype: modify\nreplace: givenName\ngivenName: {given_name}\n"
    command = ["ldapmodify", "-x", "-H", directory.uri, "-D", directory.root_dn, "-w", directory.root_pw]
    subprocess.run(command, input=ldif.encode(), check=True, capture_output=True)


def wait_until_visible(env: DemoEnvironment, email: str, given_name: str, timeout: float = 30.0) -> float:
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if env.emulator.get_user(email)["name"]["givenName"] == given_name:
            return time.perf_counter()
        time.sleep(0.005)
    raise TimeoutError(f"{email} did not change within {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--changes", type=int, default=30)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--push-delay", type=float, default=1.0, help="debounce of the push queue ([sync] push_delay, default 1.0)")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds the emulator adds to each HTTP request")
    args = parser.parse_args()
    with DemoDirectory() as directory, tempfile.TemporaryDirectory() as state:
        directory.add_group("google_apps_plugin")
        for number in range(args.users):
            directory.add_user(f"user{number:04}", "User", f"Number {number}", groups=("google_apps_plugin",))
        with DemoEnvironment(state_dir=state, directory=directory, latency=args.latency) as env:
            env.write_config(push_delay=str(args.push_delay))
            settings = env.settings
            SyncEngine(settings).sync()
            live = LiveSync(str(env.config_path))
            live.start()
            time.sleep(1.5)  # the watcher's initial refresh
            env.emulator.reset_calls()
            delays = []
            for change in range(args.changes):
                uid = f"user{change % args.users:04}"
                given_name = f"Changed{change}"
                started = time.perf_counter()
                ldapmodify(directory, directory.user_dn(uid), given_name)
                delays.append(wait_until_visible(env, f"{uid}@example.com", given_name) - started)
            live.stop()
            calls = env.emulator.calls
            lists = sum(call["method"] == "GET" and call["path"].endswith(("/users", "/groups", "/members")) for call in calls)
    delays.sort()
    p95 = delays[min(len(delays) - 1, int(round(0.95 * len(delays))) - 1)]
    print(f"{args.changes} ldapmodify changes, {args.users} users, push_delay {args.push_delay} s, emulator latency {args.latency * 1000:.0f} ms")
    print(f"delay LDAP modify → visible in Google: median {statistics.median(delays):.2f} s, p95 {p95:.2f} s, max {delays[-1]:.2f} s")
    print(f"API calls per changed user: {len(calls) / args.changes:.1f} ({lists} list calls in all)")


if __name__ == "__main__":
    main()
