"""`google-sync`: the command line for administrators, scripts and cron.

Exit codes (a contract scripts rely on):
  test   0 in sync · 2 changes pending · 3 refused by a safety limit · 1 error
  sync   0 everything applied · 1 some objects failed or a fatal error · 3 refused (nothing written)
  undo   preview: 0 nothing to undo · 2 changes pending · 3 refused by a safety limit · 1 error
         --apply: 0 everything applied · 1 some objects failed or a fatal error · 3 refused (nothing written)
  check  0 all passed · 1 something failed
  status 0 · 1 no such run (--run N), or an error
  notify 0 · 1 the message could not be sent, or an error
  health 0 OK · 1 warning · 2 critical · 3 unknown (as monitoring plugins exit)
  db current  0 up to date · 2 upgrade pending or no database yet · 1 newer than this release, or unreadable
  db upgrade  0 up to date afterwards · 1 error
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections import Counter

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from . import __version__
from .libraries.core import stopping
from .libraries.core.codes import RunOutcome
from .libraries.core.errors import ConfigError, DatabaseTooNew, GoogleSyncError, UnsafePlan
from .libraries.ops import notify
from .libraries.reports.listing import csv_lines, summary_lines
from .libraries.runtime import leadership
from .libraries.settings import config
from .libraries.state import locks, migrate, state_files
from .libraries.state.store import database_problem, now
from .libraries.sync import json_output
from .libraries.sync.engine import Report, SyncEngine
from .libraries.sync.executor import Result
from .libraries.sync.json_output import lazy_list
from .libraries.sync.plan import render_text
from .libraries.sync.transfers import leaver_data, transfer_line

EXIT_OK, EXIT_ERROR, EXIT_PENDING, EXIT_REFUSED = 0, 1, 2, 3
log = logging.getLogger("google-sync")


PLAN_CSV_FIELDS = ["action", "object", "detail"]
SUMMARY_EXAMPLES = 3


def setup_logging(verbosity: int) -> None:
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    # Under systemd the journal stamps time and unit itself.
    fmt = (
        "%(levelname)s %(name)s: %(message)s"
        if os.environ.get("JOURNAL_STREAM")
        else "%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.basicConfig(level=level, format=fmt, stream=sys.stderr)
    logging.getLogger("googleapiclient.discovery_cache").setLevel(logging.ERROR)


class TerminalProgress:
    """A one-line progress bar on stderr, only when a person is watching."""

    def __init__(self, stream=sys.stderr):
        self.stream = stream
        self.enabled = stream.isatty()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or not total:
            return
        width = 30
        filled = int(width * done / total)
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} changes")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()


def print_results(results: list[Result]) -> None:
    for result in results:
        mark = "ok  " if result.ok else "FAIL"
        suffix = f"  {result.message}" if result.message else ""
        print(f"  {mark} {result.change.action:<15} {result.change.subject}{suffix}")


def cmd_test(engine: SyncEngine, args) -> int:
    report = engine.test(trigger=args.trigger)
    held = engine.held()
    if args.json or args.format == "json":
        json_output.write(sys.stdout, {**report.streamed_data, "held": lazy_list(change.data for change in held)})
    elif args.format == "csv":
        # One row per change, written as it goes; the warnings: google-sync test --summary (or the console's download).
        for line in csv_lines(
            PLAN_CSV_FIELDS, ({**change.data, "detail": change.describe()} for change in report.plan.changes)
        ):
            sys.stdout.write(line)
    elif args.summary:
        print("\n".join(summary_lines(report.plan, examples=SUMMARY_EXAMPLES)))
        for refusal in report.plan.refusals:
            print(f"REFUSED: {refusal}")
        if held:
            print(f"{len(held)} change(s) held for approval (google-sync status lists them).")
    else:
        print(f"Test synchronization (dry run, nothing written to Google) for {engine.settings.google.domain}:")
        print(render_text(report.plan))
        _print_held(held)
        print("\n".join(summary_lines(report.plan)))
    return {RunOutcome.IN_SYNC: EXIT_OK, RunOutcome.PENDING: EXIT_PENDING, RunOutcome.REFUSED: EXIT_REFUSED}[
        report.outcome
    ]


def cmd_sync(engine: SyncEngine, args) -> int:
    try:
        return _sync(engine, args)
    finally:
        notify.check_quietly(engine.settings, engine.store)  # from cron, the message is how anyone hears of a failure


def _sync(engine: SyncEngine, args) -> int:
    try:
        report = engine.sync(
            trigger=args.trigger, force=args.force, expected_checksum=args.checksum or "", progress=TerminalProgress()
        )
    except UnsafePlan as error:
        if args.json:
            print(json.dumps({"outcome": RunOutcome.REFUSED, "message": str(error)}, indent=2))
        print(f"Refused, nothing was written: {error}", file=sys.stderr)
        return EXIT_REFUSED
    if args.json:
        json_output.write(sys.stdout, report.streamed_data)
    else:
        _print_sync_report(report)
    return EXIT_OK if report.outcome in (RunOutcome.APPLIED, RunOutcome.IN_SYNC) else EXIT_ERROR


def _print_sync_report(report: Report, title: str = "Synchronization") -> None:
    if report.outcome == RunOutcome.IN_SYNC:
        print("Google is already in step with the directory: nothing to change.")
    elif report.outcome == RunOutcome.CHANGED:
        print(f"Not applied: {report.message}")
    else:
        print(f"{title} {report.plan.checksum}:")
        print_results(report.results)
        failed = len(report.failures)
        print(
            f"{len(report.results) - failed} applied, {failed} failed (run {report.run_id}; details: google-sync status --run {report.run_id})."
        )
    for notice in report.plan.notices if report.plan else ():
        if notice.level == "warning":
            print(f"  WARNING: {notice.subject}: {notice.message}")


def cmd_undo(engine: SyncEngine, args) -> int:
    if not args.apply:
        plan = engine.plan_undo(args.run)
        if args.json:
            print(json.dumps({"run": args.run, "plan": plan.data}, indent=2, ensure_ascii=False))
        else:
            print(f"Undo of run {args.run} (preview, nothing written to Google):")
            print(render_text(plan))
            if not plan.in_sync:
                print(f"Apply it with: google-sync undo {args.run} --apply --checksum {plan.checksum}")
        return EXIT_REFUSED if plan.refusals else (EXIT_OK if plan.in_sync else EXIT_PENDING)
    try:
        report = engine.undo(
            args.run, force=args.force, expected_checksum=args.checksum or "", progress=TerminalProgress()
        )
    except UnsafePlan as error:
        if args.json:
            print(json.dumps({"outcome": RunOutcome.REFUSED, "message": str(error)}, indent=2))
        print(f"Refused, nothing was written: {error}", file=sys.stderr)
        return EXIT_REFUSED
    if args.json:
        print(json.dumps(report.data, indent=2, ensure_ascii=False))
    else:
        _print_sync_report(report, f"Undo of run {args.run}, run {report.run_id}, plan")
    return EXIT_OK if report.outcome in (RunOutcome.APPLIED, RunOutcome.IN_SYNC) else EXIT_ERROR


def cmd_check(engine: SyncEngine, args) -> int:
    from .libraries.google.google_target import check_access  # noqa: PLC0415  (only this command needs it)

    checks = []
    try:
        engine.source.check()
        checks.append(
            ("ldap", True, f"bound to {engine.settings.ldap.uri} and searched {engine.settings.ldap.users_dn}")
        )
        checks.extend((key, False, problem) for key, problem in engine.source.check_group_names(engine.settings.sync))
        checks.extend(("sources", ok, detail) for ok, detail in engine.source.check_sources())
    except GoogleSyncError as error:
        checks.append(("ldap", False, str(error)))
    try:
        checks.extend((c.name, c.ok, c.detail) for c in check_access(engine.settings))
    except GoogleSyncError as error:
        checks.append(("google", False, str(error)))
    for warning in engine.settings.warnings:
        print(f"WARN  config: {warning}")
    loose = state_files.loose_dir_problem(engine.settings.sync.state_dir)
    if loose:
        print(f"WARN  state_dir: {loose}")
    for name, ok, detail in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")
    return EXIT_OK if all(ok for _, ok, _ in checks) else EXIT_ERROR


def cmd_status(engine: SyncEngine, args) -> int:
    if args.run is not None:
        return _print_run_results(engine, args)
    engine.notice_interrupted()
    runs = engine.store.runs(limit=args.limit)
    queue = engine.store.queued_pushes()
    held = engine.held()
    worker = locks.active_worker(engine.settings.sync.state_dir, engine.settings.sync.database)
    if args.json:
        print(
            json.dumps(
                {
                    "version": __version__,
                    "worker": worker.data if worker else None,
                    "runs": [run.data for run in runs],
                    "push_queue": [push.data for push in queue],
                    "held": [change.data for change in held],
                },
                indent=2,
                ensure_ascii=False,
            )
        )
        return EXIT_OK
    print(
        f"Active worker: {worker.host} (pid {worker.pid}) since {worker.since:%Y-%m-%d %H:%M:%S %Z}"
        if worker
        else "Active worker: none (no google-sync worker is running the schedule and the watcher)"
    )
    if not runs:
        print("No run yet. Start with: google-sync test")
    for run in runs:
        kind = "test" if run.dry_run else "sync"
        duration = f"{run.duration:.1f}s" if run.duration is not None else "running"
        counts = ", ".join(f"{v} {k}" for k, v in sorted(run.counts.items()))
        seen = (
            f" (last seen {run.last_seen_at:%Y-%m-%d %H:%M:%S})"
            if run.outcome == RunOutcome.INTERRUPTED and run.last_seen_at
            else ""
        )
        print(
            f"#{run.id:<5} {run.started_at:%Y-%m-%d %H:%M:%S} {kind} ({run.trigger}) {duration:>8}  {run.outcome:<8}{seen} {counts}  {run.message}".rstrip()
        )
    _print_queue(queue)
    print(
        f"Held changes: {len(held)} waiting for your approval (google-sync test lists them)."
        if held
        else "Held changes: none."
    )
    return EXIT_OK


def cmd_leavers(engine: SyncEngine, args) -> int:
    """What [offboarding] did to each leaver, when, and where its data transfer stands."""
    started = engine.run_transfers() if args.transfer_now else []
    leavers = engine.store.leavers()
    if args.json:
        print(
            json.dumps(
                {"transfers_looked_at": started, "leavers": [leaver_data(leaver) for leaver in leavers]},
                indent=2,
                ensure_ascii=False,
            )
        )
        return EXIT_OK
    for line in started:
        print(f"transfer {line}")
    if args.transfer_now and not started:
        print(
            "No transfer due or running."
            if engine.settings.offboarding.transfer_data_to
            else "Transfers are off ([offboarding] transfer_data_to is empty)."
        )
    statuses = Counter(leaver.transfer_status for leaver in leavers if leaver.transfer_status)
    summary = ", ".join(f"{count} {status}" for status, count in sorted(statuses.items())) or "none"
    print(
        f"Leavers: {len(leavers)} (transfers: {summary})"
        if leavers
        else "Leavers: none yet ([offboarding] acts when this tool suspends a leaver)."
    )
    for leaver in leavers:
        back = f", back {leaver.returned_at[:16].replace('T', ' ')}" if leaver.returned_at else ""
        print(f"{leaver.email}  left {leaver.left_at[:16].replace('T', ' ')}{back}")
        for moment, step in leaver.steps:
            print(f"  {moment[:16].replace('T', ' ')}  {step}")
        if leaver.transfer_status:
            print(f"  transfer: {transfer_line(leaver)}")
    return EXIT_OK


def _print_run_results(engine: SyncEngine, args) -> int:
    run = engine.store.run(args.run)
    if run is None:
        print(f"google-sync: there is no run {args.run}: 'google-sync status' lists the runs", file=sys.stderr)
        return EXIT_ERROR
    rows = engine.store.results(args.run)
    if args.json:
        print(
            json.dumps(
                [{key: row[key] for key in ("action", "object", "ok", "message")} for row in rows],
                indent=2,
                ensure_ascii=False,
            )
        )
        return EXIT_OK
    if not rows:
        kind = "a test, which writes nothing" if run.dry_run else f"outcome {run.outcome}"
        print(f"Run {args.run} has no per-object result ({kind}).")
    for row in rows:
        print(f"  {'ok  ' if row['ok'] else 'FAIL'} {row['action']:<15} {row['object']}  {row['message']}".rstrip())
    return EXIT_OK


def _print_held(held: list) -> None:
    if not held:
        return
    print(
        f"Held for your approval: {len(held)} change(s) that pushes kept back (a safety limit); "
        "'google-sync sync --force' applies them with the rest of the plan:"
    )
    for change in held:
        print(f"  {change.action:<15} {change.object}  since {change.held_at:%Y-%m-%d %H:%M:%S}: {change.reason}")


def _print_queue(queue: list) -> None:
    if not queue:
        print("Push queue: empty.")
        return
    print(f"Push queue: {len(queue)} waiting (tried again until applied):")
    for push in queue:
        tried = (
            f"{push.attempts} attempt(s), last error: {push.last_error}"
            if push.attempts
            else (push.last_error or "not tried yet")
        )
        print(f"  {push.label:<30} since {push.first_seen_at:%Y-%m-%d %H:%M:%S}  next {push.due_at:%H:%M:%S}  {tried}")


def cmd_notify(engine: SyncEngine, args) -> int:
    notifier = notify.Notifier(engine.settings, engine.store)
    if args.test:
        notifier.send_test()  # raises NotifyError naming what to fix
        settings = engine.settings.notify
        print(f"Test message sent to {', '.join(settings.email_to)} through {settings.smtp_host}:{settings.smtp_port}.")
        return EXIT_OK
    if not engine.settings.notify.enabled:
        print("Notifications are off: set [notify] email_to (and when = failures or changes).")
        return EXIT_OK
    sent = notifier.check()
    print(
        f"Sent: {', '.join(sent)}."
        if sent
        else "Nothing due (nothing new, or a message of that kind was sent less than min_interval ago)."
    )
    return EXIT_OK


def cmd_health(engine: SyncEngine, args) -> int:
    from .libraries.ops import health  # noqa: PLC0415

    verdict = health.evaluate(engine.settings, engine.store, now())
    print(json.dumps(verdict.data, indent=2, ensure_ascii=False) if args.json else verdict.line)
    return verdict.status


def cmd_background(engine: SyncEngine, args) -> int:
    from .libraries.runtime.live import LiveSync  # noqa: PLC0415  (only these commands need it)

    metrics_server = None
    if args.command == "worker" and engine.settings.worker.metrics_address:
        from .libraries.ops import metrics  # noqa: PLC0415

        metrics_server = metrics.serve(engine.settings.worker.metrics_address, engine.store)
        print(f"Metrics on http://{engine.settings.worker.metrics_address}/metrics", file=sys.stderr)
    try:
        if args.command == "worker":
            from .libraries.runtime.jobs import TransferLooks  # noqa: PLC0415
            from .libraries.runtime.scheduler import run_worker  # noqa: PLC0415

            # Until SIGTERM or SIGINT. The watcher runs only while this worker is the active one, which also
            # sends, every few seconds, the notifications that are due (what the throttle held back), and every
            # ten minutes starts the [offboarding] data transfers that are due.
            transfers = TransferLooks(engine.settings.path)

            def tick() -> None:
                transfers()
                notify.check_after(engine.settings.path, engine.store)

            return run_worker(engine.settings.path, check_every=args.check_every, watch=True, tick=tick)
        live = LiveSync(engine.settings.path)
        print(f"Watching {engine.settings.ldap.uri} for changes (Ctrl-C to stop)...", file=sys.stderr)
        live.start()
        try:
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            stop.wait()
        except KeyboardInterrupt:
            pass
        finally:
            # As the worker does: a push retrying through an outage ends at once, recorded interrupted, still queued.
            stopping.request()
            live.stop()
    finally:
        if metrics_server is not None:
            metrics_server.shutdown()
    return EXIT_OK


def cmd_db(args) -> int:
    """The state database's schema: shown, or upgraded. Needs only [sync], and never upgrades unasked."""
    sync = config.load_sync(config.config_path(args.config))
    if args.db_command == "upgrade":
        return _db_upgrade(sync.database)
    if args.db_command == "new-keys":
        return _db_new_keys(sync)
    if sync.database.startswith("sqlite:///") and not os.path.exists(sync.database.removeprefix("sqlite:///")):
        print(
            f"No state database yet ({sync.database}): it is created at the newest schema ({migrate.head()}) on first use, or by 'google-sync db upgrade'."
        )
        return EXIT_PENDING
    engine = create_engine(sync.database)
    try:
        found = migrate.current(engine)
        migrate.refuse_newer(engine, found)
    finally:
        engine.dispose()
    newest = migrate.head()
    if found == newest:
        print(f"Schema {found}: up to date.")
        return EXIT_OK
    print(
        f"Schema {found or 'none (empty database)'}; this release upgrades it to {newest}: run 'google-sync db upgrade' "
        "(the worker and the console also do it when they start)."
    )
    return EXIT_PENDING


