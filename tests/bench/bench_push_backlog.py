"""Benchmark: how fast a backlog of queued pushes drains once Google answers again after an outage.

    .venv/bin/python tests/bench/bench_push_backlog.py [--users 500] [--outage 20] [--timeout 120]

On the embedded demo parts (slapd with syncprov, the emulator, the live synchronization of
`google-sync watch`): every user is edited while Google is down (the emulator's outage, every
request answered 503), so each edit is queued; the outage lasts ``--outage`` seconds, then Google
answers again. Prints how long after the recovery the last edit was visible in Google, how many
API calls the queue made during the outage, and the pushes' run count; asserts nothing.
"""

from __future__ import annotations

import argparse
import tempfile
import time

from app_google_sync.demo.directory import DemoDirectory
from app_google_sync.demo.environment import DemoEnvironment
from app_google_sync.libraries.runtime.live import LiveSync
from app_google_sync.libraries.sync.engine import SyncEngine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--outage", type=float, default=20.0, help="seconds Google stays down after the edits")
    parser.add_argument(
        "--timeout", type=float, default=120.0, help="seconds to wait for the backlog after the recovery"
    )
    parser.add_argument("--latency", type=float, default=0.02, help="seconds the emulator adds to each HTTP request")
    args = parser.parse_args()
    uids = [f"user{number:04}" for number in range(args.users)]
    with DemoDirectory() as directory, tempfile.TemporaryDirectory() as state:
        directory.add_group("google_apps_plugin")
        for uid in uids:
            directory.add_user(uid, "User", uid, groups=("google_apps_plugin",))
        with DemoEnvironment(state_dir=state, directory=directory, latency=args.latency) as env:
            env.write_config(push_delay="1")
            SyncEngine(env.settings).sync()
            live = LiveSync(str(env.config_path))
            live.start()
            deadline = time.monotonic() + 30
            while live.store.get_value("watcher_cookie") is None and time.monotonic() < deadline:
                time.sleep(0.1)  # the watcher's initial refresh
            runs_before = len(live.store.runs(100000))
            env.emulator.outage = True
            started = time.monotonic()
            for uid in uids:
                directory.modify_user(uid, givenName="Edited")
            edited = time.monotonic() - started
            window = min(5.0, args.outage)
            time.sleep(max(0.0, args.outage - edited - window))
            calls_down = env.emulator.stats()["calls"]
            time.sleep(window)
            calls_late = env.emulator.stats()["calls"] - calls_down  # the last seconds of the outage: probes only?
            queued = len(live.store.queued_pushes())
            env.emulator.outage = False
            recovered = time.monotonic()
            drained = None
            while time.monotonic() - recovered < args.timeout:
                arrived = sum(
                    user["name"]["givenName"] == "Edited"
                    for user in env.emulator.users()
                    if user["primaryEmail"].startswith("user")
                )
                if arrived == args.users:
                    drained = time.monotonic() - recovered
                    break
                time.sleep(0.1)
            runs = len(live.store.runs(100000)) - runs_before
            live.stop()
    print(
        f"{args.users} users edited during an outage of {args.outage:.0f} s ({edited:.1f} s to edit them all); "
        f"{queued} pushes queued when Google came back; emulator latency {args.latency * 1000:.0f} ms"
    )
    print(f"API calls in the last {min(5.0, args.outage):.0f} s of the outage: {calls_late}")
    if drained is None:
        print(f"backlog NOT drained {args.timeout:.0f} s after the recovery: {arrived} of {args.users} edits visible")
    else:
        print(f"backlog drained {drained:.1f} s after the recovery, in {runs} push runs (during and after the outage)")


if __name__ == "__main__":
    main()
