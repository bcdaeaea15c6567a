"""The administrator's whole path in a real browser (Debian's Chromium through Playwright):
the reference host, the plugin, a seeded slapd and the emulator. Screenshots go to test-artifacts/console/."""

from __future__ import annotations

import json
import os
import re
import threading

import pytest
from console_helpers import CHROMIUM, shot
from werkzeug.serving import make_server

from app_google_sync.demo.directory import seed_sample_organisation
from app_google_sync.demo.environment import DemoEnvironment
from app_google_sync.host.demo import ADMIN_PASSWORD, ADMIN_USERNAME, build_demo_app
from app_google_sync.libraries.settings import config_file

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"Debian's chromium is not installed ({CHROMIUM} missing)"
)


@pytest.fixture
def demo(directory, tmp_path):
    """A ClearOS-like organisation, the emulator (a little slow, so progress can be watched), not yet connected."""
    seed_sample_organisation(directory)
    with DemoEnvironment(state_dir=str(tmp_path), directory=directory, latency=0.25) as env:
        config_file.update(str(env.config_path), "google", {"credentials_file": None})
        yield env


@pytest.fixture
def console_url(demo, tmp_path):
    app = build_demo_app(
        demo, GOOGLE_SYNC_SECRETS_DIR=str(tmp_path / "secrets"), GOOGLE_SYNC_PUSH_DELAY=0.1, CONSOLE_STRICT_PLUGINS=True
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app
    server.shutdown()
    thread.join(timeout=5)
    app.extensions["google_sync"].runs.join(30)
    app.extensions["google_sync"].shutdown()


def test_connect_test_synchronize_and_automate(demo, console_url, page):
    from playwright.sync_api import expect

    console_url, app = console_url
    plugin = console_url + "/app/google_sync"
    page.goto(plugin + "/")
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.fill("#username", ADMIN_USERNAME)
    page.fill("#password", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(plugin + "/")
    expect(page.locator(".panel").first).to_contain_text("Not connected")
    shot(page, "01-overview")

    page.click(".gs-tab:has-text('Settings')")
    page.set_input_files("#key", str(demo.key_path))
    page.click("button:has-text('Upload key')")
    expect(page.locator(".flash-success")).to_contain_text("Key stored")
    expect(page.locator("#gs-client-id")).to_have_value(re.compile(r"^\d{15,}$"))
    expect(page.locator("#gs-scopes")).to_have_value(
        re.compile(r"^https://www.googleapis.com/auth/admin.directory.user,")
    )
    assert "PRIVATE KEY" not in page.content()
    shot(page, "02-settings-after-upload")

    page.click("a:has-text('Test connection') >> nth=-1")
    page.click("button:has-text('Test connection')")
    expect(page.locator(".panel", has_text="Result")).to_contain_text("All passed")
    shot(page, "03-test-connection")

    page.click(".gs-tab:has-text('Test synchronization')")
    page.click("button:has-text('Test synchronization')")
    warning = page.locator(".gs-notice-example", has_text="administrator account admin@example.com cannot be suspended")
    expect(warning).to_be_visible()
    expect(page.locator("table.gs-plan")).to_contain_text("alice@example.com")
    shot(page, "04-test-synchronization")

    warning.locator("a:has-text('Create this user with Google Apps enabled')").click()
    expect(page.locator("#f-uid")).to_have_value("admin")
    expect(page.locator("input[name=switches][value=google_apps]")).to_be_checked()
    page.fill("#f-given_name", "Super")
    page.fill("#f-family_name", "Admin")
    page.fill("#f-password", "Admin-Password-2024")
    page.fill("#f-confirm", "Admin-Password-2024")
    page.click("button:has-text('Create user')")
    expect(page.locator(".flash-success")).to_contain_text("admin")
    assert app.extensions["google_sync"].pushes.wait_idle(30)  # the new user's own push, in the background
    assert demo.emulator.get_user("admin@example.com")["isAdmin"]

    page.goto(plugin + "/test")
    page.click("button:has-text('Test synchronization')")
    expect(page.locator("table.gs-plan")).to_be_visible()
    expect(page.locator(".gs-notice-example", has_text="cannot be suspended")).to_have_count(0)
    page.click("button:has-text('Synchronize now')")
    expect(page.locator(".progress")).to_be_visible()
    expect(page.locator("#gs-total")).to_have_text(re.compile(r"^\d+$"))
    shot(page, "05-synchronize-progress")
    expect(page.locator("#gs-outcome")).to_contain_text(
        "Synchronization complete: every change was applied.", timeout=30000
    )
    expect(page.locator("table.gs-results")).to_contain_text("create user")
    assert page.locator("table.gs-results .gs-mark-fail").count() == 0
    shot(page, "06-synchronize-results")
    google = {user["primaryEmail"] for user in demo.emulator.users()}
    assert {"alice@example.com", "bob@example.com", "zoe@example.com"} <= google
    assert "judy@example.com" not in google  # Google Apps switched off

    page.click(".gs-tab:has-text('Schedule')")
    page.locator("label.switch", has_text="Synchronize automatically").click()
    page.select_option("#interval", "30")
    page.click("button:has-text('Save')")
    expect(page.locator(".flash-success")).to_contain_text("every 30 minutes")
    expect(page.locator("#gs-next-run")).to_have_text(re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"))
    shot(page, "07-automatic")

    page.click(".gs-tab:has-text('History')")
    expect(page.locator("table.data")).to_contain_text("synchronization")
    shot(page, "08-history")
    page.click("table.data a >> nth=0")
    expect(page.locator("table.gs-results")).to_be_visible()
    shot(page, "09-history-run")

    page.click(".gs-tab:has-text('Users and groups')")
    expect(page.locator("table.data >> nth=0")).to_contain_text("Synchronized")
    shot(page, "10-users-and-groups")


ADMIN_GOOGLE_PASSWORD = "Google-Admin-Pass-1"


@pytest.fixture
def oauth_demo(directory, tmp_path, monkeypatch):
    """The emulator with an administrator who can sign in, and an OAuth web client for the console."""
    monkeypatch.delenv("OAUTHLIB_INSECURE_TRANSPORT", raising=False)
    directory.add_group("google_apps_plugin")
    with DemoEnvironment(state_dir=str(tmp_path), directory=directory, admin_password=ADMIN_GOOGLE_PASSWORD) as env:
        config_file.update(str(env.config_path), "google", {"credentials_file": None})
        client = env.emulator.create_oauth_client(["http://127.0.0.1/placeholder"], name="Demo Console")
        (tmp_path / "oauth-client.json").write_text(json.dumps(client))
        env.oauth_client = client
        yield env


def test_connect_to_google_with_the_administrators_account(oauth_demo, tmp_path, page):
    from playwright.sync_api import expect

    served = {}  # the port comes first: the client file must list the callback before the console reads it
    server = make_server(
        "127.0.0.1", 0, lambda environ, start_response: served["app"](environ, start_response), threaded=True
    )
    console_url = f"http://127.0.0.1:{server.server_port}"
    callback = console_url + "/app/google_sync/connect/oauth/callback"
    oauth_demo.emulator.register_oauth_client(oauth_demo.oauth_client, [callback])
    client = {"web": {**oauth_demo.oauth_client["web"], "redirect_uris": [callback]}}
    (tmp_path / "oauth-client.json").write_text(json.dumps(client))
    app = served["app"] = build_demo_app(
        oauth_demo,
        GOOGLE_SYNC_SECRETS_DIR=str(tmp_path / "secrets"),
        GOOGLE_SYNC_OAUTH_CLIENT=str(tmp_path / "oauth-client.json"),
        CONSOLE_STRICT_PLUGINS=True,
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page.goto(console_url + "/login")
        page.fill("#username", ADMIN_USERNAME)
        page.fill("#password", ADMIN_PASSWORD)
        page.click("button[type=submit]")
        page.goto(console_url + "/app/google_sync/settings")
        page.click("button:has-text('Connect to Google')")
        expect(page).to_have_url(re.compile(re.escape(oauth_demo.emulator.base_url) + r"o/oauth2/auth\?"))
        expect(page.locator("#email")).to_have_value("admin@example.com")
        shot(page, "11-google-consent")
        page.fill("#password", ADMIN_GOOGLE_PASSWORD)
        page.click("button.allow")
        expect(page).to_have_url(console_url + "/app/google_sync/check")
        expect(page.locator(".flash-success")).to_contain_text("Connected to Google with your administrator account")
        page.click("button:has-text('Test connection')")
        expect(page.locator(".panel", has_text="Result")).to_contain_text("All passed")
        shot(page, "12-connected-with-oauth")
        stored = json.loads((tmp_path / "secrets" / "oauth-authorized-user.json").read_text())
        assert stored["refresh_token"] not in page.content()
        page.goto(console_url + "/app/google_sync/settings")
        page.once("dialog", lambda dialog: dialog.accept())
        page.click("button:has-text('Disconnect')")
        expect(page.locator(".flash-success")).to_contain_text("the refresh token was revoked")
        assert oauth_demo.emulator.oauth_grants() == []
    finally:
        server.shutdown()
        app.extensions["google_sync"].shutdown()
