"""The Leavers page in a real browser (Debian's Chromium through Playwright), on the reference host.

Screenshot: test-artifacts/console/leavers-*.png.
"""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from console_helpers import CHROMIUM, log_in, serving, shot

from app_google_sync import cli
from app_google_sync.host.demo import build_demo_app
from app_google_sync.libraries.state.store import now
from app_google_sync.libraries.sync.engine import SyncEngine

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"Debian's chromium is not installed ({CHROMIUM} missing)"
)
PLUGIN = ("google_apps_plugin",)


@pytest.fixture
def served(env, tmp_path):
    app = build_demo_app(
        env, GOOGLE_SYNC_SECRETS_DIR=str(tmp_path / "secrets"), GOOGLE_SYNC_PUSH_DELAY=0.05, CONSOLE_STRICT_PLUGINS=True
    )
    with serving(app) as url:
        yield url


def test_the_leavers_page_shows_each_step_and_the_transfer(env, served, page):
    from playwright.sync_api import expect

    env.write_config(
        sections={
            "attributes": {"manager": "manager"},
            "offboarding": {
                "sign_out": "yes",
                "revoke_tokens": "yes",
                "hide_from_directory": "yes",
                "move_to_org_unit": "/Leavers",
                "transfer_data_to": "manager",
                "transfer_after": "30d",
            },
        }
    )
    env.emulator.add_org_unit("/Leavers")
    bob = env.directory.add_user("bob", "Bob", "Boss", groups=PLUGIN)
    for uid in ("alice", "carol"):
        env.directory.add_user(uid, uid.title(), "Leaver", groups=PLUGIN, extra_attrs={"manager": bob})
    config = ["--config", str(env.config_path)]
    assert cli.main([*config, "sync"]) == 0
    env.emulator.add_token("alice@example.com", "1234.apps.googleusercontent.com", "Slack")
    for uid in ("alice", "carol"):
        env.directory.remove_from_group("google_apps_plugin", uid)

    log_in(page, served)
    page.click(".gs-tab:has-text('Test synchronization')")
    page.click("button:has-text('Test synchronization')")
    plan = page.locator("table.gs-plan")
    for line in ("sign out", "revoke token", "hide from directory", "move to org unit", "schedule transfer", "Slack"):
        expect(plan).to_contain_text(line)
    expect(plan).to_contain_text("transfer Drive and Calendar to bob@example.com on")
    shot(page, "leavers-00-test-synchronization")

    assert cli.main([*config, "sync"]) == 0
    engine = SyncEngine(env.settings)
    env.emulator.fail_transfers(1)
    for _ in range(3):
        engine.run_transfers(now() + timedelta(days=31))  # carol's fails, alice's completes

    page.click(".gs-tab:has-text('Users and groups')")
    expect(page.locator("#gs-leavers-link")).to_contain_text("2")
    page.click("#gs-leavers-link")
    table = page.locator("#gs-leavers")
    expect(table).to_contain_text("alice@example.com")
    expect(table).to_contain_text("token of Slack revoked")
    expect(table).to_contain_text("moved to /Leavers (from /)")
    shot(page, "leavers-01-page")
    expect(table).to_contain_text("completed")  # one of the two (which one is started first is not fixed)
    expect(table).to_contain_text("Google reports the transfer failed")
    expect(page.locator(".panel-title")).to_contain_text("2 offboarded")
