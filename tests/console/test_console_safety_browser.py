"""Held changes and undo in a real browser (Debian's Chromium through Playwright), on the reference host.

Screenshots go to test-artifacts/console/ (safety-*.png).
"""

from __future__ import annotations

import os
import re

import pytest
from console_helpers import CHROMIUM, log_in, serving, shot

from app_google_sync import cli
from app_google_sync.host.demo import build_demo_app
from app_google_sync.libraries.sync.engine import SyncEngine

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"Debian's chromium is not installed ({CHROMIUM} missing)"
)


@pytest.fixture
def served(env, tmp_path):
    app = build_demo_app(
        env, GOOGLE_SYNC_SECRETS_DIR=str(tmp_path / "secrets"), GOOGLE_SYNC_PUSH_DELAY=0.05, CONSOLE_STRICT_PLUGINS=True
    )
    with serving(app) as url:
        yield url


def suspended(env) -> set[str]:
    return {user["primaryEmail"] for user in env.emulator.users() if user.get("suspended")}


def test_held_changes_banner_apply_then_undo_the_run(env, served, page):
    from playwright.sync_api import expect

    for uid in ("ada", "bob", "cyd", "dan"):
        env.directory.add_user(uid, uid.capitalize(), "Tester", groups=("google_apps_plugin",))
    env.write_config(max_suspend="0")
    assert cli.main(["--config", str(env.config_path), "sync"]) == 0
    engine = SyncEngine(env.settings)
    for uid in ("ada", "bob"):
        env.directory.remove_from_group("google_apps_plugin", uid)
        engine.push_user(uid)  # what the watcher does: the suspension breaks max_suspend = 0, so it is held
    assert suspended(env) == set()

    log_in(page, served)
    banner = page.locator("#gs-held-banner")
    expect(banner).to_contain_text("2 changes held for your approval")
    shot(page, "safety-01-overview-banner")

    banner.locator("a:has-text('Review the held changes')").click()
    expect(page.locator("#gs-held")).to_contain_text("ada@example.com")
    expect(page.locator("#gs-held")).to_contain_text("max_suspend = 0")
    shot(page, "safety-02-held-changes")
    page.click("button:has-text('Apply held changes')")  # the confirmation is required: nothing happens without it
    expect(page).to_have_url(re.compile(r"/held$"))
    assert suspended(env) == set()
    page.check("input[name=confirm]")
    page.click("button:has-text('Apply held changes')")
    expect(page.locator(".flash-success")).to_contain_text("Held changes: 2 change(s) applied")
    expect(page.locator("table.gs-results")).to_contain_text("bob@example.com")
    assert suspended(env) == {"ada@example.com", "bob@example.com"}
    shot(page, "safety-03-held-applied")

    page.click("#gs-undo-run")
    expect(page.locator("table.gs-plan")).to_contain_text("unsuspend user")
    expect(page.locator("table.gs-plan")).to_contain_text("ada@example.com")
    shot(page, "safety-04-undo-preview")
    page.click("button:has-text('Apply this undo')")
    expect(page.locator(".flash-success")).to_contain_text(re.compile(r"Undo of run #\d+: 2 change\(s\) applied"))
    expect(page.locator(".kv")).to_contain_text("undo of run")
    assert suspended(env) == set()
    shot(page, "safety-05-undo-applied")

    page.goto(served + "/")
    expect(page.locator("#gs-held-banner")).to_have_count(0)
