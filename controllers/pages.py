"""Overview, automatic synchronization, history, users and groups."""
from __future__ import annotations

import logging
from datetime import datetime

from flask import abort, g, redirect, render_template, request, url_for

from app_google_sync.libraries.core.codes import outcome_of
from app_google_sync.libraries.core.errors import ConfigError, GoogleSyncError
from app_google_sync.libraries.ops import monitoring
from app_google_sync.libraries.runtime import scheduler as schedule_jobs
from app_google_sync.libraries.settings import config, config_file
from app_google_sync.libraries.settings.config import SyncSettings
from app_google_sync.libraries.state import locks
from app_google_sync.libraries.state.store import MAX_RUN_ID, Store
from app_google_sync.libraries.sync import overview

from .blueprint import blueprint, console, flash, get_engine, load_settings, raw_config
from .settings import connection

log = logging.getLogger(__name__)

def sync_settings() -> SyncSettings:
    return config.sync_settings(raw_config())


def state_store() -> Store:
    """The state database, even while the Google settings are incomplete; closed at teardown."""
    if "google_sync_store" not in g:
        g.google_sync_store = Store(sync_settings().database)
    return g.google_sync_store


@blueprint.teardown_app_request
def close_store(_error=None):
    store = g.pop("google_sync_store", None)
    if store is not None:
        store.close()


@blueprint.app_template_filter("gs_time")
def format_time(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


@blueprint.app_template_filter("gs_duration")
def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "running"
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"


@blueprint.app_template_global("gs_outcome")
def outcome_label(outcome: str) -> tuple[str, str]:
    known = outcome_of(outcome)
    return (known.label, known.tone) if known else (outcome, "info")


def scheduled_run():
    try:
        return schedule_jobs.current_run(console().scheduler, sync_settings().database)
    except Exception:  # noqa: BLE001  (a page must not fail because the job table cannot be read)
        log.exception("cannot read the automatic synchronization job")
        return None


def active_worker():
    """The server whose worker runs the schedule and the watcher; ("", None) when none, ("unknown", None) when unreadable."""
    sync = sync_settings()
    try:
        return "", locks.active_worker(sync.state_dir, sync.database)
    except Exception:  # noqa: BLE001  (a page must not fail because the database's lock table cannot be read)
        log.exception("cannot tell which worker is active")
        return "unknown", None


@blueprint.get("/")
def index():
    settings, problem = load_settings()
    store = state_store()
    store.mark_interrupted(lock_held=False)  # runs whose process died show as interrupted, not running forever
    runs = store.runs(limit=5)
    # A busy watcher makes a run per change: the last full synchronization is shown apart from the last push.
    last_push = next((run for run in store.runs(limit=50) if monitoring.run_kind(run) == "push"), None)
    return render_template(
        "google_sync/index.html",
        settings=settings,
        problem=problem,
        connection=connection(),
        schedule=config_file.schedule(raw_config()),
        scheduled=scheduled_run(),
        runs=runs,
        last_sync=monitoring.last_full_run(store),
        last_push=last_push,
        queue=store.queued_pushes(),
        held=store.held(),
        worker=active_worker(),
        in_process=console().scheduler is not None,
        shared_database=not sync_settings().database.startswith("sqlite:"),
    )


@blueprint.get("/automatic")
def automatic():
    return render_automatic(config_file.schedule(raw_config()))


def render_automatic(schedule, error="", status=200):
    page = render_template(
        "google_sync/automatic.html",
        schedule=schedule,
        scheduled=scheduled_run(),
        error=error,
        in_process=console().scheduler is not None,
        connected=connection().connected,
        grace=schedule_jobs.MISFIRE_GRACE_SECONDS,
        reconcile_seconds=int(schedule_jobs.RECONCILE_SECONDS),
    )
    return page, status


@blueprint.post("/automatic")
def save_automatic():
    enabled = request.form.get("automatic") == "yes"
    try:
        interval = config_file.check_interval(request.form.get("interval", ""))
    except ConfigError as error:
        return render_automatic(config_file.Schedule(enabled, config_file.DEFAULT_INTERVAL), error=str(error), status=400)
    if enabled and not connection().connected:
        return render_automatic(config_file.Schedule(False, interval), error="Connect to Google first (Settings), then switch automatic synchronization on.", status=400)
    state = console()
    config_file.update(state.config_path, "sync", {"automatic": "yes" if enabled else "no", "interval": str(interval)})
    schedule = config_file.Schedule(enabled, interval)
    if state.scheduler is not None:
        schedule_jobs.reconcile(state.scheduler, schedule, state.config_path)
    if enabled:
        flash(f"Automatic synchronization is on: every {interval} minutes.", "success")
    else:
        flash("Automatic synchronization is off. Changes made in the user manager are still pushed while connected.", "success")
    return redirect(url_for(".automatic"))


@blueprint.get("/history")
def history():
    limit = min(max(request.args.get("limit", 50, type=int), 1), 500)
    state_store().mark_interrupted(lock_held=False)
    return render_template("google_sync/history.html", runs=state_store().runs(limit=limit), limit=limit)


@blueprint.get(f"/history/<int(max={MAX_RUN_ID}):run_id>")
def history_run(run_id: int):
    store = state_store()
    run = store.run(run_id) or abort(404)
    results = store.results(run_id)
    failed = sum(1 for result in results if not result["ok"])
    return render_template("google_sync/history_run.html", run=run, results=results, failed=failed)


@blueprint.get("/objects")
def objects():
    settings, problem = load_settings()
    if settings is None:
        return render_template("google_sync/objects.html", view=None, error=f"{problem}. Complete the settings first.", google_problem="")
    try:
        view, google_problem = overview.read_overview(get_engine())
    except GoogleSyncError as error:
        return render_template("google_sync/objects.html", view=None, error=str(error), google_problem="")
    state_filter = request.args.get("state", "")
    return render_template(
        "google_sync/objects.html",
        view=view,
        error="",
        google_problem=google_problem,
        state_filter=state_filter,
        labels=overview.LABELS,
        leavers=len(state_store().leavers()),
    )
