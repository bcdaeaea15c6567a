"""The demo console: the app run_console serves, built over the demo environment with the installed plugins."""

from __future__ import annotations

from host_helpers import Browser, text_of

from app_google_sync.host import demo, plugins


def test_the_demo_app_opens_with_the_demo_login(env):
    app = demo.build_demo_app(env)
    try:
        assert app.config["GOOGLE_SYNC_CONFIG"] == str(env.config_path)
        browser = Browser(app.test_client())
        assert browser.login(demo.ADMIN_USERNAME, "wrong").status_code == 200
        assert browser.login(demo.ADMIN_USERNAME, demo.ADMIN_PASSWORD).status_code == 302
        dashboard = text_of(browser.get("/"))
        state = plugins.console_state(app)
        for label, _ in state.failures:  # another developer's plugin may be broken: the console says so
            assert f"The app {label} could not be loaded" in dashboard
        for entry in state.menu:
            assert entry.title in dashboard
        env.directory.add_user("alice", "Alice", "Martin", groups=("google_apps_plugin",))
        users = text_of(browser.get("/users"))
        assert "alice Alice Martin" in users
    finally:
        plugins.shutdown_plugins(app)
