"""The console plugin as a Flask extension: ``GoogleSync(app)`` or ``GoogleSync().init_app(app)``.

The host discovers it through the ``app_console.plugins`` entry point, calls
``init_app`` and then reads ``plugin.menu`` and ``plugin.user_extension``.
Settings are validated here, at start-up, so a bad one fails naming its key.
"""

from __future__ import annotations

import atexit
import logging
import os
from dataclasses import dataclass, field

from .libraries.core.errors import ConfigError
from .libraries.runtime.scheduler import build_scheduler, reconcile
from .libraries.settings import config, config_file
from .libraries.settings.config_schema import parse_bool
from .user_extension import DEFAULT_DELAY, ConsolePushes, GoogleAppsExtension

log = logging.getLogger(__name__)

EXTENSION_KEY = "google_sync"
MENU = (
    {
        "category": "Server",
        "subcategory": "Messaging and Collaboration",
        "title": "Google Apps Synchronization",
        "endpoint": "google_sync.index",
    },
)
DEFAULTS = {
    "GOOGLE_SYNC_CONFIG": None,
    "GOOGLE_SYNC_URL_PREFIX": "/app/google_sync",
    "GOOGLE_SYNC_BASE_TEMPLATE": "layout.html",
    "GOOGLE_SYNC_RUN_SCHEDULER": True,
    "GOOGLE_SYNC_SECRETS_DIR": None,  # default: <state_dir>/secrets
    "GOOGLE_SYNC_OAUTH_CLIENT": None,
    # The host's page to create a user; the first endpoint the host serves is linked, none: no link.
    "GOOGLE_SYNC_CREATE_USER_ENDPOINT": ("host.user_create", "host.user_new"),
    "GOOGLE_SYNC_PUSH_DELAY": DEFAULT_DELAY,
}


@dataclass
class ConsoleState:
    """Everything the plugin keeps for one app, in ``app.extensions["google_sync"]``."""

    config_path: str
    secrets_dir: str
    base_template: str
    create_user_endpoints: tuple[str, ...]
    oauth_client: dict | None
    pushes: ConsolePushes
    user_extension: GoogleAppsExtension
    scheduler: object | None = None
    runs: object = None
    _stopped: bool = field(default=False, repr=False)

    def shutdown(self) -> None:
        """Stop the scheduler and the push thread (tests, and the host's teardown)."""
        if self._stopped:
            return
        self._stopped = True
        self.pushes.stop()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)


class GoogleSync:
    """Google Apps Synchronization for the admin console (menu Server › Messaging and Collaboration)."""

    name = "google_sync"
    title = "Google Apps Synchronization"

    def __init__(self, app=None):
        self.menu = [dict(item) for item in MENU]
        self.user_extension = None
        self._started: list[ConsoleState] = []  # only to stop their threads in shutdown()
        if app is not None:
            self.init_app(app)

    def init_app(self, app) -> None:
        from .controllers import register  # noqa: PLC0415  (Flask stays out of the library imports)
        from .libraries.runtime.background_runs import RunRegistry  # noqa: PLC0415

        for key, default in DEFAULTS.items():
            app.config.setdefault(key, default)
        settings = validated_settings(app.config)
        pushes = ConsolePushes(settings["config_path"], delay=settings["push_delay"])
        state = ConsoleState(
            config_path=settings["config_path"],
            secrets_dir=settings["secrets_dir"],
            base_template=settings["base_template"],
            create_user_endpoints=settings["create_user_endpoints"],
            oauth_client=settings["oauth_client"],
            pushes=pushes,
            user_extension=GoogleAppsExtension(pushes),
            runs=RunRegistry(),
        )
        _check_csrf(app)
        register(app, url_prefix=settings["url_prefix"])
        app.extensions[EXTENSION_KEY] = state
        if settings["run_scheduler"]:
            state.scheduler = _start_scheduler(settings["config_path"])
        atexit.register(state.shutdown)
        self.user_extension = state.user_extension
        self._started.append(state)

    def shutdown(self) -> None:
        """Stop the scheduler and push threads of every app this object initialised (the host calls it on exit)."""
        for state in self._started:
            state.shutdown()


