"""The console in a real browser: Debian's Chromium driven by Playwright, screenshots kept for review."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from host_helpers import ADMIN, ADMIN_PASSWORD, FakePlugin, host_config
from werkzeug.serving import make_server

from app_google_sync.demo.directory import seed_sample_organisation
from app_google_sync.host import create_app

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "host"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"Debian's chromium is not installed ({CHROMIUM} missing)"
)


@pytest.fixture
def console_url(directory):
    """The console over the seeded directory, served on a free loopback port in a background thread."""
    seed_sample_organisation(directory)
    app = create_app(host_config(directory, CONSOLE_PLUGINS=[FakePlugin()]))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1360, "height": 860})
        yield context.new_page()
        context.close()
        browser.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_log_in_create_a_user_with_the_switch_on_and_see_it_listed(console_url, page, directory):
    from playwright.sync_api import expect

    page.goto(console_url + "/users")
    expect(page).to_have_url(console_url + "/login?next=%2Fusers")
    shot(page, "01-login")
    page.fill("#username", ADMIN)
    page.fill("#password", "not the password")
    page.click("button[type=submit]")
    expect(page.locator(".flash-error")).to_have_text("Wrong username or password.")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(console_url + "/users")
    expect(page.locator("h1")).to_have_text("Users")
    shot(page, "02-users")

    page.click("text=Add user")
    expect(page.locator("h1")).to_have_text("Add user")
    page.fill("#f-uid", "Nina Simone")
    page.fill("#f-given_name", "Nina")
    page.fill("#f-family_name", "Simone")
    page.fill("#f-password", "Feeling-Good-1965")
    page.fill("#f-confirm", "Feeling-Good-1965")
    page.check("input[name=groups][value=sales]")
    page.locator("label.switch", has_text="Google Apps").click()  # the styled toggle, as a person clicks it
    page.click("button:has-text('Create user')")
    expect(page.locator("#e-uid")).to_contain_text("A username starts with a lowercase letter")
    expect(page.locator("#f-given_name")).to_have_value("Nina")
    expect(page.locator("#f-password")).to_have_value("")
    expect(page.locator("input[name=switches][value=google_apps]")).to_be_checked()
    shot(page, "03-user-form-errors")

    page.fill("#f-uid", "nina")
    page.fill("#f-password", "Feeling-Good-1965")
    page.fill("#f-confirm", "Feeling-Good-1965")
    page.click("button:has-text('Create user')")
    expect(page).to_have_url(console_url + "/users")
    expect(page.locator(".flash-success")).to_have_text("User nina created.")
    row = page.locator("tr", has=page.locator("a", has_text="nina"))
    expect(row).to_contain_text("Nina Simone")
    expect(row).to_contain_text("nina@example.com")
    expect(row.locator(".badge-ok", has_text="On")).to_be_visible()
    shot(page, "04-users-after-create")
    assert b"nina" in directory.group_entry("google_apps_plugin")["memberUid"]

    row.locator("a", has_text="Edit").click()
    expect(page.locator("h1")).to_have_text("User nina")
    shot(page, "05-user-edit")

    page.click("nav >> text=Groups")
    expect(page.locator("h1")).to_have_text("Groups")
    shot(page, "06-groups")
    page.click("text=engineering")
    shot(page, "07-group-edit")

    page.click("nav >> text=Fake Sync")
    expect(page.locator(".topbar .crumbs")).to_have_text("Server › Messaging and Collaboration › Fake Sync")
    shot(page, "08-plugin-page")
    page.click("nav >> text=Dashboard")
    shot(page, "09-dashboard")

    page.click("button:has-text('Log out')")
    expect(page).to_have_url(console_url + "/login")
    expect(page.locator(".flash-info")).to_have_text("You have been logged out.")
