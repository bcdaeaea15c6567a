"""Downloads: a kept plan, its notices and a run's results as CSV or JSON, streamed a row at a time (a 100,000-row
export never sits whole in memory); the page's filters apply to what is downloaded."""

from __future__ import annotations

import json

from flask import Response, abort, request, stream_with_context

from app_google_sync.libraries.reports import kept_plans, run_results
from app_google_sync.libraries.reports.listing import Filters, chunked, csv_lines, json_lines
from app_google_sync.libraries.state.store import MAX_RUN_ID, Store

from .blueprint import blueprint, load_settings
from .pages import state_store, sync_settings

PLAN_FIELDS = ["action", "object", "detail"]
NOTICE_FIELDS = ["level", "code", "object", "message"]
MIMETYPES = {"csv": "text/csv", "json": "application/json"}


def download(lines, fmt: str, filename: str) -> Response:
    response = Response(stream_with_context(chunked(lines)), mimetype=MIMETYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response


def _kept_or_404(checksum: str):
    settings, _problem = load_settings()
    return (kept_plans.load(settings.sync.state_dir, checksum) if settings else None) or abort(404)


@blueprint.get("/test/<checksum>/plan.<any(csv, json):fmt>")
def plan_export(checksum, fmt):
    kept = _kept_or_404(checksum)
    rows = kept_plans.changes_matching(kept, Filters.from_args(request.args.get))
    if fmt == "csv":
        return download(csv_lines(PLAN_FIELDS, rows), fmt, f"google-sync-plan-{checksum}")
    head = json.dumps(
        {"checksum": kept.checksum, "in_sync": kept.in_sync, "counts": kept.counts, "refused": list(kept.refusals)},
        ensure_ascii=False,
    )
    tail = ',\n"notices": ' + json.dumps(kept.notices, ensure_ascii=False) + "}\n"
    return download(
        json_lines(rows, before=head[:-1] + ',\n"changes": ', after=tail), fmt, f"google-sync-plan-{checksum}"
    )


@blueprint.get("/test/<checksum>/notices.<any(csv, json):fmt>")
def plan_notices_export(checksum, fmt="csv"):
    kept = _kept_or_404(checksum)
    rows = kept_plans.notices_matching(kept.notices, Filters.from_args(request.args.get))
    lines = csv_lines(NOTICE_FIELDS, rows) if fmt == "csv" else json_lines(rows)
    return download(lines, fmt, f"google-sync-notices-{checksum}")


@blueprint.get(f"/history/<int(max={MAX_RUN_ID}):run_id>/results.<any(csv, json):fmt>")
def results_export(run_id, fmt):
    state_store().run(run_id) or abort(404)
    filters = Filters.from_args(request.args.get)
    database = sync_settings().database

    def rows():
        store = Store(database)  # its own connection, open for as long as the download lasts
        try:
            yield from run_results.stream(store, run_id, filters)
        finally:
            store.close()

    lines = csv_lines(run_results.EXPORT_FIELDS, rows()) if fmt == "csv" else json_lines(rows())
    return download(lines, fmt, f"google-sync-run-{run_id}-results")