def _db_new_keys(sync) -> int:
    from .libraries.state import keys  # noqa: PLC0415
    from .libraries.state.store import Store  # noqa: PLC0415

    store = Store(sync.database)
    try:
        deleted = keys.new_keys(sync.secrets_dir, store)
    finally:
        store.close()
    print(
        f"Deleted {', '.join(map(str, deleted)) or 'no key file'}; the next command makes new keys (every password is pushed "
        "once more). Copy the new files of secrets/ to the other servers of this database."
    )
    return EXIT_OK


def _db_upgrade(database: str) -> int:
    from .libraries.state.store import Store  # noqa: PLC0415  (opening the store is what upgrades it)

    engine = create_engine(database)
    try:
        found = (
            migrate.current(engine)
            if not database.startswith("sqlite:///") or os.path.exists(database.removeprefix("sqlite:///"))
            else None
        )
        backup = migrate.backup_path(engine, found) if found else None
    finally:
        engine.dispose()
    Store(database).close()
    newest = migrate.head()
    if found == newest:
        print(f"Schema {newest}: already up to date, nothing changed.")
    else:
        copied = f"; the file before the upgrade is {backup}" if backup else ""
        print(f"Schema {found or 'none'} → {newest}: upgraded{copied}.")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="google-sync",
        description="Keep a Google Workspace domain in step with the server's OpenLDAP directory: users, groups, passwords. "
        "Accounts that leave are suspended, never deleted.",
        epilog="Exit codes: test 0 in sync, 2 changes pending, 3 refused by a safety limit, 1 error; sync 0 all applied, 1 failures "
        "or an error, 3 refused; undo as test (preview) or sync (--apply); check 0 all passed, 1 something failed; "
        "health 0 OK, 1 warning, 2 critical, 3 unknown; db current 0 up to date, 2 upgrade pending, 1 error; "
        "status, notify, db upgrade 0, or 1 on an error. 'google-sync COMMAND --help' explains each command.",
    )
    parser.add_argument(
        "--config", "-c", help=f"configuration file (default: $GOOGLE_SYNC_CONFIG or {config.DEFAULT_CONFIG_PATH})"
    )
    parser.add_argument("--verbose", "-v", action="count", default=0, help="more log output on stderr (-vv for debug)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    test = commands.add_parser(
        "test",
        help="dry run: show every change a synchronization would make",
        description="Dry run: print every planned change and warning, whether a safety limit refuses the plan, and the "
        "changes pushes held for your approval. Writes nothing to Google. The plan's checksum, printed last, is what "
        "'sync --checksum' applies.",
        epilog="Exit codes: 0 in sync, 2 changes pending, 3 refused by a safety limit (max_suspend, max_member_removals, "
        "empty directory), 1 error.",
    )
    test.add_argument("--json", action="store_true", help="print the plan as JSON (the same as --format json)")
    test.add_argument(
        "--format",
        choices=("text", "csv", "json"),
        default="text",
        help="text (default: every change and notice, then the summary), csv (one line per change: action, object, "
        "detail) or json",
    )
    test.add_argument(
        "--summary",
        action="store_true",
        help="print only the verdict, the changes per action and the warnings "
        f"per code with {SUMMARY_EXAMPLES} examples each",
    )
    test.set_defaults(handler=cmd_test)

    sync = commands.add_parser(
        "sync",
        help="make Google match the directory",
        description="Compute the plan, refuse it if unsafe (unless --force), apply it and print per-object results.",
        epilog="Exit codes: 0 all applied (or nothing to do), 1 some objects failed (the rest applied), a fatal error, or "
        "the plan differs from --checksum (nothing written), 3 refused by a safety limit (nothing written).",
    )
    sync.add_argument(
        "--force",
        action="store_true",
        help="apply even when a safety limit (max_suspend, max_member_removals, empty "
        "directory) would refuse; this also applies the changes pushes held",
    )
    sync.add_argument("--checksum", help="apply only if the plan still has this checksum (the one 'test' printed)")
    sync.add_argument("--json", action="store_true", help="print the results as JSON")
    sync.set_defaults(handler=cmd_sync)

    undo = commands.add_parser(
        "undo",
        help="preview, then apply, the inverse of what one run applied",
        description="Undo run RUN: suspensions are lifted, unsuspended accounts suspended again, members added are removed and "
        "members removed added back, names, org unit, mapped fields, primary address and posting policy go back to their "
        "previous values. Accounts the run created are suspended, never deleted; groups it created are left; passwords "
        "cannot be restored. Planned against Google as it is now: an object changed since the run is reported, not "
        "overwritten. Without --apply it only previews. The undo is a run of its own, which can be undone in turn.",
        epilog="Exit codes: preview 0 nothing to undo, 2 changes pending, 3 refused by a safety limit, 1 error (no such run); "
        "--apply 0 all applied, 1 failures or an error, 3 refused.",
    )
    undo.add_argument("run", type=int, metavar="RUN", help="the run to undo (google-sync status lists them)")
    undo.add_argument("--apply", action="store_true", help="apply the undo (default: preview only)")
    undo.add_argument(
        "--force",
        action="store_true",
        help="apply even when a safety limit (max_suspend, max_member_removals) would refuse",
    )
    undo.add_argument(
        "--checksum", help="apply only if the undo plan still has this checksum (the one the preview printed)"
    )
    undo.add_argument("--json", action="store_true", help="print the plan or the results as JSON")
    undo.set_defaults(handler=cmd_undo)

    check = commands.add_parser(
        "check",
        help="check LDAP, the Google token and each scope",
        description="Bind and search LDAP, look up enabled_group and the names in [sync] groups and exclude_groups, every "
        "[sources] subtree and group (with the users each holds, then the users in scope), get a "
        "Google token, try each scope in use with a harmless read (and each [custom_attributes] line). Prints one PASS "
        "or FAIL line per part, a failure naming the setting and the fix; unknown configuration keys are WARN lines.",
        epilog="Exit codes: 0 all passed, 1 something failed.",
    )
    check.set_defaults(handler=cmd_check)

    status = commands.add_parser(
        "status",
        help="the active worker, recent runs, interrupted ones included, and the push queue",
        description="Show which server's worker is active (runs the schedule and the watcher), recent runs (an interrupted "
        "one with the time it was last seen) and the pushes waiting in the queue (object, first seen, attempts, last error), "
        "and the count of changes held for your approval, or the per-object results of one run. --json prints "
        '{"version": this release, "worker": {"host", "pid", "since"} or null, "runs": [...], "push_queue": [...], "held": [...]}.',
        epilog="Exit codes: 0, 1 no such run (--run N) or an error.",
    )
    status.add_argument("--run", type=int, help="show the per-object results of this run")
    status.add_argument("--limit", type=int, default=20, help="how many runs to list (default 20)")
    status.add_argument(
        "--json", action="store_true", help="print as JSON (with --run: a list of {action, object, ok, message})"
    )
    status.set_defaults(handler=cmd_status)

    watch = commands.add_parser(
        "watch",
        help="push every directory change to Google within seconds",
        description="Follow the directory with syncrepl (or modifyTimestamp polling without syncprov) and push each changed "
        "user or group on its own, with O(1) API calls. Runs until stopped; the worker process runs this too.",
    )
    watch.set_defaults(handler=cmd_background)

    worker = commands.add_parser(
        "worker",
        help="the background process: automatic synchronization on schedule, plus watch",
        description="Run the scheduler (automatic synchronization as [sync] automatic and interval say, re-read every few "
        "seconds) and the directory watcher, until SIGTERM. This is what deploy/google-sync-worker.service runs. "
        "Workers on several servers sharing a PostgreSQL database_url elect one active worker (a PostgreSQL advisory "
        "lock); the others stand by and take over when its connection drops. 'google-sync status' names the active one.",
    )
    worker.add_argument(
        "--check-every",
        type=_seconds,
        default=leadership.CHECK_SECONDS,
        metavar="SECONDS",
        help=f"how often a standby worker tries to take over, and the active one confirms it still leads (default {leadership.CHECK_SECONDS:g})",
    )
    worker.set_defaults(handler=cmd_background)

    for sub in (test, sync):
        sub.add_argument("--trigger", default="cli", help=argparse.SUPPRESS)

    notify_command = commands.add_parser(
        "notify",
        help="send the notifications that are due, or a test message",
        description="Look at what happened since the last look (failed, refused or interrupted runs; changes held for "
        "approval; pushes failing for more than an hour; with [notify] when = changes, every run that changed something) and e-mail [notify] email_to what is "
        "due, at most one message of each kind per min_interval. The worker does this by itself every few seconds; run it "
        "from cron when there is no worker.",
    )
    notify_command.add_argument(
        "--test", action="store_true", help="send a test message now, whatever [notify] when and the throttle say"
    )
    notify_command.epilog = "Exit codes: 0 sent, nothing due or notifications off, 1 the message could not be sent (the line says which setting to check)."
    notify_command.set_defaults(handler=cmd_notify)

    health = commands.add_parser(
        "health",
        help="one-line check for Nagios, Icinga or a systemd timer",
        description="Check that synchronization works: the last full run (failed or refused: critical), the last successful "
        "one (older than twice the interval with automatic synchronization on: critical), pushes queued for more than "
        "10 minutes (warning; an hour: critical), changes held for approval (warning), the directory watcher (not running: "
        "critical), and a Google token. "
        "Prints one line (GOOGLE-SYNC OK - ...). Exit 0 OK, 1 warning, 2 critical, 3 unknown.",
    )
    health.add_argument("--json", action="store_true", help="print every check as JSON instead of one line")
    health.set_defaults(handler=cmd_health)

    leavers = commands.add_parser(
        "leavers",
        help="what offboarding did to each leaver, and its data transfer",
        description="Each leaver this tool offboarded ([offboarding]): the steps done and when, and the Drive/Calendar "
        "transfer (scheduled, running, completed, failed and retried, cancelled on return).",
    )
    leavers.add_argument(
        "--transfer-now", action="store_true", help="start the transfers that are due and read back those running, now"
    )
    leavers.add_argument("--json", action="store_true", help="machine-readable output")
    leavers.set_defaults(handler=cmd_leavers)

    db = commands.add_parser(
        "db",
        help="the state database's schema: show its version, or upgrade it",
        description="The state database (links, runs, results, the push queue, the scheduler's job) is versioned with "
        "Alembic. The worker, the console and every command upgrade it when they start; these commands do it explicitly. "
        "A database written by a newer app-google-sync is refused, never modified.",
    )
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="DB_COMMAND")
    db_commands.add_parser(
        "current",
        help="print the schema version and whether an upgrade is pending",
        description="Print the state database's schema version. Exit 0: up to date; 2: an upgrade is pending (or no database yet); "
        "1: written by a newer release, or cannot be read. Changes nothing.",
    )
    db_commands.add_parser(
        "upgrade",
        help="upgrade the schema to this release's (a SQLite file is copied first)",
        description="Upgrade the state database to this release's schema. A SQLite file is first copied beside itself as "
        "state.db.bak-<old version>; back up a PostgreSQL database with pg_dump first. Exit 0: up to date afterwards; 1: "
        "an error (a database written by a newer release is refused, never modified).",
    )
    db_commands.add_parser(
        "new-keys",
        help="forget the password-fingerprint keys (when no server has them any more)",
        description="Delete this server's password-fingerprint and salt keys (secrets/*.key) and forget which keys the state "
        "database's fingerprints were made with; the next command makes new ones and every password is pushed once more. "
        "For servers sharing a PostgreSQL database whose keys are lost: copy the new files to the other servers afterwards.",
    )
    db.set_defaults(handler=None)

    demo = commands.add_parser(
        "demo",
        help="run the whole job on a throwaway directory and the local Google emulator",
        description="Start a seeded ClearOS-like slapd and the Directory API emulator, then test, sync and show the result. Needs no configuration.",
    )
    demo.add_argument(
        "--keep-running", action="store_true", help="leave both servers up afterwards so you can try commands"
    )
    demo.add_argument(
        "--console",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="then serve the web console on the same demo until Ctrl-C (default: when run from a terminal)",
    )
    demo.add_argument("--port", type=int, default=8000, help="port of the web console (default 8000)")
    demo.set_defaults(handler=None)
    return parser


