"""Test connection, test synchronization (the preview), synchronize now and its progress."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import abort, jsonify, redirect, render_template, request, session, url_for

from app_google_sync.libraries.core.codes import NoticeCode
from app_google_sync.libraries.core.errors import GoogleSyncError
from app_google_sync.libraries.reports import kept_plans, overview, run_results
from app_google_sync.libraries.reports.listing import Filters, group_notices, page_of_list

from .blueprint import blueprint, console, flash, get_engine, load_settings, optional_url

log = logging.getLogger(__name__)

PREVIEW_KEY = "google_sync_preview"
FAILURES_SHOWN = 20
ALL_RESULTS_UP_TO = 50
CHECK_LABELS = {
    "token": "Google token",
    "https://www.googleapis.com/auth/admin.directory.user": "Users (admin.directory.user)",
    "https://www.googleapis.com/auth/admin.directory.group": "Groups (admin.directory.group)",
    "https://www.googleapis.com/auth/admin.directory.group.member": "Group members (admin.directory.group.member)",
    "https://www.googleapis.com/auth/admin.directory.orgunit": "Organizational units (admin.directory.orgunit)",
    "https://www.googleapis.com/auth/apps.groups.settings": "Group settings (apps.groups.settings)",
    "https://www.googleapis.com/auth/admin.directory.domain.readonly": "Domains (admin.directory.domain.readonly)",
    "https://www.googleapis.com/auth/admin.directory.userschema.readonly": "Custom attributes (admin.directory.userschema.readonly)",
    "https://www.googleapis.com/auth/apps.licensing": "Licences (apps.licensing)",
}


@dataclass(frozen=True)
class CheckRow:
    name: str
    ok: bool
    detail: str


@blueprint.get("/check")
def check():
    return render_template("google_sync/check.html", rows=None)


@blueprint.post("/check")
def run_check():
    from app_google_sync.libraries.google.google_target import check_access  # noqa: PLC0415

    settings, problem = load_settings()
    if settings is None:
        rows = [CheckRow("Settings", False, f"{problem}. Complete the settings first.")]
        return render_template("google_sync/check.html", rows=rows)
    engine = get_engine()
    rows = []
    try:
        findings = engine.source.check()
        rows.append(CheckRow("Directory (LDAP)", True, "; ".join(findings)))
        rows += [
            CheckRow(f"Group names ({key})", False, problem)
            for key, problem in engine.source.check_group_names(settings.sync)
        ]
    except GoogleSyncError as error:
        rows.append(CheckRow("Directory (LDAP)", False, str(error)))
    try:
        rows += [CheckRow(CHECK_LABELS.get(c.name, c.name), c.ok, c.detail) for c in check_access(settings)]
    except GoogleSyncError as error:
        rows.append(CheckRow("Google", False, str(error)))
    return render_template("google_sync/check.html", rows=rows)


@blueprint.get("/test")
def test():
    return render_template("google_sync/test.html", kept=None, error="", preview=session.get(PREVIEW_KEY))


@blueprint.post("/test")
def run_test():
    settings, problem = load_settings()
    if settings is None:
        return render_template(
            "google_sync/test.html", kept=None, error=f"{problem}. Complete the settings first.", preview=None
        )
    engine = get_engine()
    try:
        report = engine.test(trigger="console")
    except GoogleSyncError as error:
        session.pop(PREVIEW_KEY, None)
        return render_template("google_sync/test.html", kept=None, error=str(error), preview=None)
    plan = report.plan
    # Kept by checksum: this page's filters, pages and downloads read it back instead of planning again.
    kept = kept_plans.save(settings.sync.state_dir, plan)
    if engine.last_snapshot is not None:  # both sides were just read: Users and groups shows them without reading again
        kept_plans.save_view(settings.sync.state_dir, overview.overview_of(engine, engine.last_snapshot), "")
    session[PREVIEW_KEY] = {
        "checksum": plan.checksum,
        "counts": plan.counts(),
        "refused": bool(plan.refusals),
        "in_sync": plan.in_sync,
    }
    return render_plan(kept, Filters())


@blueprint.get("/test/<checksum>")
def kept_plan(checksum):
    settings, problem = load_settings()
    kept = kept_plans.load(settings.sync.state_dir, checksum) if settings else None
    if kept is None:
        flash("That plan is no longer kept (or the settings changed): test again.", "warning")
        return redirect(url_for(".test"))
    return render_plan(kept, Filters.from_args(request.args.get))


def render_plan(kept, filters: Filters):
    """The plan's page: its summary first (verdict, counts, the action to take), then one page of the rows asked for."""
    if filters.code:
        rows, showing = kept_plans.notices_matching(kept.notices, filters), "notices"
    else:
        rows, showing = kept_plans.changes_matching(kept, filters), "changes"
    preview = session.get(PREVIEW_KEY)
    admin_links = {
        notice["object"]: admin_account_link(notice)
        for notice in kept.notices
        if notice["code"] == NoticeCode.ADMIN_WITHOUT_LOCAL_USER
    }
    return render_template(
        "google_sync/test.html",
        kept=kept,
        filters=filters,
        showing=showing,
        action_choices=[(action, f"{action} ({count:,})") for action, count in sorted(kept.counts.items())],
        rows=page_of_list(rows, filters.page),
        warning_groups=group_notices(kept.notices, level="warning"),
        info_groups=group_notices(kept.notices, level="info"),
        admin_links=admin_links,
        google_only=sum(1 for notice in kept.notices if notice["code"] == NoticeCode.GOOGLE_ONLY),
        error="",
        preview=preview,
        current=bool(preview and preview.get("checksum") == kept.checksum),
        pushing=console().pushes.busy,
        held=get_engine().held(),
    )


