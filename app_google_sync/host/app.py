"""The application factory of the reference host console."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import LengthRequired, RequestEntityTooLarge

from . import security, services, views
from .auth import init_login
from .plugins import Console, MenuEntry, console_state, load_plugins

log = logging.getLogger(__name__)

DEFAULTS = {
    "SEND_FILE_MAX_AGE_DEFAULT": 3600,  # the console's CSS and scripts: cached an hour (revalidated by ETag after)
    "CONSOLE_TITLE": "Server Console",
    "CONSOLE_ADMIN_USERNAME": "admin",
    "CONSOLE_ADMIN_PASSWORD_HASH": None,
    "CONSOLE_LDAP_URI": None,
    "CONSOLE_LDAP_BIND_DN": None,
    "CONSOLE_LDAP_BIND_PASSWORD": None,
    "CONSOLE_LDAP_BASE_DN": None,
    "CONSOLE_LDAP_TIMEOUT": 10,
    "CONSOLE_MAIL_DOMAIN": None,
    "CONSOLE_PLUGINS": [],
    "CONSOLE_DISCOVER_PLUGINS": True,
    "CONSOLE_STRICT_PLUGINS": False,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # Every request body, anonymous ones too, is refused past this before it is read (413): the largest
    # form is a plugin's key upload (64 KiB). Without it a 500 MB login form was read, and parsed, whole.
    "MAX_CONTENT_LENGTH": 128 * 1024,
    **security.DEFAULTS,
}
REQUIRED = ("SECRET_KEY", "CONSOLE_ADMIN_USERNAME", "CONSOLE_ADMIN_PASSWORD_HASH")
REQUIRED_WITH_LDAP = ("CONSOLE_LDAP_BIND_DN", "CONSOLE_LDAP_BIND_PASSWORD", "CONSOLE_LDAP_BASE_DN")


class ConsoleConfigError(ValueError):
    """A missing or unusable setting, named."""


csrf = CSRFProtect()


def create_app(config: dict | None = None) -> Flask:
    """The console: settings from ``FLASK_*`` environment variables, then ``config``.

    Plugins come from the ``app_console.plugins`` entry points (unless
    ``CONSOLE_DISCOVER_PLUGINS`` is false) and from ``CONSOLE_PLUGINS``.
    """
    app = Flask(__name__)
    app.config.from_mapping(DEFAULTS)
    app.config.from_prefixed_env()
    app.config.update(config or {})
    check_config(app.config)

    csrf.init_app(app)
    security.init_security(app)
    init_login(app)
    with_directory = bool(app.config["CONSOLE_LDAP_URI"])
    app.extensions["console"] = Console(
        menu=[MenuEntry(*item) for item in views.HOST_MENU] if with_directory else [],
        create_user=services.create_user if with_directory else None,
    )
    app.register_blueprint(views.bp)
    app.teardown_appcontext(views.close_directory)
    app.register_error_handler(CSRFError, csrf_failed)
    app.register_error_handler(RequestEntityTooLarge, too_large)
    app.register_error_handler(LengthRequired, length_required)
    app.context_processor(menu_context)
    load_plugins(app)
    return app


def check_config(config) -> None:
    missing = [key for key in REQUIRED if not config.get(key)]
    if config.get("CONSOLE_LDAP_URI"):
        missing += [key for key in REQUIRED_WITH_LDAP if not config.get(key)]
    if missing:
        raise ConsoleConfigError(f"the console needs {', '.join(missing)} in its configuration")
    if not isinstance(config["CONSOLE_PLUGINS"], (list, tuple)):
        raise ConsoleConfigError("CONSOLE_PLUGINS must be a list of plugin objects")
    security.check_config(config, ConsoleConfigError)


def menu_context() -> dict:
    console = console_state()
    return {
        "console_menu": console.menu_tree(),
        "console_active": console.active_entry(request.endpoint, request.blueprint),
    }


def csrf_failed(error: CSRFError):
    log.warning("refused %s %s without a valid CSRF token: %s", request.method, request.path, error.description)
    message = "This form has expired or did not come from this console. Go back, reload the page and try again."
    return render_template("host/error.html", title="Form refused", message=message), 400


def too_large(_error):
    limit = request.max_content_length
    log.warning("refused %s %s: the body is larger than %s bytes", request.method, request.path, limit)
    message = f"The request is too large (more than {limit // 1024} KiB). Nothing was changed."
    return render_template("host/error.html", title="Request too large", message=message), 413


def length_required(error):
    log.warning("refused %s %s: a body without Content-Length", request.method, request.path)
    return render_template("host/error.html", title="Length required", message=f"Refused: {error.description}."), 411