def _exit_on_sigterm(signum, _frame) -> None:
    """SIGTERM as an ordinary exit, so the demo's context managers stop slapd and remove its files.

    A second SIGTERM is ignored: it must not cut that clean-up short.
    """
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    if args.command == "demo":
        from .demo.tour import tour  # noqa: PLC0415  (the demo pulls in slapd and the emulator)

        console = sys.stdin.isatty() and sys.stdout.isatty() if args.console is None else args.console
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
        return tour(main, keep_running=args.keep_running, console=console, port=args.port)
    try:
        if args.command == "db":
            return cmd_db(args)
        settings = config.load(args.config)
        engine = SyncEngine(settings)
        return args.handler(engine, args)
    except ConfigError as error:
        kind = "" if isinstance(error, DatabaseTooNew) else "configuration error: "
        if args.command == "health":  # a monitoring plugin that cannot judge says UNKNOWN
            print(f"GOOGLE-SYNC UNKNOWN - {kind}{error}")
            return 3
        print(f"google-sync: {kind}{error}", file=sys.stderr)
        return EXIT_ERROR
    except SQLAlchemyError as error:
        if args.command == "health":  # no synchronization can run without it: critical, on stdout where Nagios reads
            print(f"GOOGLE-SYNC CRITICAL - cannot use the state database: {_database_advice(args.config, error)}")
            return 2
        print(f"google-sync: cannot use the state database: {_database_advice(args.config, error)}", file=sys.stderr)
        return EXIT_ERROR
    except GoogleSyncError as error:
        print(f"google-sync: {error}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("google-sync: interrupted", file=sys.stderr)
        return 130


def _database_advice(path: str | None, error: SQLAlchemyError) -> str:
    """Which database failed and what to do: a damaged SQLite file is no server to start (the URL's password is never shown)."""
    try:
        database = config.load_sync(config.config_path(path)).database
    except ConfigError:
        database = ""
    if database.startswith("sqlite:///") and "database is locked" in database_problem(error):
        # Not damaged: another process holds it (a backup, sqlite3 in a shell). Moving it aside would lose the history.
        path = database.removeprefix("sqlite:///")
        return (
            f"{path}: database is locked: another process holds it ('fuser {path}' names it); "
            "run again once it lets go (the worker, the console and a run only hold it for a moment)"
        )
    if database.startswith("sqlite:///"):
        return (
            f"{database.removeprefix('sqlite:///')}: {database_problem(error)}; if the file is damaged, restore it from a backup, "
            "or move it aside and run again (a new one is created, and Google's accounts are adopted again by address)"
        )
    shown = f"{make_url(database).render_as_string(hide_password=True)}: " if database else ""
    return f"{shown}{database_problem(error)}; check [sync] database_url and that the database server runs"


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0
    if not 0 < value <= 60:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds above 0 and at most 60, e.g. 5")
    return value


if __name__ == "__main__":
    sys.exit(main())