def admin_account_link(notice) -> str | None:
    """For "the administrator account cannot be suspended and has no local account": the host's page to create it."""
    email = notice["object"].lower()
    return optional_url(console().create_user_endpoints, uid=email.partition("@")[0], mail=email, google_apps="on")


@blueprint.post("/sync")
def sync():
    preview = session.get(PREVIEW_KEY)
    if not preview:
        flash("Run the test synchronization first: Synchronize now applies the plan you previewed.", "warning")
        return redirect(url_for(".test"))
    force = request.form.get("force") == "yes"
    if preview.get("refused") and not force:
        flash("The previewed plan breaks a safety limit. Tick the confirmation to apply it anyway.", "warning")
        return redirect(url_for(".test"))
    state = console()
    running = state.runs.active()
    if running is not None:
        flash("A synchronization started from this console is still running.", "warning")
        return redirect(url_for(".progress", run_id=running.id))
    run = state.runs.start(state.config_path, preview["checksum"], force=force, planned=preview.get("counts"))
    session.pop(PREVIEW_KEY, None)
    return redirect(url_for(".progress", run_id=run.id))


@blueprint.get("/sync/<run_id>")
def progress(run_id):
    """While it runs: the progress bar. Once finished: the run's summary (counts per action, its failures first,
    its warnings grouped), not every row: the run's page in the history has them, paged."""
    run = console().runs.get(run_id) or abort(404)
    counted = failures = None
    if run.is_finished and run.run_id:
        from .pages import state_store  # noqa: PLC0415

        counted = run_results.counts(state_store(), run.run_id)
        # A small run lists every result (failures first); a large one its first failures, the history the rest.
        every = counted.total <= ALL_RESULTS_UP_TO
        failures = run_results.page(
            state_store(),
            run.run_id,
            Filters(outcome="" if every else "failed"),
            per_page=ALL_RESULTS_UP_TO if every else FAILURES_SHOWN,
        )
    return render_template(
        "google_sync/progress.html",
        run=run,
        counted=counted,
        failures=failures,
        warning_groups=group_notices(run.warnings, level="warning"),
    )


@blueprint.get("/sync/<run_id>/status")
def progress_status(run_id):
    run = console().runs.get(run_id) or abort(404)
    return jsonify(run.data)
