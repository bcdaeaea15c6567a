"""The plugin's blueprint: access control, per-request engine, shared template context.

Views live in the sibling modules (settings, actions, pages, groups, attributes, imports) and are thin:
validate, call a library, flash, redirect or render. They import this module, never the reverse:
``controllers.register`` (called by ``GoogleSync.init_app``) attaches them.
"""
from __future__ import annotations

import logging
import os

from flask import Blueprint, abort, current_app, g, render_template, request, url_for
from flask_login import current_user
from werkzeug.routing import BuildError

import app_google_sync
import app_google_sync.views
from app_google_sync.libraries import config, config_file
from app_google_sync.libraries.errors import ConfigError

log = logging.getLogger(__name__)

VIEWS_DIR = os.path.dirname(app_google_sync.views.__file__)
blueprint = Blueprint(
    "google_sync",
    __name__,
    template_folder=VIEWS_DIR,
    static_folder=os.path.join(VIEWS_DIR, "static"),
    static_url_path="/static",
)
INTERACTIVE_RETRIES = 3
SCOPE_NOTE = (
    "{feature} need the {scope} scope: add it to the service account's domain-wide delegation in Google Admin, "
    "or connect again with your administrator account (the Settings page lists it now)."
)
TABS = (
    ("google_sync.index", "Overview"),
    ("google_sync.settings", "Settings"),
    ("google_sync.groups", "Groups"),
    ("google_sync.attributes", "Attributes"),
    ("google_sync.check", "Test connection"),
    ("google_sync.test", "Test synchronization"),
    ("google_sync.automatic", "Schedule"),
    ("google_sync.history", "History"),
    ("google_sync.objects", "Users and groups"),
    ("google_sync.google_only", "Import"),
)

# Views that belong under another view's tab.
TAB_OF = {
    "google_sync.save_settings": "google_sync.settings",
    "google_sync.upload_key": "google_sync.settings",
    "google_sync.run_check": "google_sync.check",
    "google_sync.run_test": "google_sync.test",
    "google_sync.progress": "google_sync.test",
    "google_sync.save_automatic": "google_sync.automatic",
    "google_sync.history_run": "google_sync.history",
    "google_sync.save_groups": "google_sync.groups",
    "google_sync.delete_group_confirm": "google_sync.groups",
    "google_sync.delete_group": "google_sync.groups",
    "google_sync.save_attributes": "google_sync.attributes",
    "google_sync.save_org_units": "google_sync.attributes",
    "google_sync.import_accounts": "google_sync.google_only",
}


def console():
    """This app's plugin state (see ``extension.ConsoleState``)."""
    return current_app.extensions["google_sync"]


@blueprint.before_request
def require_admin():
    if request.endpoint == "google_sync.static":
        return None
    if current_user.is_authenticated and getattr(current_user, "is_admin", False):
        return None
    manager = getattr(current_app, "login_manager", None)
    if manager is None:
        abort(403)
    return manager.unauthorized()


@blueprint.after_request
def no_store(response):
    if request.endpoint != "google_sync.static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


@blueprint.context_processor
def template_context():
    return {
        "gs_base_template": console().base_template,
        "gs_tabs": TABS,
        "gs_active_tab": TAB_OF.get(request.endpoint, request.endpoint),
        "gs_version": app_google_sync.__version__,
    }


@blueprint.errorhandler(ConfigError)
def configuration_error(error):
    """The file was edited by hand into something invalid since start-up: say what to correct, on every page."""
    return render_template("google_sync/config_error.html", message=str(error)), 500


def raw_config():
    """The configuration file as written (may be incomplete); cached for the request."""
    if "google_sync_raw" not in g:
        g.google_sync_raw = config_file.read(console().config_path)
    return g.google_sync_raw


def load_settings():
    """(Settings, '') when the file is complete, else (None, what is missing)."""
    try:
        return config.load(console().config_path), ""
    except ConfigError as error:
        return None, str(error)


def get_engine():
    """A SyncEngine for this request, closed at teardown; raises ConfigError when settings are incomplete.

    A person is waiting on the page, so Google errors are retried a few times
    only (background runs keep the configured ``max_retries``).
    """
    if "google_sync_engine" not in g:
        from app_google_sync.libraries.engine import SyncEngine  # noqa: PLC0415
        from app_google_sync.libraries.google_target import Backoff, GoogleTarget, required_scopes  # noqa: PLC0415

        loaded = config.load(console().config_path)
        backoff = Backoff(min(loaded.sync.max_retries, INTERACTIVE_RETRIES))
        target = GoogleTarget(loaded.google, loaded.sync, backoff=backoff, scopes=required_scopes(loaded),
                              custom_fields=bool(loaded.custom_attributes), licenses=loaded.licenses)
        g.google_sync_engine = SyncEngine(loaded, target=target)
    return g.google_sync_engine


@blueprint.teardown_app_request
def close_engine(_error=None):
    engine = g.pop("google_sync_engine", None)
    if engine is None:
        return
    for part in (engine.source, engine.store):
        try:
            part.close()
        except Exception:  # noqa: BLE001
            log.debug("closing %s failed", part, exc_info=True)


def optional_url(endpoints, **values) -> str | None:
    """A URL into the host (the first of ``endpoints`` it serves), or None when it has no such page."""
    for endpoint in endpoints:
        try:
            return url_for(endpoint, **values)
        except BuildError:
            continue
    return None

