"""The group picker, the mapping page and the import list in a real browser (Debian's Chromium through Playwright),
on the reference host with a seeded slapd and the emulator. Screenshots go to test-artifacts/console/."""

from __future__ import annotations

import os
import re
import threading

import pytest
from console_helpers import CHROMIUM, log_in, serving, shot
from werkzeug.serving import make_server

from app_google_sync.demo.directory import seed_sample_organisation
from app_google_sync.demo.environment import DemoEnvironment
from app_google_sync.host.demo import ADMIN_PASSWORD, ADMIN_USERNAME, build_demo_app
from app_google_sync.libraries.settings import config

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"Debian's chromium is not installed ({CHROMIUM} missing)"
)


@pytest.fixture
def demo(directory, tmp_path):
    """The sample organisation with a nested group, connected to the emulator, which also holds a Google-only account."""
    seed_sample_organisation(directory)
    directory.add_group_of_names(
        "emea", [directory.group_dn("sales"), directory.user_dn("bob")], description="Europe, Middle East and Africa"
    )
    with DemoEnvironment(state_dir=str(tmp_path), directory=directory) as env:
        env.emulator.add_user(
            "gina@example.com", "Gina", "Lollo", phones=[{"type": "work", "value": "+39 06 5550 0100"}]
        )
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


def test_pick_groups_set_posting_preview_and_delete_a_group_that_left(demo, plugin_url, page):
    from playwright.sync_api import expect

    page.goto(plugin_url + "/groups")
    table = page.locator("table.gs-groups")
    expect(table).to_contain_text("Europe, Middle East and Africa")
    expect(table.locator("tr", has_text="emea")).to_contain_text("sales")  # its nested group
    expect(page.locator("#gs-all-groups")).to_be_checked()
    shot(page, "20-groups")

    page.locator("label.switch", has_text="All groups").click()
    table.locator("tr", has_text="management").locator("input[name=group]").uncheck()
    page.select_option("#gs-posting-default", "members")
    table.locator("tr", has_text="Sales team").locator("select").select_option("anyone")
    page.click("button:has-text('Save')")
    expect(page.locator(".flash-success")).to_contain_text("Groups saved")
    expect(page.locator("#gs-all-groups")).not_to_be_checked()
    expect(table.locator("tr", has_text="management")).to_contain_text("Not synchronized")
    shot(page, "21-groups-saved")
    sync = config.load(str(demo.config_path)).sync
    assert sync.groups == ("emea", "engineering", "sales") and dict(sync.posting_overrides) == {"sales": "anyone"}

    page.click(".gs-next a:has-text('Run the test synchronization')")
    page.click("button:has-text('Test synchronization')")
    plan = page.locator("table.gs-plan")
    expect(plan).to_contain_text("create group")
    expect(plan).to_contain_text("sales@example.com")
    expect(plan).not_to_contain_text("management@example.com")
    page.click("button:has-text('Synchronize now')")
    expect(page.locator("#gs-outcome")).to_contain_text("Synchronization complete", timeout=30000)
    assert demo.emulator.group_settings("sales@example.com")["whoCanPostMessage"] == "ANYONE_CAN_POST"

    page.goto(plugin_url + "/groups")
    table.locator("tr", has_text="engineering").locator("input[name=group]").uncheck()
    page.click("button:has-text('Save')")
    removed = page.locator(".panel", has_text="Groups no longer synchronized")
    expect(removed).to_contain_text("engineering@example.com")
    expect(removed).to_contain_text("members frozen")
    shot(page, "22-groups-removed")
    removed.locator("a:has-text('Delete')").click()
    page.fill("#gs-confirm-email", "engineering")
    page.click("button:has-text('Delete the group from Google')")
    expect(page.locator(".alert-error")).to_contain_text("Nothing was deleted")
    shot(page, "23-group-delete-confirm")
    assert demo.emulator.get_group("engineering@example.com") is not None
    page.fill("#gs-confirm-email", "engineering@example.com")
    page.click("button:has-text('Delete the group from Google')")
    expect(page.locator(".flash-success")).to_contain_text("deleted from Google")
    assert demo.emulator.get_group("engineering@example.com") is None


