"""The plugin's blueprint: access control, per-request engine, shared template context.

Views live in the sibling modules (settings, actions, pages, groups, attributes, imports) and are thin:
validate, call a library, flash, redirect or render. They import this module, never the reverse:
``controllers.register`` (called by ``GoogleSync.init_app``) attaches them.
"""

from __future__ import annotations

import logging
import os

import flask
from flask import Blueprint, abort, current_app, g, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import LengthRequired, RequestEntityTooLarge
from werkzeug.routing import BuildError

import app_google_sync
import app_google_sync.views
from app_google_sync.libraries.core.errors import ConfigError
from app_google_sync.libraries.settings import config, config_file
from app_google_sync.libraries.state.store import database_problem

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
MAX_REQUEST_BYTES = 128 * 1024  # the largest form is the key upload (credentials.MAX_KEY_BYTES, 64 KiB)
STATIC_MAX_AGE = 86400
COMPRESS_KEY = "google_sync_compress"
SCOPE_NOTE = (
    "{feature} need the {scope} scope: add it to the service account's domain-wide delegation in Google Admin, "
    "or connect again with your administrator account (the Settings page lists it now)."
)
TABS = (
    ("google_sync.index", "Overview"),
    ("google_sync.settings", "Settings"),
    ("google_sync.sources", "Sources"),
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
    "google_sync.preview_sources": "google_sync.sources",
    "google_sync.save_sources": "google_sync.sources",
    "google_sync.leavers": "google_sync.objects",  # reached from the Users and groups page
}


MAX_FLASH_LENGTH = 300


def flash(message: str, category: str = "message") -> None:
    """``flask.flash``, bounded: flashed messages travel in the session cookie, and some repeat what a form sent
    (a 1 MB field must not become a 1 MB cookie). Every view of the plugin flashes through this."""
    flask.flash(message if len(message) <= MAX_FLASH_LENGTH else message[:MAX_FLASH_LENGTH] + "…", category)


def console():
    """This app's plugin state (see ``extension.ConsoleState``)."""
    return current_app.extensions["google_sync"]


@blueprint.url_value_preprocessor
def bound_the_body(_endpoint, _values):
    """Cap this plugin's request bodies whatever the host sets, before anything reads them.

    A url_value_preprocessor because it runs before every before_request, the host's CSRFProtect
    included, which parses the form (and would read a 500 MB body whole). A host's stricter limit stays.
    A chunked body (no Content-Length) would be read up to the cap and silently cut: refused instead.
    """
    host_limit = current_app.config.get("MAX_CONTENT_LENGTH")
    request.max_content_length = MAX_REQUEST_BYTES if host_limit is None else min(host_limit, MAX_REQUEST_BYTES)
    if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        raise LengthRequired("send the request with a Content-Length header (a chunked body is not accepted)")


@blueprint.errorhandler(RequestEntityTooLarge)
def too_large(_error):
    message = (
        f"The request is larger than {request.max_content_length // 1024} KiB and was refused; nothing was changed."
    )
    return render_template("google_sync/refused.html", message=message, title="Request too large"), 413


@blueprint.errorhandler(LengthRequired)
def length_required(error):
    return render_template(
        "google_sync/refused.html", message=f"Refused: {error.description}.", title="Length required"
    ), 411


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
def caching_and_compression(response):
    """Pages are never cached (they show live state); static files are, for a day (their URL names the version).
    HTML, JSON and CSV go gzip'd (or br/zstd) to a browser that accepts it: a 10,000-user page is a tenth of its size."""
    if request.endpoint == "google_sync.static":
        response.cache_control.no_cache = (
            None  # Flask's default without SEND_FILE_MAX_AGE_DEFAULT: revalidate every time
        )
        response.cache_control.public = True
        response.cache_control.max_age = STATIC_MAX_AGE
    else:
        response.headers.setdefault("Cache-Control", "no-store")
    return compressor().after_request(response)


def compressor():
    """Flask-Compress for this plugin's responses only: the host decides for its own pages (and may compress them all)."""
    app = current_app
    if COMPRESS_KEY not in app.extensions:
        from flask_compress import Compress  # noqa: PLC0415

        compress = Compress()
        host_choice = app.config.get("COMPRESS_REGISTER")
        app.config["COMPRESS_REGISTER"] = False  # no app-wide after_request hook from the plugin
        # Downloads are streamed: gzip them too (Flask-Compress leaves gzip out of streams by default; curl asks for it).
        app.config.setdefault("COMPRESS_ALGORITHM_STREAMING", ["zstd", "br", "gzip", "deflate"])
        try:
            compress.init_app(app)
        finally:
            if host_choice is None:
                app.config.pop("COMPRESS_REGISTER")
            else:
                app.config["COMPRESS_REGISTER"] = host_choice
        compress.compress_mimetypes_set.add("text/csv")  # the downloads (not in Flask-Compress's own list)
        app.extensions[COMPRESS_KEY] = compress
    return app.extensions[COMPRESS_KEY]


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


@blueprint.errorhandler(SQLAlchemyError)
def database_down(error):
    """The state database stopped answering (PostgreSQL down or restarting, a SQLite file locked or gone): say so in
    the plugin's layout, with what to check, instead of a bare error page."""
    database = config.sync_settings(raw_config()).database
    where = make_url(database).render_as_string(hide_password=True)
    log.error("the state database %s cannot be reached: %s", where, database_problem(error))
    return render_template(
        "google_sync/database_down.html",
        where=where,
        problem=database_problem(error),
        postgresql=not database.startswith("sqlite"),
    ), 503


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
        from app_google_sync.libraries.google.google_target import Backoff, GoogleTarget, required_scopes  # noqa: PLC0415
        from app_google_sync.libraries.sync.engine import SyncEngine  # noqa: PLC0415

        loaded = config.load(console().config_path)
        backoff = Backoff(min(loaded.sync.max_retries, INTERACTIVE_RETRIES))
        target = GoogleTarget(
            loaded.google,
            loaded.sync,
            backoff=backoff,
            scopes=required_scopes(loaded),
            custom_fields=bool(loaded.custom_attributes),
            licenses=loaded.licenses,
        )
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
