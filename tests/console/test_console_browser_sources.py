"""The Sources page in a real browser (Debian's Chromium through Playwright): the OU tree and the groups with their
user counts, a change previewed (who comes in, who would be suspended) before it can be saved, and saved only as
previewed. Screenshots go to test-artifacts/console/."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from console_helpers import CHROMIUM, log_in, serving, shot

from app_google_sync import cli
from app_google_sync.host.demo import build_demo_app
from app_google_sync.libraries.settings import config

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from test_sources import build_organisation  # noqa: E402  (the same organisation as the command-line tests)

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"Debian's chromium is not installed ({CHROMIUM} missing)"
)


@pytest.fixture
def plugin_url(env, tmp_path, page):
    build_organisation(env.directory)
    env.write_config(max_suspend="1")
    env.config_path.write_text(
        env.config_path.read_text() + f"\n[sources]\nsubtrees = {env.directory.ou_dn('Staff')}\n"
    )
    assert cli.main(["--config", str(env.config_path), "sync"]) == 0  # ann and bob are in Google
    app = build_demo_app(
        env, GOOGLE_SYNC_SECRETS_DIR=str(tmp_path / "secrets"), GOOGLE_SYNC_PUSH_DELAY=0.05, CONSOLE_STRICT_PLUGINS=True
    )
    with serving(app) as url:
        log_in(page, url)
        yield url


def test_the_tree_and_groups_with_counts_then_a_narrowing_previewed_before_it_is_saved(env, plugin_url, page):
    from playwright.sync_api import expect

    page.goto(plugin_url + "/sources")
    expect(page.locator(".gs-now-count")).to_have_text("2")  # the saved sources: Staff, ann and bob
    tree = page.locator("table.gs-tree")
    staff_dn, contractors_dn = env.directory.ou_dn("Staff"), env.directory.ou_dn("Contractors")
    expect(tree.locator(f"tr[data-dn='{staff_dn}'] .gs-unit-users")).to_have_text("2")  # ann, and bob in Staff/Berlin
    expect(tree.locator(f"tr[data-dn='{env.directory.ou_dn('Staff/Berlin')}'] .gs-unit-users")).to_have_text("1")
    expect(tree.locator(f"tr[data-dn='{staff_dn}'] input[name=subtree]")).to_be_checked()  # as the file says
    engineering = page.locator("tr.gs-source-group", has_text="engineering")
    expect(engineering.locator(".gs-group-users")).to_have_text("2")  # frank, and erin through backend
    expect(engineering).to_contain_text("backend")
    shot(page, "60-sources")

    # Narrow: Contractors and engineering instead of Staff.
    tree.locator(f"tr[data-dn='{staff_dn}'] input[name=subtree]").uncheck()
    tree.locator(f"tr[data-dn='{contractors_dn}'] input[name=subtree]").check()
    tree.locator(f"tr[data-dn='{contractors_dn}'] input.gs-org-unit").fill("/Contractors")
    engineering.locator("input[name=group]").check()
    page.click("#gs-preview-sources")
    preview = page.locator("#gs-preview")
    expect(preview).to_contain_text("3 user(s) in scope")
    expect(preview.locator(".gs-coming-in")).to_contain_text("carl@example.com")
    expect(preview.locator(".gs-suspended")).to_contain_text("ann@example.com")
    expect(preview.locator(".gs-refusal")).to_contain_text("would suspend 2")  # max_suspend = 1
    shot(page, "61-sources-preview")
    assert config.load(str(env.config_path)).sources.subtrees[0].dn == staff_dn  # nothing saved by a preview

    page.click("#gs-save-sources")  # without the confirmation: refused, nothing saved
    expect(page.locator(".alert-error").first).to_contain_text("tick the confirmation")
    assert config.load(str(env.config_path)).sources.member_groups == ()

    page.check("#gs-confirm-suspensions")
    page.click("#gs-save-sources")
    expect(page.locator("body")).to_contain_text("Sources saved: 3 user(s) in scope")
    saved = config.load(str(env.config_path)).sources
    assert [(subtree.dn, subtree.org_unit) for subtree in saved.subtrees] == [(contractors_dn, "/Contractors")]
    assert saved.member_groups == ("engineering",)
    assert not any(user.get("suspended") for user in env.emulator.users())  # saving changes nothing in Google
