"""Plugins: discovery through entry points, the menu they declare, and their user-manager hooks.

The contract is duck-typed (a plugin never imports the host): a plugin is any
object with ``init_app(app)``; afterwards it may expose ``menu`` (a list of
dicts with category, subcategory, title, endpoint) and ``user_extension`` (an
object with name, label, plugin_group, description and the handlers named in
``HOOKS``), and optionally ``shutdown()``, called when the host stops serving.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from importlib.metadata import entry_points

from flask import Flask, current_app, url_for
from werkzeug.routing import BuildError

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "app_console.plugins"
HOOKS = ("user_added", "user_updated", "user_deleted", "password_changed", "switch_toggled")
EXTENSION_ATTRIBUTES = ("name", "label", "plugin_group")
MENU_KEYS = ("category", "subcategory", "title", "endpoint")
# ClearOS's order of top-level menu categories; others follow alphabetically.
CATEGORY_ORDER = ("Cloud", "Gateway", "Server", "Network", "System", "Reports")


class PluginError(Exception):
    """A plugin that could not be loaded or declares something unusable."""


@dataclasses.dataclass(frozen=True)
class MenuEntry:
    category: str
    subcategory: str
    title: str
    endpoint: str
    # Endpoints starting with this also highlight the entry (the host's own pages).
    active_prefix: str = ""

    @property
    def blueprint(self) -> str:
        return self.endpoint.rpartition(".")[0]

    def is_active(self, endpoint: str | None, blueprint: str | None) -> bool:
        if not endpoint:
            return False
        if endpoint == self.endpoint or (self.active_prefix and endpoint.startswith(self.active_prefix)):
            return True
        return bool(blueprint) and blueprint != "host" and blueprint == self.blueprint


@dataclasses.dataclass
class Console:
    """The host's per-app state, kept in ``app.extensions["console"]``."""

    plugins: list = dataclasses.field(default_factory=list)
    menu: list[MenuEntry] = dataclasses.field(default_factory=list)
    user_extensions: list = dataclasses.field(default_factory=list)
    failures: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    # Services for plugins (README: the plugin contract); None when the host cannot offer them.
    create_user: Callable[..., str] | None = None

    def menu_tree(self) -> list[tuple[str, list[tuple[str, list[MenuEntry]]]]]:
        """[(category, [(subcategory, [entries])])] in ClearOS order."""

        def category_key(name: str):
            return (CATEGORY_ORDER.index(name) if name in CATEGORY_ORDER else len(CATEGORY_ORDER), name)

        tree: dict[str, dict[str, list[MenuEntry]]] = {}
        for entry in self.menu:
            tree.setdefault(entry.category, {}).setdefault(entry.subcategory, []).append(entry)
        return [
            (
                category,
                [(sub, sorted(entries, key=lambda e: e.title)) for sub, entries in sorted(tree[category].items())],
            )
            for category in sorted(tree, key=category_key)
        ]

    def active_entry(self, endpoint: str | None, blueprint: str | None) -> MenuEntry | None:
        return next((entry for entry in self.menu if entry.is_active(endpoint, blueprint)), None)


def console_state(app: Flask | None = None) -> Console:
    return (app or current_app).extensions["console"]


def load_plugins(app: Flask) -> None:
    """Initialise every plugin: installed entry points, then ``CONSOLE_PLUGINS`` objects."""
    console = console_state(app)
    strict = app.config["CONSOLE_STRICT_PLUGINS"]
    candidates = []  # (label, a callable returning the plugin object)
    if app.config["CONSOLE_DISCOVER_PLUGINS"]:
        candidates += [(f"{ep.name} ({ep.value})", lambda ep=ep: ep.load()()) for ep in _entry_points()]
    candidates += [(type(plugin).__name__, lambda plugin=plugin: plugin) for plugin in app.config["CONSOLE_PLUGINS"]]
    for label, make in candidates:
        try:
            plugin = make()
            plugin.init_app(app)
            _register(app, console, plugin)
        except Exception as error:
            if strict:
                raise PluginError(f"plugin {label} failed to load: {error}") from error
            log.exception("plugin %s failed to load; the console starts without it", label)
            console.failures.append((label, str(error) or type(error).__name__))


def _entry_points():
    seen = set()
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if (ep.name, ep.value) not in seen:  # an editable install can list a distribution twice
            seen.add((ep.name, ep.value))
            yield ep


def _register(app: Flask, console: Console, plugin) -> None:
    menu = [_menu_entry(app, item) for item in getattr(plugin, "menu", None) or []]
    extension = getattr(plugin, "user_extension", None)
    if extension is not None:
        missing = [name for name in EXTENSION_ATTRIBUTES if not getattr(extension, name, None)]
        if missing:
            raise PluginError(f"user_extension lacks {', '.join(missing)}")
        if any(known.name == extension.name for known in console.user_extensions):
            raise PluginError(f"a user extension named {extension.name!r} is already installed")
    console.plugins.append(plugin)
    console.menu.extend(menu)
    if extension is not None:
        console.user_extensions.append(extension)


def _menu_entry(app: Flask, item: dict) -> MenuEntry:
    missing = [key for key in MENU_KEYS if not item.get(key)]
    if missing:
        raise PluginError(f"menu entry {item!r} lacks {', '.join(missing)}")
    try:
        with app.test_request_context():
            url_for(item["endpoint"])
    except BuildError:
        raise PluginError(
            f"menu entry {item['title']!r} names endpoint {item['endpoint']!r}, which no argument-free view serves"
        ) from None
    return MenuEntry(*(str(item[key]) for key in MENU_KEYS))


def notify(hook: str, uid: str, *args, only=None) -> list[str]:
    """Call ``hook`` on every user extension (or ``only`` that one); returns the labels of those that failed.

    Handlers are meant to queue work and return; one that raises is logged and
    skipped so it can never fail the administrator's request. Arguments are
    never logged: ``password_changed`` carries a cleartext password.
    """
    failed = []
    for extension in [only] if only is not None else console_state().user_extensions:
        try:
            getattr(extension, hook)(uid, *args)
        except Exception:
            log.exception("user extension %s failed in %s for user %s", extension.name, hook, uid)
            failed.append(str(extension.label))
    return failed


def shutdown_plugins(app: Flask) -> None:
    """Call each plugin's optional ``shutdown()`` (background threads, schedulers), newest first."""
    for plugin in reversed(console_state(app).plugins):
        stop = getattr(plugin, "shutdown", None)
        if callable(stop):
            try:
                stop()
            except Exception:
                log.exception("plugin %s failed to shut down", type(plugin).__name__)
