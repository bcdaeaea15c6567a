"""Groups: which directory groups go to Google, who may post to them, members outside the scope, groups that left."""

from __future__ import annotations

import logging

from flask import abort, redirect, render_template, request, url_for

from app_google_sync.libraries.core.errors import ConfigError, GoogleSyncError
from app_google_sync.libraries.reports import overview
from app_google_sync.libraries.settings import config_file

from .blueprint import SCOPE_NOTE, blueprint, console, flash, get_engine, load_settings, raw_config

log = logging.getLogger(__name__)

# (value, label, what it means); "" leaves Google's setting alone.
POLICIES = (
    ("", "Not managed", "Google's setting is left as it is: change it in the Google Admin console if you want."),
    ("members", "Members only", "Only the group's members can post to it."),
    ("domain", "Anyone in the domain", "Anyone with an account in your Google domain can post, members or not."),
    (
        "anyone",
        "Anyone on the internet",
        "Anyone on the internet can post; messages from non-members wait for a moderator, as Google recommends.",
    ),
)
FOLLOW_DEFAULT, OFF = "default", "off"  # per-group select values besides the policies


def read_view():
    """(GroupsView, '') or (None, why the groups cannot be listed)."""
    settings, problem = load_settings()
    if settings is None:
        return None, f"{problem}. Complete the settings first."
    try:
        return overview.read_groups(get_engine()), ""
    except GoogleSyncError as error:
        return None, f"The directory could not be read: {error}"


def render_groups(view, error="", choice=None, status=200):
    page = render_template(
        "google_sync/groups.html",
        view=view,
        error=error,
        choice=choice or config_file.group_choice(raw_config()),
        policies=POLICIES,
        policy_labels={value: label for value, label, _ in POLICIES},
        listable=config_file.listable_group,
        saved=request.args.get("saved") == "1",
    )
    return page, status


@blueprint.get("/groups")
def groups():
    view, error = read_view()
    return render_groups(view, error)


def submitted_choice(shown: list[str]) -> config_file.GroupChoice:
    """The form's choice; raises ConfigError for a policy that does not exist."""
    form = request.form
    ticked = set(form.getlist("group"))
    posting = {}
    for name in shown:
        picked = form.get(f"posting:{name}", FOLLOW_DEFAULT)
        if picked != FOLLOW_DEFAULT:
            posting[name.lower()] = config_file.check_posting_policy("" if picked == OFF else picked)
    all_groups = form.get("all_groups") == "yes"
    return config_file.GroupChoice(
        all_groups=all_groups,
        groups=tuple(name for name in shown if name in ticked),
        exclude=tuple(name for name in shown if name not in ticked) if all_groups else (),
        create_missing_members=form.get("create_missing_members") == "yes",
        posting_default=config_file.check_posting_policy(form.get("posting_default", "")),
        posting=posting,
    )


@blueprint.post("/groups")
def save_groups():
    view, error = read_view()
    if view is None:
        return render_groups(None, error, status=400)
    shown = [row.name for row in view.groups if config_file.listable_group(row.name)]
    before = config_file.group_choice(raw_config())
    try:
        choice = submitted_choice(shown)
        config_file.save_group_choice(console().config_path, shown, choice)
    except ConfigError as problem:
        return render_groups(view, str(problem), status=400)
    settings, _ = load_settings()
    managed = bool(settings and (settings.sync.posting_policy or settings.sync.posting_overrides))
    newly_managed = managed and not (before.posting_default or before.posting)
    flash("Groups saved.", "success")
    if newly_managed:
        flash(SCOPE_NOTE.format(feature="Posting policies", scope="apps.groups.settings"), "warning")
    return redirect(url_for(".groups", saved=1))


# -- groups no longer synchronized ----------------------------------------------------


def removed_group(email: str):
    """The link of a group that left the synchronization, or 404."""
    settings, problem = load_settings()
    if settings is None:
        abort(404)
    return next((link for link in get_engine().removed_groups() if link.email == email.lower()), None) or abort(404)


@blueprint.get("/groups/removed/<email>/delete")
def delete_group_confirm(email: str):
    return render_template("google_sync/group_delete.html", link=removed_group(email), error="")


@blueprint.post("/groups/removed/<email>/delete")
def delete_group(email: str):
    link = removed_group(email)
    if not link.created_by_us:
        return render_template("google_sync/group_delete.html", link=link, error=""), 409
    if request.form.get("confirm", "").strip().lower() != link.email:
        error = f"Type the group's address, {link.email}, to confirm. Nothing was deleted."
        return render_template("google_sync/group_delete.html", link=link, error=error), 400
    if console().runs.active() is not None:
        flash("A synchronization is running: delete the group when it has finished.", "warning")
        return redirect(url_for(".groups"))
    try:
        report = get_engine().delete_group(link.email, trigger="console")
    except GoogleSyncError as problem:
        flash(f"{link.email} was not deleted: {problem}", "error")
        return redirect(url_for(".groups"))
    if report.failures:
        flash(f"{link.email} was not deleted: {report.failures[0].message}", "error")
    else:
        log.info("group %s deleted from Google on the administrator's confirmed request", link.email)
        flash(f"Group {link.email} deleted from Google.", "success")
    return redirect(url_for(".groups"))
