"""Benchmark: Google at scale. Prints figures; asserts nothing.

    .venv/bin/python tests/bench/bench_scale.py first  [--users 10000 --groups 200 --memberships 30000 --latency 0.02]
    .venv/bin/python tests/bench/bench_scale.py quota  [--users 300 --groups 6 --quota 100 --window 10]
    .venv/bin/python tests/bench/bench_scale.py memory [--users 100000]

first:  the first synchronization (product) against the emulator with --latency per HTTP request, then the
        same directory pushed by a naive client written here (one request per object, no batch), on a fresh
        emulator; the ratio; then the no-op resynchronization.
quota:  the first synchronization under a compressed quota (--quota calls per --window seconds, as Google's
        2,400 per minute): wall time / quota floor (calls needed / allowed rate) and the rejected calls. The
        pacer is told the shortened window, as it knows Google's minute (--pacer-window to tell it otherwise).
memory: the peak memory of the process planning a first synchronization of --users users, and what planning allocated.
"""
from __future__ import annotations

import argparse
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path

from app_google_sync.demo.directory import DemoDirectory, paged_only_limits
from app_google_sync.demo.environment import DemoEnvironment
from app_google_sync.libraries.settings import config
from app_google_sync.libraries.sync.engine import SyncEngine
from app_google_sync.libraries.google.google_target import PACER_FILE, GoogleTarget, required_scopes
from app_google_sync.libraries.core.model import DirectoryGroup, DirectoryState, DirectoryUser, GoogleState, LinkState
from app_google_sync.libraries.google.pacing import Pacer
from app_google_sync.libraries.sync.planner import build_plan


