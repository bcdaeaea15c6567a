"""Changes held by the safety limits, and undoing a run: both only on the administrator's explicit say."""

from __future__ import annotations

import re

from flask import abort, redirect, render_template, request, url_for

from app_google_sync.libraries.core.codes import RunOutcome
from app_google_sync.libraries.core.errors import GoogleSyncError, PlanChanged, UnsafePlan
from app_google_sync.libraries.state.store import MAX_RUN_ID, held_checksum

from .blueprint import blueprint, flash, get_engine, load_settings
from .pages import state_store


@blueprint.get("/held")
def held():
    waiting = state_store().held()
    return render_template("google_sync/held.html", held=waiting, checksum=held_checksum(waiting))


@blueprint.post("/held/apply")
def apply_held():
    waiting = state_store().held()
    if not waiting:
        flash("Nothing is held any more.", "success")
        return redirect(url_for(".held"))
    if request.form.get("confirm") != str(len(waiting)):
        flash("Tick the confirmation naming the held changes to apply them.", "warning")
        return redirect(url_for(".held"))
    checksum = request.form.get("checksum", "")
    if not re.fullmatch(r"[0-9a-f]{16}", checksum):
        flash("Open the list of held changes and apply from there: it applies exactly the changes it shows.", "warning")
        return redirect(url_for(".held"))
    settings, problem = load_settings()
    if settings is None:
        flash(f"{problem}. Complete the settings first.", "error")
        return redirect(url_for(".held"))
    try:
        report = get_engine().apply_held(trigger="console", expected_checksum=checksum)
    except PlanChanged:
        flash(
            "Not applied, nothing was written: the held changes changed since this page was shown. "
            "Check the list below again, then apply.",
            "warning",
        )
        return redirect(url_for(".held"))
    except GoogleSyncError as error:
        flash(f"The held changes could not be applied: {error}", "error")
        return redirect(url_for(".held"))
    _flash_report(report, "Held changes")
    return redirect(url_for(".history_run", run_id=report.run_id))


@blueprint.get(f"/history/<int(max={MAX_RUN_ID}):run_id>/undo")
def undo_preview(run_id: int):
    run = state_store().run(run_id) or abort(404)
    settings, problem = load_settings()
    if settings is None:
        return render_template(
            "google_sync/undo.html", run=run, plan=None, error=f"{problem}. Complete the settings first."
        )
    try:
        plan = get_engine().plan_undo(run_id)
    except GoogleSyncError as error:
        return render_template("google_sync/undo.html", run=run, plan=None, error=str(error))
    return render_template("google_sync/undo.html", run=run, plan=plan, error="")


@blueprint.post(f"/history/<int(max={MAX_RUN_ID}):run_id>/undo")
def undo_apply(run_id: int):
    state_store().run(run_id) or abort(404)
    checksum = request.form.get("checksum", "")
    if not re.fullmatch(r"[0-9a-f]{1,64}", checksum):  # what the preview page carries; anything else was not previewed
        flash("Preview the undo first: it applies exactly the plan you saw.", "warning")
        return redirect(url_for(".undo_preview", run_id=run_id))
    try:
        report = get_engine().undo(
            run_id, force=request.form.get("force") == "yes", expected_checksum=checksum, trigger="console"
        )
    except UnsafePlan as error:
        flash(f"Refused, nothing was written: {error}. Tick the confirmation to apply it anyway.", "warning")
        return redirect(url_for(".undo_preview", run_id=run_id))
    except GoogleSyncError as error:
        flash(f"The undo could not run: {error}", "error")
        return redirect(url_for(".undo_preview", run_id=run_id))
    if report.outcome == RunOutcome.CHANGED:
        flash(f"Not applied: {report.message}", "warning")
        return redirect(url_for(".undo_preview", run_id=run_id))
    _flash_report(report, f"Undo of run #{run_id}")
    return redirect(url_for(".history_run", run_id=report.run_id))


def _flash_report(report, what: str) -> None:
    failed = len(report.failures)
    if report.outcome == RunOutcome.IN_SYNC:
        flash(f"{what}: nothing left to change.", "success")
    elif failed:
        flash(f"{what}: {len(report.results) - failed} applied, {failed} failed; the results below say why.", "error")
    else:
        flash(f"{what}: {len(report.results)} change(s) applied.", "success")
