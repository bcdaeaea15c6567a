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
console: the console's pages at a real directory's size: --users users with the Google Apps option in groups of 50
        (1% bad data, 0.5% locked), the emulator as an empty Google, the reference host in a process of its own
        (werkzeug, threaded). For each page: the server's time (request sent → last byte), the bytes sent (gzip
        when the server compresses) and the web process's peak resident memory while serving it. Then a
        --export-rows results CSV export (a run of that many results written to the state database).
"""

from __future__ import annotations

import argparse
import gzip
import http.cookiejar
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
import urllib.parse
import urllib.request
from pathlib import Path

from app_google_sync.demo.directory import DemoDirectory, paged_only_limits
from app_google_sync.demo.environment import DemoEnvironment
from app_google_sync.demo.large import GROUP_SIZE, seed_large_directory
from app_google_sync.libraries.core.model import DirectoryGroup, DirectoryState, DirectoryUser, GoogleState, LinkState
from app_google_sync.libraries.google.google_target import PACER_FILE, GoogleTarget, required_scopes
from app_google_sync.libraries.google.pacing import Pacer
from app_google_sync.libraries.settings import config
from app_google_sync.libraries.sync.engine import SyncEngine
from app_google_sync.libraries.sync.planner import build_plan


def seed(directory: DemoDirectory, users: int, groups: int, memberships: int) -> None:
    directory.add_group("google_apps_plugin")
    uids = [f"user{number:05}" for number in range(users)]
    for number, uid in enumerate(uids):
        directory.add_user(
            uid, "User", f"Number {number}", password=f"Password-{number}", groups=("google_apps_plugin",)
        )
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
        body = {
            "primaryEmail": f"{user.uid}@{env.settings.google.domain}",
            "name": {"givenName": user.given_name, "familyName": user.family_name},
            "password": "Naive-Password-1",
        }
        target.service.users().insert(body=body).execute(http=target._http)
        calls += 1
    for group in desired.groups:
        if not group.name.startswith("team"):
            continue
        email = f"{group.name}@{env.settings.google.domain}"
        target.service.groups().insert(body={"email": email, "name": group.name}).execute(http=target._http)
        calls += 1
        for uid in sorted(group.member_uids):
            target.service.members().insert(
                groupKey=email, body={"email": f"{uid}@{env.settings.google.domain}"}
            ).execute(http=target._http)
            calls += 1
    return calls


def bench_first(args) -> None:
    with DemoDirectory(size_limit=500, sync_limits=paged_only_limits(500)) as directory:
        _, seconds = timed(lambda: seed(directory, args.users, args.groups, args.memberships))
        print(
            f"seeded {args.users} users, {args.groups} groups, about {args.memberships} memberships in {seconds:.0f} s; latency {args.latency * 1000:.0f} ms"
        )
        with (
            tempfile.TemporaryDirectory() as state,
            DemoEnvironment(state_dir=state, directory=directory, latency=args.latency) as env,
        ):
            env.write_config(max_suspend="100%", batch_size="1000")
            engine = SyncEngine(env.settings)
            report, product = timed(engine.sync)
            calls = len(env.emulator.calls)
            print(
                f"product, first sync:    {product:8.1f} s  {calls} API calls in {len(env.emulator.batches)} batches  outcome={report.outcome}"
            )
            env.emulator.reset_calls()
            report, noop = timed(engine.sync)
            print(
                f"product, no-op resync:  {noop:8.1f} s  {len(env.emulator.calls)} API calls  outcome={report.outcome}"
            )
        with (
            tempfile.TemporaryDirectory() as state,
            DemoEnvironment(state_dir=state, directory=directory, latency=args.latency) as env,
        ):
            env.write_config(max_suspend="100%")
            calls, naive = timed(lambda: naive_first_sync(env, SyncEngine(env.settings)))
            print(f"naive client, first:    {naive:8.1f} s  {calls} requests")
        print(f"ratio naive / product:  {naive / product:8.1f}x")


def bench_quota(args) -> None:
    with (
        DemoDirectory(size_limit=500, sync_limits=paged_only_limits(500)) as directory,
        tempfile.TemporaryDirectory() as state,
    ):
        seed(directory, args.users, args.groups, args.users * 2)
        with DemoEnvironment(state_dir=state, directory=directory, latency=args.latency) as env:
            env.emulator.quota_per_window, env.emulator.quota_window = args.quota, args.window
            env.queries_per_minute = int(args.quota * 60 / args.window)
            env.write_config(max_suspend="100%", batch_size="100")
            settings = env.settings
            # A compressed quota is Google's minute shortened to --window seconds: the pacer is told so, and scales its
            # bursts and its recovery with it (with Google's 60 s, batches hold one second's worth of calls).
            pacer_window = args.pacer_window or args.window
            pacer = Pacer(
                settings.google.queries_per_minute,
                window=pacer_window,
                state_file=Path(settings.sync.state_dir) / PACER_FILE,
            )
            target = GoogleTarget(settings.google, settings.sync, scopes=required_scopes(settings), pacer=pacer)
            chunk = pacer.chunk
            report, seconds = timed(SyncEngine(settings, target=target).sync)
            stats = env.emulator.stats()
            rate = args.quota / args.window
            floor = stats["accepted"] / rate
            print(
                f"quota {args.quota} calls per {args.window:g} s ({rate * 60:.0f}/min); {args.users} users in {args.groups} groups; "
                f"the pacer told a {pacer_window:g} s window (batches of at most {chunk} calls)"
            )
            print(
                f"wall {seconds:.1f} s, floor {floor:.1f} s ({stats['accepted']} calls accepted / rate): {seconds / floor:.2f}x the floor"
            )
            print(
                f"rejected {stats['rejected_quota']} of {stats['calls']} calls sent ({100 * stats['rejected_quota'] / max(stats['calls'], 1):.1f}%); "
                f"outcome={report.outcome}, failed parts: {len(report.failures)}"
            )


def bench_memory(args) -> None:
    users = tuple(
        DirectoryUser(
            uuid=f"uuid-{n}", dn=f"uid=u{n},ou=Users", uid=f"u{n:06}", given_name="User", family_name=f"Number {n}"
        )
        for n in range(args.users)
    )
    groups = tuple(
        DirectoryGroup(
            uuid=f"g-{n}",
            dn=f"cn=g{n},ou=Groups",
            name=f"g{n:04}",
            member_uids=frozenset(f"u{k:06}" for k in range(n, args.users, 500)),
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
    print(
        f"peak memory of the process: {whole:.0f} MiB ({before:.0f} MiB before planning: the interpreter, the tool's libraries and the "
        f"directory state); planning itself allocated at most {planning / 2**20:.0f} MiB"
    )


# -- the console at a real size ----------------------------------------------------------------------


def serve(settings_file: str) -> None:
    """The web process: the reference host with the plugin, from the settings the bench wrote (its own process, so its
    memory is its own)."""
    import logging
    import signal

    from werkzeug.security import generate_password_hash
    from werkzeug.serving import make_server

    from app_google_sync.host.app import create_app
    from app_google_sync.host.plugins import shutdown_plugins

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log line per request
    settings = json.loads(Path(settings_file).read_text())
    settings["CONSOLE_ADMIN_PASSWORD_HASH"] = generate_password_hash(settings.pop("password"))
    app = create_app(settings)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    print(server.server_port, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        shutdown_plugins(app)


class WebProcess:
    """The host in a child process; fetches pages as a browser would (cookies, gzip accepted, CSRF token)."""

    def __init__(self, env: DemoEnvironment, state: str):
        directory = env.directory
        settings = {
            "SECRET_KEY": "bench",
            "password": "bench-password",
            "CONSOLE_ADMIN_USERNAME": "admin",
            "CONSOLE_LDAP_URI": directory.uri,
            "CONSOLE_LDAP_BIND_DN": directory.root_dn,
            "CONSOLE_LDAP_BIND_PASSWORD": directory.root_pw,
            "CONSOLE_LDAP_BASE_DN": directory.suffix,
            "CONSOLE_MAIL_DOMAIN": "example.com",
            "GOOGLE_SYNC_CONFIG": str(env.config_path),
            "GOOGLE_SYNC_SECRETS_DIR": str(Path(state) / "secrets"),
        }
        settings_file = Path(state) / "web.json"
        settings_file.write_text(json.dumps(settings))
        self.process = subprocess.Popen(
            [sys.executable, __file__, "serve", "--settings", str(settings_file)], stdout=subprocess.PIPE, text=True
        )
        self.base = f"http://127.0.0.1:{self.process.stdout.readline().strip()}"
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        self.token = ""
        self.highest = 0.0
        login = self.fetch("/login")[0].decode()
        self.token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)
        page = self.fetch("/login", {"username": "admin", "password": "bench-password"})[0].decode()
        self.token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # a login starts a new session

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)

    def _status(self, field: str) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        return 0.0

    def reset_peak(self) -> None:
        Path(f"/proc/{self.process.pid}/clear_refs").write_text("5")  # the peak resident set starts again from now

    def peak(self) -> float:
        peak = self._status("VmHWM")
        self.highest = max(self.highest, peak)
        return peak

    def fetch(self, path: str, form: dict | None = None) -> tuple[bytes, float, str]:
        """(the body as sent, seconds until its last byte, the final URL); a form is posted with the CSRF token."""
        data = urllib.parse.urlencode({**form, "csrf_token": self.token}).encode() if form is not None else None
        request = urllib.request.Request(self.base + path, data=data, headers={"Accept-Encoding": "gzip"})
        started = time.perf_counter()
        encoding = ""
        try:
            with self.opener.open(request, timeout=600) as response:
                body = response.read()
                url = response.geturl()
                encoding = response.headers.get("Content-Encoding", "")
        except urllib.error.HTTPError as error:
            body, url = error.read(), f"HTTP {error.code}"
        self.last_text = gzip.decompress(body) if encoding == "gzip" else body  # what the page says, for the next step
        return body, time.perf_counter() - started, url

    def measure(self, label: str, path: str, form: dict | None = None) -> tuple[bytes, str]:
        self.reset_peak()
        resident = self._status("VmRSS")  # what it held already (Python keeps what it once allocated)
        body, seconds, url = self.fetch(path, form)
        peak = self.peak()
        print(
            f"  {label:<44} {seconds:7.2f} s  {len(body) / 1024:9.0f} KB  peak {peak:5.0f} MiB (+{peak - resident:3.0f})  "
            f"{'' if url.startswith('http') else url}",
            flush=True,
        )
        return body, url


def wait_for_run(web: WebProcess, progress_url: str) -> dict:
    while True:
        status = json.loads(web.fetch(urllib.parse.urlparse(progress_url).path + "/status")[0])
        if status["finished"]:
            return status
        time.sleep(0.5)


def console_pages(web: WebProcess) -> None:
    """Every page an administrator goes through on a first synchronization, then after it."""
    web.measure("test synchronization (click -> page)", "/app/google_sync/test", {})
    checksum = re.search(rb'gs-checksum">([0-9a-f]{16})<', web.last_text)
    checksum = checksum.group(1).decode() if checksum else ""
    if checksum:
        web.measure("  its page 3", f"/app/google_sync/test/{checksum}?page=3")
        web.measure("  filtered: add member", f"/app/google_sync/test/{checksum}?action=add+member")
        web.measure("  searched: team0042", f"/app/google_sync/test/{checksum}?q=team0042")
        web.measure("  CSV export of the plan", f"/app/google_sync/test/{checksum}/plan.csv")
    _, progress = web.measure("synchronize now (click -> progress page)", "/app/google_sync/sync", {"force": "yes"})
    status = wait_for_run(web, progress)
    print(f"  (the run applied {status['counts']})")
    web.measure("result page (progress page, finished)", urllib.parse.urlparse(progress).path)
    run = status["run_id"]
    web.measure("the run's page in History", f"/app/google_sync/history/{run}")
    web.measure("  failed only", f"/app/google_sync/history/{run}?outcome=failed")
    web.measure("  CSV export of its results", f"/app/google_sync/history/{run}/results.csv")
    web.measure("Users and groups", "/app/google_sync/objects")
    web.measure("Users and groups, refreshed", "/app/google_sync/objects/refresh", {})
    web.measure("Users and groups, search user00042", "/app/google_sync/objects?q=user00042")
    web.measure("Users and groups, state locked", "/app/google_sync/objects?state=locked")
    web.measure("no-op test after the sync", "/app/google_sync/test", {})


def big_run(database: str, rows: int) -> int:
    """A run of ``rows`` results written straight to the state database (building that many users would take hours)."""
    from app_google_sync.libraries.state.store import Store

    store = Store(database)
    run = store.start_run("bench", dry_run=False)
    for start in range(0, rows, 5000):
        store.record_batch(
            run,
            [
                {
                    "action": "add member",
                    "object": f"team{n // 50:05}@example.com ← user{n:06}@example.com",
                    "ok": n % 97 != 0,
                    "message": "" if n % 97 else "a failure",
                }
                for n in range(start, min(rows, start + 5000))
            ],
            [],
            [],
        )
    store.finish_run(run, "partial", counts={"ok": rows})
    store.close()
    return run


def bench_console(args) -> None:
    with DemoDirectory(size_limit=500, sync_limits=paged_only_limits(500)) as directory:
        _, seconds = timed(lambda: seed_large_directory(directory, args.users))
        print(
            f"seeded {args.users} users in {args.users // GROUP_SIZE} groups of {GROUP_SIZE} in {seconds:.0f} s",
            flush=True,
        )
        with (
            tempfile.TemporaryDirectory() as state,
            DemoEnvironment(state_dir=state, directory=directory, latency=0) as env,
        ):
            env.write_config(max_suspend="100%", batch_size="1000")
            web = WebProcess(env, state)
            try:
                print(f"machine load (1 min) before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
                print(f"{'page':<46} {'server':>9} {'sent':>12} {'web process':>14}")
                console_pages(web)
                if args.export_rows:
                    run = big_run(env.settings.sync.database, args.export_rows)
                    web.measure(
                        f"CSV export of a run of {args.export_rows} results",
                        f"/app/google_sync/history/{run}/results.csv",
                    )
                    web.measure("the page of that run", f"/app/google_sync/history/{run}")
                print(
                    f"web process peak memory over every page: {web.highest:.0f} MiB; machine load after: {os.getloadavg()[0]:.1f}",
                    flush=True,
                )
            finally:
                web.stop()


def peak_rss() -> float:
    """The process's peak resident memory so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("first", "quota", "memory", "console", "serve"))
    parser.add_argument("--settings", help=argparse.SUPPRESS)  # serve: the web process's settings file
    parser.add_argument(
        "--export-rows", type=int, default=100000, help="console: the rows of the results CSV export (0: none)"
    )
    parser.add_argument("--users", type=int)
    parser.add_argument("--groups", type=int)
    parser.add_argument("--memberships", type=int, default=30000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--quota", type=int, default=100)
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument(
        "--pacer-window",
        type=float,
        default=None,
        help="the window the pacer is told (default: --window; 60 = Google's minute, one second's worth per batch)",
    )
    args = parser.parse_args()
    if args.what == "serve":
        return serve(args.settings)
    defaults = {"first": (10000, 200), "quota": (300, 6), "memory": (100000, 200), "console": (2000, 40)}[args.what]
    args.users = args.users or defaults[0]
    args.groups = args.groups or defaults[1]
    {"first": bench_first, "quota": bench_quota, "memory": bench_memory, "console": bench_console}[args.what](args)


if __name__ == "__main__":
    main()
