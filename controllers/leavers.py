"""The Leavers page: what [offboarding] did to each leaver and when, and where its data transfer stands."""

from __future__ import annotations

from collections import Counter

from flask import render_template

from app_google_sync.libraries.sync.transfers import STATUS_WORDS, applications_text

from .blueprint import blueprint, load_settings
from .pages import state_store

# Badge colours of the console's stylesheet, per transfer status.
STATUS_TONE = {
    "scheduled": "info",
    "new": "info",
    "inProgress": "info",
    "completed": "ok",
    "failed": "error",
    "cancelled": "muted",
}


@blueprint.get("/leavers")
def leavers():
    settings, _ = load_settings()
    everyone = state_store().leavers()
    return render_template(
        "google_sync/leavers.html",
        leavers=everyone,
        statuses=Counter(leaver.transfer_status for leaver in everyone if leaver.transfer_status),
        offboarding=settings.offboarding if settings else None,
        status_words=STATUS_WORDS,
        status_tone=STATUS_TONE,
        applications_text=applications_text,
    )
