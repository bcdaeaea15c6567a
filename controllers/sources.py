"""Sources: who goes to Google (subtrees, groups, the per-user switch, exclusions, the pilot) and the sync method.

A change is never saved blind: Preview runs the test synchronization the new sources would make (who comes in,
who would be suspended, whether a safety limit refuses it); Save writes only the sources previewed, and only
while they still make the plan previewed.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for

from app_google_sync.libraries.core.errors import ConfigError, GoogleSyncError
from app_google_sync.libraries.settings import config, config_file, config_schema

from .blueprint import blueprint, console, get_engine, load_settings, raw_config

KEYS = tuple(key.name for key in config_schema.section("sources").keys)
METHODS = (
    ("users", "Users only", "Each user gets a Google account; nothing else."),
    (
        "target_group",
        "Users, all in one group",
        "Each user gets an account and is a member of one Google group (e.g. all-staff@), created if missing and kept exactly in step.",
    ),
    (
        "source_groups",
        "Users, and a group per source group",
        "Each user gets an account, and each source group (with the groups nested in it) becomes a Google group.",
    ),
)


def current_texts() -> dict[str, str]:
    """[sources] as the file writes it now."""
    parser = raw_config()
    return {key: config_file.value(parser, "sources", key) for key in KEYS}


def submitted_texts() -> dict[str, str]:
    """The form's sources, written as the file would hold them."""
    form = request.form
    subtrees = []
    for dn in form.getlist("subtree"):
        unit = form.get(f"unit:{dn}", "").strip()
        subtrees.append(str(config_schema.Subtree(dn, sub_ous=form.get(f"level:{dn}") != "one", org_unit=unit)))
    return {
        "subtrees": "; ".join(subtrees),
        "member_groups": " ".join(form.getlist("group")),
        "switch": form.get("switch", ""),
        "exclusion_groups": " ".join(form.getlist("exclude")),
        "method": form.get("method", "users"),
        "target_group": form.get("target_group", "").strip(),
        "pilot_source": form.get("pilot_source", "").strip(),
        "pilot_users": form.get("pilot_users", "").strip(),
    }


def chosen_of(texts: dict[str, str]):
    """The sources these texts give, for ticking the form; None when one does not parse (the error says why)."""
    try:
        return config.SourceSettings(**{key: config_schema.check("sources", key, texts.get(key, "")) for key in KEYS})
    except ConfigError:
        return None


def render_sources(texts: dict[str, str], preview=None, error: str = "", status: int = 200):
    outline, problem = read_outline()
    page = render_template(
        "google_sync/sources.html",
        outline=outline,
        texts=texts,
        chosen=chosen_of(texts) or config.SourceSettings(),
        subtree_of={
            config.dn_key(subtree.dn): subtree for subtree in (chosen_of(texts) or config.SourceSettings()).subtrees
        },
        dn_key=config.dn_key,
        preview=preview,
        methods=METHODS,
        error=error or problem,
        saved=request.args.get("saved") == "1",
    )
    return page, status


def read_outline():
    settings, problem = load_settings()
    if settings is None:
        return None, f"{problem}. Complete the settings first."
    try:
        return get_engine().source.read_outline(), ""
    except GoogleSyncError as error:
        return None, f"The directory could not be read: {error}"


def preview_of(texts: dict[str, str]):
    """(the preview of these sources, '') or (None, why there is none)."""
    from app_google_sync.libraries.sync.sources_preview import preview  # noqa: PLC0415  (reads both sides)

    settings, problem = load_settings()
    if settings is None:
        return None, f"{problem}. Complete the settings first."
    try:
        engine = get_engine()
        return preview(config.with_sources(settings, texts), store=engine.store), ""
    except ConfigError as error:
        return None, str(error)
    except GoogleSyncError as error:
        return None, f"Nothing can be previewed: {error}"


@blueprint.get("/sources")
def sources():
    return render_sources(current_texts())


@blueprint.post("/sources/preview")
def preview_sources():
    texts = submitted_texts()
    shown, problem = preview_of(texts)
    return render_sources(texts, preview=shown, error=problem, status=200 if shown else 400)


@blueprint.post("/sources/save")
def save_sources():
    texts = {key: request.form.get(f"previewed_{key}", "") for key in KEYS}
    shown, problem = preview_of(texts)
    if shown is None:
        return render_sources(texts, error=problem, status=400)
    if shown.checksum != request.form.get("checksum"):
        return render_sources(
            texts,
            preview=shown,
            status=409,
            error="The directory or Google changed since the preview: here is the preview again; save once you have read it.",
        )
    if shown.suspended and request.form.get("confirm_suspensions") != "yes":
        return render_sources(
            texts,
            preview=shown,
            status=400,
            error=f"These sources would suspend {len(shown.suspended)} account(s): tick the confirmation to save them.",
        )
    config_file.update(console().config_path, "sources", {key: (texts[key] or None) for key in KEYS})
    flash(
        f"Sources saved: {shown.users} user(s) in scope. Nothing has changed in Google yet; the next synchronization applies them"
        + (" (it is refused by a safety limit until you force it)." if shown.refusals else "."),
        "success",
    )
    return redirect(url_for(".sources", saved=1))
