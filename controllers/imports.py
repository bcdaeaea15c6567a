"""Accounts that exist only in Google: create the local users for the ones the administrator picks.

The plugin never writes the directory itself: it asks the host, through the
optional ``create_user`` service in ``app.extensions["console"]``; a host
without it gets links to its prefilled new-user form instead.
"""

from __future__ import annotations

import logging

from flask import current_app, redirect, render_template, request, url_for

from app_google_sync.libraries.core.errors import GoogleSyncError
from app_google_sync.libraries.reports import overview

from .blueprint import blueprint, console, flash, get_engine, load_settings, optional_url

log = logging.getLogger(__name__)


def create_user_service():
    """The host's ``create_user(uid, given_name, family_name, mail, groups=(), password=None) -> dn``, or None."""
    service = getattr(current_app.extensions.get("console"), "create_user", None)
    return service if callable(service) else None


def read_accounts():
    """(Settings, [GoogleOnlyAccount], '') or (…, None, why they cannot be listed)."""
    settings, problem = load_settings()
    if settings is None:
        return None, None, f"{problem}. Complete the settings first."
    try:
        return settings, overview.google_only_accounts(get_engine()), ""
    except GoogleSyncError as error:
        return settings, None, str(error)


def new_user_link(account) -> str | None:
    return optional_url(
        console().create_user_endpoints,
        uid=account.uid,
        given_name=account.given_name,
        family_name=account.family_name,
        mail=account.email,
        google_apps="on",
    )


@blueprint.get("/import")
def google_only():
    settings, accounts, error = read_accounts()
    service = create_user_service()
    links = {account.email: new_user_link(account) for account in accounts or ()} if service is None else {}
    return render_template(
        "google_sync/import.html", accounts=accounts, error=error, can_create=service is not None, links=links
    )


@blueprint.post("/import")
def import_accounts():
    service = create_user_service()
    if service is None:
        flash("This console cannot create users for the plugin: use the links to its new-user form.", "error")
        return redirect(url_for(".google_only"))
    picked = set(request.form.getlist("pick"))
    if not picked:
        flash("Tick the accounts to create locally first.", "warning")
        return redirect(url_for(".google_only"))
    settings, accounts, error = read_accounts()
    if accounts is None:
        flash(f"Nothing was created: {error}", "error")
        return redirect(url_for(".google_only"))
    switch = (settings.ldap.enabled_group,) if settings.ldap.enabled_group else ()
    created = []
    for account in accounts:
        if account.email not in picked:
            continue
        uid = request.form.get(f"uid:{account.email}", "").strip() or account.uid
        try:
            service(uid, account.given_name, account.family_name, account.email, groups=switch, password=None)
        except ValueError as problem:
            flash(f"{account.email} was not created: {problem}", "error")
            continue
        except Exception:  # noqa: BLE001  (one account's failure must not hide what the others did)
            log.exception("the host could not create the local user %s for %s", uid, account.email)
            flash(f"{account.email} was not created: the console failed; its log has the details.", "error")
            continue
        created.append(uid)
    gone = picked - {account.email for account in accounts}
    if gone:
        flash(f"No longer only in Google, left alone: {', '.join(sorted(gone))}.", "warning")
    if created:
        flash(
            f"Created {len(created)} local account{'s' if len(created) > 1 else ''} with Google Apps on: {', '.join(created)}. "
            "No password until you set one in the user manager. The synchronization links each to its Google account by address, never duplicates it.",
            "success",
        )
    return redirect(url_for(".google_only"))
