"""Plugin discovery through entry points, the menu, the layout plugins extend, and broken plugins."""

from __future__ import annotations

import sys
import textwrap

import pytest
from flask import flash, render_template_string
from host_helpers import Browser, FakePlugin, RecordingExtension, host_config, text_of

from app_google_sync.host import create_app, plugins

PLUGIN_MODULE = """
from flask import Blueprint


class Plugin:
    menu = []
    user_extension = None

    def init_app(self, app):
        bp = Blueprint("fake_ep", __name__, url_prefix="/apps/fake-ep")
        bp.add_url_rule("/", "index", lambda: "fake entry point page")
        app.register_blueprint(bp)
        self.menu = [{"category": "Cloud", "subcategory": "Services", "title": "Fake EP", "endpoint": "fake_ep.index"}]


class Broken:
    def init_app(self, app):
        raise RuntimeError("broken on purpose")
"""


@pytest.fixture
def installed_plugins(tmp_path, monkeypatch):
    """A real installed distribution (dist-info on sys.path) declaring two entry points, one broken."""
    (tmp_path / "fake_console_plugin.py").write_text(PLUGIN_MODULE)
    dist_info = tmp_path / "fake_console_plugin-1.0.dist-info"
    dist_info.mkdir()
    (dist_info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-console-plugin\nVersion: 1.0\n")
    group = "app_console_test.plugins"  # not the real group: other installed plugins stay out of this test
    (dist_info / "entry_points.txt").write_text(
        textwrap.dedent(f"""\
        [{group}]
        fake = fake_console_plugin:Plugin
        broken = fake_console_plugin:Broken
        """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(plugins, "ENTRY_POINT_GROUP", group)
    yield
    sys.modules.pop("fake_console_plugin", None)


def test_entry_points_are_loaded_and_a_broken_one_is_skipped(directory, installed_plugins, caplog):
    app = create_app(host_config(directory, CONSOLE_DISCOVER_PLUGINS=True, CONSOLE_STRICT_PLUGINS=False))
    assert "plugin broken (fake_console_plugin:Broken) failed to load" in caplog.text
    admin = Browser(app.test_client())
    admin.login()
    dashboard = text_of(admin.get("/"))
    assert "Fake EP Cloud › Services › Fake EP" in dashboard
    assert "The app broken (fake_console_plugin:Broken) could not be loaded: broken on purpose." in dashboard
    assert admin.get("/apps/fake-ep/").text == "fake entry point page"


def test_strict_mode_fails_on_a_broken_plugin(directory, installed_plugins):
    with pytest.raises(plugins.PluginError, match="broken on purpose"):
        create_app(host_config(directory, CONSOLE_DISCOVER_PLUGINS=True, CONSOLE_STRICT_PLUGINS=True))


def test_discovery_can_be_switched_off(directory, installed_plugins):
    app = create_app(host_config(directory, CONSOLE_DISCOVER_PLUGINS=False, CONSOLE_STRICT_PLUGINS=True))
    assert plugins.console_state(app).plugins == []


def test_a_plugin_page_sits_in_the_layout_with_menu_and_breadcrumbs(admin):
    response = admin.get("/apps/fake_sync/")
    assert response.status_code == 200
    page = text_of(response)
    assert "Dashboard Server Messaging and Collaboration Fake Sync System Accounts Manager Groups Users" in page
    assert "Server › Messaging and Collaboration › Fake Sync a admin Log out Fake Sync Status Hello admin" in page
    assert '<a href="/apps/fake_sync/" class="active" aria-current="page">Fake Sync</a>' in response.text
    assert '<meta name="csrf-token"' in response.text and "/static/console.css" in response.text


def test_the_dashboard_lists_installed_apps(admin):
    page = text_of(admin.get("/"))
    assert "Fake Sync Server › Messaging and Collaboration › Fake Sync" in page


def test_host_pages_highlight_their_menu_entry(admin, directory):
    directory.add_user("alice", "Alice", "Martin")
    page = admin.get("/users/alice/edit").text
    assert '<a href="/users" class="active" aria-current="page">Users</a>' in page


def test_flashed_messages_render_with_their_category(app):
    @app.route("/flash-test")
    def flash_test():
        for category in ("success", "info", "warning", "error", "message"):
            flash(f"a {category} note", category)
        return render_template_string('{% extends "layout.html" %}{% block title %}Flash{% endblock %}')

    admin = Browser(app.test_client())
    admin.login()
    page = admin.get("/flash-test").text
    for category in ("success", "info", "warning", "error"):
        assert f'<div class="flash flash-{category}">a {category} note</div>' in page
    assert '<div class="flash flash-info">a message note</div>' in page


def test_blocks_head_and_scripts_are_rendered(app):
    @app.route("/blocks-test")
    def blocks_test():
        return render_template_string(
            '{% extends "layout.html" %}{% block title %}Blocks{% endblock %}'
            '{% block head %}<meta name="x-head" content="1">{% endblock %}'
            '{% block content %}<p id="body">content</p>{% endblock %}'
            '{% block scripts %}<script src="/x.js"></script>{% endblock %}'
        )

    admin = Browser(app.test_client())
    admin.login()
    page = admin.get("/blocks-test").text
    assert page.index('<meta name="x-head"') < page.index("</head>")
    assert page.index('<p id="body">') < page.index('<script src="/x.js">') < page.index("</body>")
    assert "<title>Blocks · Server Console</title>" in page


class NoViewPlugin(FakePlugin):
    def init_app(self, app):
        super().init_app(app)
        self.menu = [dict(self.menu[0], endpoint=f"{self.blueprint_name}.missing")]


class UnlabelledExtension(RecordingExtension):
    label = ""


@pytest.mark.parametrize(
    "make_bad, message",
    [
        (
            lambda: NoViewPlugin(blueprint_name="second"),
            "names endpoint 'second.missing', which no argument-free view serves",
        ),
        (
            lambda: FakePlugin(RecordingExtension(), blueprint_name="second"),
            "a user extension named 'google_apps' is already installed",
        ),
        (lambda: FakePlugin(UnlabelledExtension(), blueprint_name="second"), "user_extension lacks label"),
    ],
)
def test_unusable_declarations_are_refused(directory, make_bad, message):
    with pytest.raises(plugins.PluginError, match=message):
        create_app(host_config(directory, CONSOLE_PLUGINS=[FakePlugin(), make_bad()]))

    app = create_app(host_config(directory, CONSOLE_PLUGINS=[FakePlugin(), make_bad()], CONSOLE_STRICT_PLUGINS=False))
    state = plugins.console_state(app)
    assert len(state.plugins) == 1 and len(state.user_extensions) == 1
    assert [entry.title for entry in state.menu if entry.category == "Server"] == ["Fake Sync"]
    assert message in state.failures[0][1]


class StoppablePlugin(FakePlugin):
    stopped = 0

    def shutdown(self):
        self.stopped += 1


def test_plugins_are_shut_down_when_the_host_stops(directory):
    stoppable, plain = StoppablePlugin(), FakePlugin(RecordingExtension(), blueprint_name="plain", title="Plain")
    plain.extension.name = "plain"
    app = create_app(host_config(directory, CONSOLE_PLUGINS=[stoppable, plain]))
    plugins.shutdown_plugins(app)
    assert stoppable.stopped == 1