def test_mapping_page_org_units_and_import(demo, plugin_url, page):
    from playwright.sync_api import expect

    page.goto(plugin_url + "/attributes")
    rows = page.locator("table.gs-mapping tbody tr")
    expect(rows).to_have_count(8)
    shot(page, "24-attributes")

    title = rows.filter(has_text="Job title")
    title.locator("label.switch").click()
    expect(title).to_have_class(re.compile(r"gs-row-off"))
    expect(title).to_contain_text("Off: never touched in Google.")
    phone = page.locator("#gs-attr-phone")
    phone.fill("home phone")
    page.click("form:has(table.gs-mapping) button:has-text('Save')")
    expect(page.locator(".field-error")).to_contain_text("give an LDAP attribute name")
    phone.fill("homePhone")
    page.click("form:has(table.gs-mapping) button:has-text('Save')")
    expect(page.locator(".flash-success")).to_contain_text(
        "Switched off, never touched in Google: Job title, Manager, Photo."
    )
    attributes = config.load(str(demo.config_path)).attributes
    assert (attributes.title, attributes.phone) == ("", "homePhone")

    page.check("input[name=org_units][value=dn]")
    page.fill("#gs-ou-root", "/Staff")
    page.click("#org-units button:has-text('Save')")
    expect(page.locator(".flash-success")).to_contain_text("users go under /Staff")
    shot(page, "25-attributes-saved")
    assert config.load(str(demo.config_path)).sync.org_units == "dn"

    page.click(".gs-tab:has-text('Import')")
    accounts = page.locator("table.gs-import")
    expect(accounts).to_contain_text("gina@example.com")
    expect(accounts).to_contain_text("Administrator")
    shot(page, "26-import")
    accounts.locator("tr", has_text="gina@example.com").locator("input[name=pick]").check()
    page.click("button:has-text('Create local accounts')")
    expect(page.locator(".flash-success")).to_contain_text("Created 1 local account with Google Apps on: gina.")
    expect(accounts).not_to_contain_text("gina@example.com")
    shot(page, "27-import-done")
    assert b"gina" in demo.directory.group_entry("google_apps_plugin")["memberUid"]
    assert "userPassword" not in demo.directory.user_entry("gina")


def test_windows_groups_are_not_offered(demo, tmp_path, page):
    """ClearOS's Samba app keeps its Windows groups beside the user groups: the picker leaves them out and says so."""
    from playwright.sync_api import expect

    directory = demo.directory
    for name, gid, sid in (
        ("domain_users", 1000513, "S-1-5-21-1-2-3-513"),
        ("administrators", 1000544, "S-1-5-32-544"),
    ):
        directory.add_entry(
            directory.group_dn(name),
            {
                "objectClass": ["top", "posixGroup", "sambaGroupMapping"],
                "cn": name,
                "gidNumber": gid,
                "sambaSID": sid,
                "sambaGroupType": 2,
                "memberUid": ["bob"],
            },
        )
    app = build_demo_app(demo, GOOGLE_SYNC_SECRETS_DIR=str(tmp_path / "secrets"), CONSOLE_STRICT_PLUGINS=True)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        page.goto(url + "/login")
        page.fill("#username", ADMIN_USERNAME)
        page.fill("#password", ADMIN_PASSWORD)
        page.click("button[type=submit]")
        page.goto(url + "/app/google_sync/groups")
        table = page.locator("table.gs-groups")
        expect(table).to_contain_text("sales")
        expect(table).not_to_contain_text("domain_users")
        expect(table).not_to_contain_text("administrators")
        expect(page.locator("p", has_text="Not listed, never synchronized")).to_contain_text("Windows groups")
        shot(page, "28-groups-windows")
    finally:
        server.shutdown()
        app.extensions["google_sync"].shutdown()
