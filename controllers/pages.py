"""Overview, automatic synchronization, history, users and groups."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import abort, g, redirect, render_template, request, url_for

from app_google_sync.libraries.core.codes import outcome_of
from app_google_sync.libraries.core.errors import ConfigError, GoogleSyncError
from app_google_sync.libraries.ops import monitoring
from app_google_sync.libraries.reports import kept_plans, overview, run_results
from app_google_sync.libraries.reports.listing import Filters, page_of_list
from app_google_sync.libraries.runtime import scheduler as schedule_jobs
from app_google_sync.libraries.settings import config, config_file
from app_google_sync.libraries.settings.config import SyncSettings
from app_google_sync.libraries.state import locks
from app_google_sync.libraries.state.store import MAX_RUN_ID, Store

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
        return render_automatic(
            config_file.Schedule(enabled, config_file.DEFAULT_INTERVAL), error=str(error), status=400
        )
    if enabled and not connection().connected:
        return render_automatic(
            config_file.Schedule(False, interval),
            error="Connect to Google first (Settings), then switch automatic synchronization on.",
            status=400,
        )
    state = console()
    config_file.update(state.config_path, "sync", {"automatic": "yes" if enabled else "no", "interval": str(interval)})
    schedule = config_file.Schedule(enabled, interval)
    if state.scheduler is not None:
        schedule_jobs.reconcile(state.scheduler, schedule, state.config_path)
    if enabled:
        flash(f"Automatic synchronization is on: every {interval} minutes.", "success")
    else:
        flash(
            "Automatic synchronization is off. Changes made in the user manager are still pushed while connected.",
            "success",
        )
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
    filters = Filters.from_args(request.args.get)
    counted = run_results.counts(store, run_id)
    return render_template(
        "google_sync/history_run.html",
        run=run,
        counted=counted,
        filters=filters,
        results=run_results.page(store, run_id, filters),
        action_choices=[(action, action) for action in counted.by_action],
    )


@blueprint.get("/objects")
def objects():
    """The last computed view with its time (a Refresh button computes it again): a click on a filter or a page
    reads no directory and no Google."""
    settings, problem = load_settings()
    if settings is None:
        return render_template(
            "google_sync/objects.html", view=None, error=f"{problem}. Complete the settings first.", google_problem=""
        )
    kept = kept_plans.load_view(settings.sync.state_dir)
    if kept is None:
        try:
            kept = compute_view(settings)
        except GoogleSyncError as error:
            return render_template("google_sync/objects.html", view=None, error=str(error), google_problem="")
    view, google_problem, computed_at = kept
    filters = Filters.from_args(request.args.get)
    newer_run = next(
        (
            run
            for run in state_store().runs(limit=1)
            if not run.dry_run and run.finished_at and _aware(run.finished_at) > computed_at
        ),
        None,
    )
    users = page_of_list(kept_plans.users_matching(view, filters), filters.page)
    # The groups follow the search (not the state filter: a user's state); a page of them at most.
    groups = page_of_list(kept_plans.groups_matching(view, Filters(q=filters.q)), 1)
    return render_template(
        "google_sync/objects.html",
        view=view,
        users=users,
        groups=groups,
        filters=filters,
        computed_at=computed_at,
        newer_run=newer_run,
        error="",
        google_problem=google_problem,
        state_filter=filters.state,
        labels=overview.LABELS,
        leavers=len(state_store().leavers()),
    )


@blueprint.post("/objects/refresh")
def refresh_objects():
    settings, problem = load_settings()
    if settings is None:
        return redirect(url_for(".objects"))
    try:
        compute_view(settings)
    except GoogleSyncError as error:
        flash(f"The view could not be refreshed: {error}", "error")
    return redirect(url_for(".objects", **Filters.from_args(request.form.get).url_args()))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def compute_view(settings):
    """Read the directory and Google, plan, and keep the resulting view (one read of each side)."""
    return kept_plans.refresh_view(get_engine())
