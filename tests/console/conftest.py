"""Fixtures for the console plugin: the test host (see console_helpers), a real slapd and the emulator."""

from __future__ import annotations

import os

import pytest
from console_helpers import CHROMIUM, CHROMIUM_ARGS, Console, make_host, token_of

from app_google_sync.host.demo import ADMIN_PASSWORD, ADMIN_USERNAME, build_demo_app


@pytest.fixture
def host_factory(tmp_path):
    """make_host(config_path, **settings) with cleanup of every app's threads."""
    apps = []

    def factory(config_path, **settings):
        app = make_host(config_path, tmp_path / "secrets", **settings)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        state = app.extensions["google_sync"]
        state.runs.join(30)
        state.shutdown()


@pytest.fixture
def app(env, host_factory):
    """The test host with the plugin, on the real slapd + emulator of ``env`` (a service-account key already set)."""
    return host_factory(env.config_path)


@pytest.fixture
def console(app):
    return Console(app)


@pytest.fixture
def bare_config(tmp_path):
    """A configuration file as on a fresh install: LDAP only, no Google settings yet."""
    path = tmp_path / "fresh.conf"
    path.write_text(
        "# google-sync configuration\n[ldap]\nuri = ldap://127.0.0.1\nbase_dn = dc=example,dc=com\n\n[google]\n# filled by the console\n\n"
        f"[sync]\nstate_dir = {tmp_path / 'state'}\n"
    )
    os.chmod(path, 0o600)
    return path


@pytest.fixture
def fresh_app(bare_config, host_factory):
    """The test host on a fresh install's configuration (no slapd, no Google settings)."""
    return host_factory(bare_config)


@pytest.fixture
def fresh_console(fresh_app):
    return Console(fresh_app)


@pytest.fixture
def page():
    """A Chromium page (Debian's /usr/bin/chromium through Playwright), 1360×900."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1360, "height": 900})
        context.set_default_timeout(15000)
        yield context.new_page()
        context.close()
        browser.close()


# The real reference host (app_google_sync.host) with the plugin found through its entry point.
@pytest.fixture
def host(env, tmp_path):
    app = build_demo_app(
        env, GOOGLE_SYNC_SECRETS_DIR=str(tmp_path / "secrets"), GOOGLE_SYNC_PUSH_DELAY=0.05, CONSOLE_STRICT_PLUGINS=True
    )
    yield app
    app.extensions["google_sync"].runs.join(30)
    app.extensions["google_sync"].shutdown()


@pytest.fixture
def admin(host):
    client = host.test_client()
    token = token_of(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    client.token = token_of(client.get("/app/google_sync/").get_data(as_text=True))
    return client