def validated_settings(conf) -> dict:
    """The plugin's ``GOOGLE_SYNC_*`` settings, checked; ConfigError names the bad key."""
    path = conf.get("GOOGLE_SYNC_CONFIG")
    if not path or not isinstance(path, (str, os.PathLike)):
        raise ConfigError(
            "GOOGLE_SYNC_CONFIG is not set: give the path of the google-sync configuration file (e.g. /etc/clearos/google_sync.conf)"
        )
    path = os.path.abspath(os.fspath(path))
    try:
        parser = config_file.read(path)
    except ConfigError as error:
        raise ConfigError(f"GOOGLE_SYNC_CONFIG: {error}") from None
    prefix = conf.get("GOOGLE_SYNC_URL_PREFIX")
    if not isinstance(prefix, str) or not prefix.startswith("/") or prefix.endswith("/") or " " in prefix:
        raise ConfigError(
            f"GOOGLE_SYNC_URL_PREFIX = {prefix!r}: give a path like /app/google_sync (leading slash, no trailing slash)"
        )
    base = conf.get("GOOGLE_SYNC_BASE_TEMPLATE")
    if not isinstance(base, str) or not base.strip():
        raise ConfigError(
            f"GOOGLE_SYNC_BASE_TEMPLATE = {base!r}: give the host's layout template name, e.g. layout.html"
        )
    endpoints = conf.get("GOOGLE_SYNC_CREATE_USER_ENDPOINT") or ()
    endpoints = (endpoints,) if isinstance(endpoints, str) else endpoints
    if not isinstance(endpoints, (list, tuple)) or not all(isinstance(name, str) for name in endpoints):
        raise ConfigError(
            f"GOOGLE_SYNC_CREATE_USER_ENDPOINT = {endpoints!r}: give an endpoint name such as host.user_create, or a list of them"
        )
    return {
        "config_path": path,
        "url_prefix": prefix,
        "base_template": base,
        "create_user_endpoints": tuple(endpoints),
        "run_scheduler": _as_bool("GOOGLE_SYNC_RUN_SCHEDULER", conf.get("GOOGLE_SYNC_RUN_SCHEDULER")),
        "secrets_dir": _secrets_dir(conf.get("GOOGLE_SYNC_SECRETS_DIR"), parser),
        "oauth_client": _oauth_client(conf.get("GOOGLE_SYNC_OAUTH_CLIENT")),
        "push_delay": _as_delay(conf.get("GOOGLE_SYNC_PUSH_DELAY")),
    }


def _as_bool(key: str, value) -> bool:
    if isinstance(value, bool):
        return value
    try:
        return parse_bool(value.strip())
    except (AttributeError, ValueError):
        raise ConfigError(f"{key} = {value!r}: use True or False") from None


def _as_delay(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 300:
        raise ConfigError(f"GOOGLE_SYNC_PUSH_DELAY = {value!r}: give seconds between 0 and 300")
    return float(value)


def _secrets_dir(value, parser) -> str:
    from .libraries.state.keys import ensure_private_dir  # noqa: PLC0415

    path = os.fspath(value) if value else os.path.join(config_file.state_dir(parser), "secrets")
    if not os.path.isabs(path):
        raise ConfigError(f"GOOGLE_SYNC_SECRETS_DIR = {path!r}: give an absolute path outside any web root")
    try:
        return ensure_private_dir(path)
    except OSError as error:
        raise ConfigError(
            f"GOOGLE_SYNC_SECRETS_DIR = {path}: cannot create it with mode 0700 ({error.strerror})"
        ) from None


def _oauth_client(value) -> dict | None:
    from .libraries.google.credentials import read_oauth_client  # noqa: PLC0415

    if not value:
        return None
    return read_oauth_client(os.fspath(value))


def _start_scheduler(config_path: str):
    sync = config.load_sync(config_path)
    if not sync.database.startswith("sqlite:"):
        # A shared database means several servers: only the elected worker may run the schedule.
        log.warning(
            "GOOGLE_SYNC_RUN_SCHEDULER is ignored with a shared [sync] database_url: run 'google-sync worker' on each server"
        )
        return None
    scheduler = build_scheduler(sync, config_path)
    scheduler.start()
    reconcile(scheduler, config_file.Schedule(sync.automatic, sync.interval), config_path)
    return scheduler


def _check_csrf(app) -> None:
    if "csrf" in app.extensions:
        return
    from flask_wtf.csrf import CSRFProtect  # noqa: PLC0415

    log.warning("the host did not initialize CSRFProtect; the Google Apps plugin initializes it for the whole app")
    CSRFProtect(app)


def state(app) -> ConsoleState:
    return app.extensions[EXTENSION_KEY]
