"""The plugin as the host sees it: entry point, init_app, menu, user extension, settings validated at start-up."""

import os
import stat
from importlib.metadata import entry_points

import pytest
from flask import Flask
from flask_login import LoginManager

from app_google_sync import GoogleSync
from app_google_sync.extension import MENU
from app_google_sync.libraries.core.errors import ConfigError


def test_entry_point_loads_the_extension():
    found = [ep for ep in entry_points(group="app_console.plugins") if ep.name == "google_sync"]
    assert found, "the app_console.plugins entry point is not installed (pip install -e .)"
    assert found[0].load() is GoogleSync


def test_init_app_declares_menu_and_user_extension(fresh_app):
    plugin = fresh_app.extensions["test_plugin"]
    assert plugin.menu == [
        {
            "category": "Server",
            "subcategory": "Messaging and Collaboration",
            "title": "Google Apps Synchronization",
            "endpoint": "google_sync.index",
        }
    ]
    extension = plugin.user_extension
    assert (extension.name, extension.label, extension.plugin_group) == (
        "google_apps",
        "Google Apps",
        "google_apps_plugin",
    )
    assert extension.description
    for hook in ("user_added", "user_updated", "user_deleted", "password_changed", "switch_toggled"):
        assert callable(getattr(extension, hook))
    assert "google_sync" in fresh_app.blueprints
    with fresh_app.test_request_context():
        from flask import url_for

        assert url_for("google_sync.index") == "/app/google_sync/"


def app_with(bare_config, tmp_path, **settings):
    app = Flask("bare")
    LoginManager(app)
    app.config.update(
        SECRET_KEY="x",
        GOOGLE_SYNC_CONFIG=str(bare_config),
        GOOGLE_SYNC_SECRETS_DIR=str(tmp_path / "s"),
        GOOGLE_SYNC_RUN_SCHEDULER=False,
    )
    app.config.update(settings)
    return app


def test_constructor_form_and_no_app_kept(bare_config, tmp_path):
    app = app_with(bare_config, tmp_path, GOOGLE_SYNC_URL_PREFIX="/google")
    plugin = GoogleSync(app)
    assert not hasattr(plugin, "app")
    assert app.extensions["google_sync"].config_path == str(bare_config)
    assert app.url_map.bind("localhost").match("/google/settings")[0] == "google_sync.settings"
    app.extensions["google_sync"].shutdown()


def test_defaults_are_set_on_the_app_config(bare_config, tmp_path):
    app = app_with(bare_config, tmp_path)
    GoogleSync(app)
    assert app.config["GOOGLE_SYNC_URL_PREFIX"] == "/app/google_sync"
    assert app.config["GOOGLE_SYNC_BASE_TEMPLATE"] == "layout.html"
    assert app.config["GOOGLE_SYNC_OAUTH_CLIENT"] is None
    app.extensions["google_sync"].shutdown()


@pytest.mark.parametrize(
    "key, value",
    [
        ("GOOGLE_SYNC_CONFIG", None),
        ("GOOGLE_SYNC_CONFIG", "/nonexistent/google_sync.conf"),
        ("GOOGLE_SYNC_URL_PREFIX", "app/google_sync"),
        ("GOOGLE_SYNC_URL_PREFIX", "/app/google_sync/"),
        ("GOOGLE_SYNC_BASE_TEMPLATE", ""),
        ("GOOGLE_SYNC_RUN_SCHEDULER", "sometimes"),
        ("GOOGLE_SYNC_SECRETS_DIR", "relative/secrets"),
        ("GOOGLE_SYNC_OAUTH_CLIENT", "/nonexistent/client.json"),
        ("GOOGLE_SYNC_PUSH_DELAY", -1),
        ("GOOGLE_SYNC_CREATE_USER_ENDPOINT", 42),
    ],
)
def test_a_bad_setting_fails_at_start_naming_its_key(bare_config, tmp_path, key, value):
    app = app_with(bare_config, tmp_path, **{key: value})
    with pytest.raises(ConfigError, match=key):
        GoogleSync(app)
    assert "google_sync" not in app.extensions


def test_oauth_client_must_be_a_web_client(bare_config, tmp_path):
    client = tmp_path / "client.json"
    client.write_text('{"installed": {"client_id": "x"}}')
    with pytest.raises(ConfigError, match="GOOGLE_SYNC_OAUTH_CLIENT.*Web application"):
        GoogleSync(app_with(bare_config, tmp_path, GOOGLE_SYNC_OAUTH_CLIENT=str(client)))


def test_secrets_dir_is_created_private(bare_config, tmp_path):
    app = app_with(bare_config, tmp_path)
    GoogleSync(app)
    mode = stat.S_IMODE(os.stat(tmp_path / "s").st_mode)
    assert mode == 0o700
    app.extensions["google_sync"].shutdown()


def test_csrf_protection_is_ensured(bare_config, tmp_path, caplog):
    app = app_with(bare_config, tmp_path)
    GoogleSync(app)
    assert "csrf" in app.extensions
    assert "did not initialize CSRFProtect" in caplog.text
    app.extensions["google_sync"].shutdown()


def test_menu_is_data_shared_by_every_instance():
    assert GoogleSync().menu == [dict(item) for item in MENU]
    assert GoogleSync().menu is not GoogleSync().menu


def test_templates_and_static_files_ship_in_the_package():
    import app_google_sync.views

    root = os.path.dirname(app_google_sync.views.__file__)
    for name in (
        "base.html",
        "index.html",
        "settings.html",
        "check.html",
        "test.html",
        "progress.html",
        "automatic.html",
        "history.html",
        "history_run.html",
        "objects.html",
    ):
        assert os.path.exists(os.path.join(root, "google_sync", name)), name
    assert os.path.exists(os.path.join(root, "static", "google_sync.css"))
