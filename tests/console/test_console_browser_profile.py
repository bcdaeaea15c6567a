"""The Attributes page's profile rows in a real browser (Debian's Chromium through Playwright): the manager, custom
attributes, licences and domains, then the preview. Screenshots go to test-artifacts/console/."""

from __future__ import annotations

import os

import pytest
from console_helpers import CHROMIUM, log_in, serving, shot

from app_google_sync.demo.environment import DemoEnvironment
from app_google_sync.host.demo import build_demo_app
from app_google_sync.libraries.settings import config

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"Debian's chromium is not installed ({CHROMIUM} missing)"
)


@pytest.fixture
def demo(directory, tmp_path):
    directory.add_group("google_apps_plugin")
    boss = directory.add_user("bob", "Bob", "Boss", groups=("google_apps_plugin",))
    directory.add_user(
        "alice",
        "Alice",
        "Tester",
        mail="alice@example.org",
        groups=("google_apps_plugin",),
        extra_attrs={"manager": boss, "employeeNumber": "4200", "businessCategory": ["Apollo", "Gemini"]},
    )
    with DemoEnvironment(state_dir=str(tmp_path), directory=directory) as env:
        env.emulator.add_domain("example.org")
        env.emulator.add_schema("HR", [("costCenter", "INT64", False), ("projects", "STRING", True)])
        env.emulator.add_sku("Google-Apps", "1010020027", 5)
        yield env


@pytest.fixture
def plugin_url(demo, tmp_path, page):
    app = build_demo_app(
        demo,
        GOOGLE_SYNC_SECRETS_DIR=str(tmp_path / "secrets"),
        GOOGLE_SYNC_PUSH_DELAY=0.05,
        CONSOLE_STRICT_PLUGINS=True,
    )
    with serving(app) as url:
        log_in(page, url)
        yield url


def test_manager_custom_attributes_and_domains_then_the_preview(demo, plugin_url, page):
    from playwright.sync_api import expect

    page.goto(plugin_url + "/attributes")
    manager = page.locator("table.gs-mapping tbody tr", has_text="Manager")
    expect(manager).to_have_class("gs-row-off")
    expect(manager).to_contain_text("relations[type=manager]")
    manager.locator("label.switch").click()
    page.click("form:has(table.gs-mapping) button:has-text('Save')")
    expect(page.locator(".flash-success")).to_contain_text("Attribute mapping saved.")
    assert config.load(str(demo.config_path)).attributes.manager == "manager"

    page.select_option("#gs-custom-field", "HR.projects")
    page.fill("#gs-custom-attribute", "businessCategory")
    page.click("#custom button:has-text('Add')")
    expect(page.locator(".flash-success")).to_contain_text("HR.projects is filled from businessCategory.")
    expect(page.locator(".flash-warning")).to_contain_text("admin.directory.userschema.readonly")
    expect(page.locator("table.gs-custom")).to_contain_text("STRING, multi-valued")

    page.fill("#gs-product", "Google-Apps")
    page.fill("#gs-sku", "1010020027")
    page.check("#gs-release")
    page.click("#licenses button:has-text('Save')")
    expect(page.locator(".flash-success")).to_contain_text("suspended users give theirs back.")
    expect(page.locator(".flash-warning")).to_contain_text("apps.licensing")

    page.fill("#gs-domains", "example.org")
    page.click("#domains button:has-text('Save')")
    expect(page.locator(".flash-success")).to_contain_text("Domains saved: example.org besides the primary one.")
    shot(page, "30-attributes-profile")

    page.goto(plugin_url + "/settings")
    expect(page.locator("body")).to_contain_text("admin.directory.userschema.readonly")

    page.goto(plugin_url + "/test")
    page.click("button:has-text('Test synchronization')")
    body = page.locator("body")
    expect(body).to_contain_text("alice@example.org")
    expect(body).to_contain_text("manager: bob@example.com")
    expect(body).to_contain_text('HR.projects: ["Apollo", "Gemini"]')
    expect(body).to_contain_text("assign licence")
    shot(page, "31-preview-profile")
