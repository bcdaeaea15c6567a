"""Test connection, test synchronization (the preview), synchronize now and its progress."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import abort, jsonify, redirect, render_template, request, session, url_for

from app_google_sync.libraries.core.codes import NoticeCode
from app_google_sync.libraries.core.errors import GoogleSyncError

from .blueprint import blueprint, console, flash, get_engine, load_settings, optional_url

log = logging.getLogger(__name__)

PREVIEW_KEY = "google_sync_preview"
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
        rows += [CheckRow(f"Group names ({key})", False, problem) for key, problem in engine.source.check_group_names(settings.sync)]
    except GoogleSyncError as error:
        rows.append(CheckRow("Directory (LDAP)", False, str(error)))
    try:
        rows += [CheckRow(CHECK_LABELS.get(c.name, c.name), c.ok, c.detail) for c in check_access(settings)]
    except GoogleSyncError as error:
        rows.append(CheckRow("Google", False, str(error)))
    return render_template("google_sync/check.html", rows=rows)


@blueprint.get("/test")
def test():
    return render_template("google_sync/test.html", report=None, error="", preview=session.get(PREVIEW_KEY))


@blueprint.post("/test")
def run_test():
    settings, problem = load_settings()
    if settings is None:
        return render_template("google_sync/test.html", report=None, error=f"{problem}. Complete the settings first.", preview=None)
    try:
        report = get_engine().test(trigger="console")
    except GoogleSyncError as error:
        session.pop(PREVIEW_KEY, None)
        return render_template("google_sync/test.html", report=None, error=str(error), preview=None)
    plan = report.plan
    session[PREVIEW_KEY] = {"checksum": plan.checksum, "counts": plan.counts(), "refused": bool(plan.refusals), "in_sync": plan.in_sync}
    notices = [(notice, admin_account_link(notice)) for notice in plan.notices]
    google_only = sum(1 for notice in plan.notices if notice.code == NoticeCode.GOOGLE_ONLY)
    return render_template(
        "google_sync/test.html",
        report=report,
        plan=plan,
        notices=notices,
        google_only=google_only,
        error="",
        preview=session[PREVIEW_KEY],
        pushing=console().pushes.busy,
        held=get_engine().held(),
    )


def admin_account_link(notice) -> str | None:
    """For "the administrator account cannot be suspended and has no local account": the host's page to create it."""
    if notice.code != NoticeCode.ADMIN_WITHOUT_LOCAL_USER:
        return None
    email = notice.subject.lower()
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
    run = console().runs.get(run_id) or abort(404)
    return render_template("google_sync/progress.html", run=run)


@blueprint.get("/sync/<run_id>/status")
def progress_status(run_id):
    run = console().runs.get(run_id) or abort(404)
    return jsonify(run.data)