def seed(directory: DemoDirectory, users: int, groups: int, memberships: int) -> None:
    directory.add_group("google_apps_plugin")
    uids = [f"user{number:05}" for number in range(users)]
    for number, uid in enumerate(uids):
        directory.add_user(uid, "User", f"Number {number}", password=f"Password-{number}", groups=("google_apps_plugin",))
    per_group = max(1, memberships // max(groups, 1))
    for number in range(groups):
        start = number * per_group % users
        directory.add_group(f"team{number:03}", members=tuple(uids[(start + k) % users] for k in range(per_group)))


def timed(action):
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def naive_first_sync(env: DemoEnvironment, engine: SyncEngine) -> int:
    """What a simple script does: one request per user, group and membership, in order, no batch."""
    desired = engine.source.read_state()
    target = GoogleTarget(env.settings.google, env.settings.sync)
    calls = 0
    for user in desired.users:
        if not user.in_scope:
            continue
        body = {"primaryEmail": f"{user.uid}@{env.settings.google.domain}", "name": {"givenName": user.given_name, "familyName": user.family_name},
                "password": "Naive-Password-1"}
        target.service.users().insert(body=body).execute(http=target._http)
        calls += 1
    for group in desired.groups:
        if not group.name.startswith("team"):
            continue
        email = f"{group.name}@{env.settings.google.domain}"
        target.service.groups().insert(body={"email": email, "name": group.name}).execute(http=target._http)
        calls += 1
        for uid in sorted(group.member_uids):
            target.service.members().insert(groupKey=email, body={"email": f"{uid}@{env.settings.google.domain}"}).execute(http=target._http)
            calls += 1
    return calls


def bench_first(args) -> None:
    with DemoDirectory(size_limit=500, sync_limits=paged_only_limits(500)) as directory:
        _, seconds = timed(lambda: seed(directory, args.users, args.groups, args.memberships))
        print(f"seeded {args.users} users, {args.groups} groups, about {args.memberships} memberships in {seconds:.0f} s; latency {args.latency * 1000:.0f} ms")
        with tempfile.TemporaryDirectory() as state, DemoEnvironment(state_dir=state, directory=directory, latency=args.latency) as env:
            env.write_config(max_suspend="100%", batch_size="1000")
            engine = SyncEngine(env.settings)
            report, product = timed(engine.sync)
            calls = len(env.emulator.calls)
            print(f"product, first sync:    {product:8.1f} s  {calls} API calls in {len(env.emulator.batches)} batches  outcome={report.outcome}")
            env.emulator.reset_calls()
            report, noop = timed(engine.sync)
            print(f"product, no-op resync:  {noop:8.1f} s  {len(env.emulator.calls)} API calls  outcome={report.outcome}")
        with tempfile.TemporaryDirectory() as state, DemoEnvironment(state_dir=state, directory=directory, latency=args.latency) as env:
            env.write_config(max_suspend="100%")
            calls, naive = timed(lambda: naive_first_sync(env, SyncEngine(env.settings)))
            print(f"naive client, first:    {naive:8.1f} s  {calls} requests")
        print(f"ratio naive / product:  {naive / product:8.1f}x")


def bench_quota(args) -> None:
    with DemoDirectory(size_limit=500, sync_limits=paged_only_limits(500)) as directory, tempfile.TemporaryDirectory() as state:
        seed(directory, args.users, args.groups, args.users * 2)
        with DemoEnvironment(state_dir=state, directory=directory, latency=args.latency) as env:
            env.emulator.quota_per_window, env.emulator.quota_window = args.quota, args.window
            env.queries_per_minute = int(args.quota * 60 / args.window)
            env.write_config(max_suspend="100%", batch_size="100")
            settings = env.settings
            # A compressed quota is Google's minute shortened to --window seconds: the pacer is told so, and scales its
            # bursts and its recovery with it (with Google's 60 s, batches hold one second's worth of calls).
            pacer_window = args.pacer_window or args.window
            pacer = Pacer(settings.google.queries_per_minute, window=pacer_window, state_file=Path(settings.sync.state_dir) / PACER_FILE)
            target = GoogleTarget(settings.google, settings.sync, scopes=required_scopes(settings), pacer=pacer)
            chunk = pacer.chunk
            report, seconds = timed(SyncEngine(settings, target=target).sync)
            stats = env.emulator.stats()
            rate = args.quota / args.window
            floor = stats["accepted"] / rate
            print(f"quota {args.quota} calls per {args.window:g} s ({rate * 60:.0f}/min); {args.users} users in {args.groups} groups; "
                  f"the pacer told a {pacer_window:g} s window (batches of at most {chunk} calls)")
            print(f"wall {seconds:.1f} s, floor {floor:.1f} s ({stats['accepted']} calls accepted / rate): {seconds / floor:.2f}x the floor")
            print(f"rejected {stats['rejected_quota']} of {stats['calls']} calls sent ({100 * stats['rejected_quota'] / max(stats['calls'], 1):.1f}%); "
                  f"outcome={report.outcome}, failed parts: {len(report.failures)}")


def bench_memory(args) -> None:
    users = tuple(DirectoryUser(uuid=f"uuid-{n}", dn=f"uid=u{n},ou=Users", uid=f"u{n:06}", given_name="User", family_name=f"Number {n}")
                  for n in range(args.users))
    groups = tuple(DirectoryGroup(uuid=f"g-{n}", dn=f"cn=g{n},ou=Groups", name=f"g{n:04}", member_uids=frozenset(f"u{k:06}" for k in range(n, args.users, 500)))
                   for n in range(200))
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as handle:
        handle.write("[ldap]\nbase_dn = dc=example,dc=com\nenabled_group =\n[google]\ndomain = example.com\nadmin_email = admin@example.com\n"
                     "credentials_file = /nonexistent/key.json\n[sync]\nstate_dir = /tmp\nmax_suspend = 100%\n")
        handle.flush()
        settings = config.load(handle.name)

    def plan():
        return build_plan(DirectoryState(users, groups), GoogleState(users=(), groups=()), LinkState(), settings)

    before = peak_rss()
    changes, seconds = timed(lambda: len(plan().changes))
    whole = peak_rss()
    # tracemalloc's own bookkeeping doubles the memory of what it traces: it runs on a second pass, after the peak was read.
    tracemalloc.start()
    plan()
    planning = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    print(f"plan of {args.users} users and 200 groups: {changes} changes in {seconds:.1f} s")
    print(f"peak memory of the process: {whole:.0f} MiB ({before:.0f} MiB before planning: the interpreter, the tool's libraries and the "
          f"directory state); planning itself allocated at most {planning / 2**20:.0f} MiB")


def peak_rss() -> float:
    """The process's peak resident memory so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("first", "quota", "memory"))
    parser.add_argument("--users", type=int)
    parser.add_argument("--groups", type=int)
    parser.add_argument("--memberships", type=int, default=30000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--quota", type=int, default=100)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--pacer-window", type=float, default=None,
                        help="the window the pacer is told (default: --window; 60 = Google's minute, one second's worth per batch)")
    args = parser.parse_args()
    defaults = {"first": (10000, 200), "quota": (300, 6), "memory": (100000, 200)}[args.what]
    args.users = args.users or defaults[0]
    args.groups = args.groups or defaults[1]
    {"first": bench_first, "quota": bench_quota, "memory": bench_memory}[args.what](args)


if __name__ == "__main__":
    main()
