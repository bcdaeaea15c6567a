"""The console at a real directory's size, in Chromium: 2,000 users (1% bad data, 0.5% locked) in groups of 50,
the emulator as an empty Google. The directory, the console and the browser are built once for the module; the
tests run in order, as an administrator would (test, narrow down, download, synchronize, look at the result)."""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import threading
from pathlib import Path

import pytest
from console_helpers import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, shot
from werkzeug.serving import make_server

from app_google_sync.demo.directory import DemoDirectory, paged_only_limits
from app_google_sync.demo.environment import DemoEnvironment
from app_google_sync.demo.large import GROUP_SIZE, is_locked, seed_large_directory
from app_google_sync.host.demo import ADMIN_PASSWORD, ADMIN_USERNAME, build_demo_app

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"Debian's chromium is not installed ({CHROMIUM} missing)"
)

USERS = 2000
GROUPS = USERS // GROUP_SIZE
LOCKED = sum(1 for number in range(USERS) if is_locked(number))
VIEWPORT = {"width": 1360, "height": 900}
README_SHOT = Path(__file__).parents[2] / "views" / "static" / "screenshots" / "large-plan-summary.png"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    state = tmp_path_factory.mktemp("at-scale")
    with DemoDirectory(size_limit=500, sync_limits=paged_only_limits(500)) as directory:
        seed_large_directory(directory, USERS)
        with DemoEnvironment(state_dir=str(state), directory=directory, latency=0) as env:
            env.write_config(max_suspend="100%", batch_size="1000")
            app = build_demo_app(env, GOOGLE_SYNC_SECRETS_DIR=str(state / "secrets"), GOOGLE_SYNC_RUN_SCHEDULER=False)
            server = make_server("127.0.0.1", 0, app, threaded=True)
            thread = threading.Thread(target=server.serve_forever, daemon=True)
            thread.start()
            try:
                yield f"http://127.0.0.1:{server.server_port}/app/google_sync", env, app
            finally:
                server.shutdown()
                thread.join(timeout=5)
                app.extensions["google_sync"].runs.join(60)
                app.extensions["google_sync"].shutdown()


@pytest.fixture(scope="module")
def browser_page(site):
    from playwright.sync_api import sync_playwright

    plugin = site[0]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
        context.set_default_timeout(60000)
        page = context.new_page()
        page.goto(plugin.rsplit("/app/", 1)[0] + "/login")
        page.fill("input[name=username]", ADMIN_USERNAME)
        page.fill("input[name=password]", ADMIN_PASSWORD)
        page.click("button[type=submit]")
        yield page
        context.close()
        browser.close()


def counts_of(page) -> dict[str, int]:
    """The summary's "N action" links, as {action: N}."""
    found = {}
    for text in page.locator("#gs-action-counts a.gs-count").all_inner_texts():
        number, action = text.split(" ", 1)
        found[action] = int(number.replace(",", ""))
    return found


def rows_shown(page, table="table.gs-plan") -> list[str]:
    return page.locator(f"{table} tbody tr td.gs-object").all_inner_texts()


def test_the_summary_and_synchronize_now_are_on_the_first_screen(site, browser_page):
    from playwright.sync_api import expect

    page = browser_page
    page.goto(site[0] + "/test")
    page.click("button:has-text('Test synchronization')")
    expect(page.locator("#gs-summary")).to_be_visible()
    button = page.locator("button:has-text('Synchronize now')")
    box = button.bounding_box()
    assert box is not None and box["y"] + box["height"] <= VIEWPORT["height"], box  # no scrolling to find it
    counts = counts_of(page)
    good = USERS - USERS // 100 * 2 - LOCKED  # a shared address skips both its users
    assert counts["create user"] == good and counts["create group"] == GROUPS
    assert counts["add member"] == good
    # Warnings grouped by code, each user's problem once: the skipped and locked users are counted under their codes.
    warnings = dict(
        re.match(r"([\d,]+) (\S+)", text).groups()[::-1]
        for text in page.locator("#gs-warning-counts a").all_inner_texts()
    )
    assert int(warnings["user_locked"]) == LOCKED and int(warnings["address_shared"]) == USERS // 100 * 2
    assert page.locator("#gs-warnings details.gs-notice-group").count() == len(warnings)
    assert page.locator("table.gs-plan tbody tr").count() == 100  # one page of rows, not 4,000
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "large-plan-summary.png"))
    if os.environ.get(
        "GOOGLE_SYNC_UPDATE_SCREENSHOTS"
    ):  # the README's picture, on request: a test run leaves the tree clean
        shutil.copyfile(ARTIFACTS / "large-plan-summary.png", README_SHOT)


def test_a_summary_count_links_to_its_rows_and_the_filter_is_in_the_url(site, browser_page):
    from playwright.sync_api import expect

    page = browser_page
    page.click("#gs-action-counts a:has-text('create group')")
    expect(page).to_have_url(re.compile(r"/test/[0-9a-f]{16}\?action=create\+group"))
    assert set(page.locator("table.gs-plan .gs-action").all_inner_texts()) == {"create group"}
    assert page.locator(".gs-pager-range").first.inner_text() == f"1–{GROUPS} of {GROUPS}"
    page.select_option("select[name=action]", "add member")
    page.click("form.gs-filter-form button:has-text('Show')")
    expect(page).to_have_url(re.compile(r"action=add\+member"))
    assert set(page.locator("table.gs-plan .gs-action").all_inner_texts()) == {"add member"}
    page.click("#gs-warning-counts a:has-text('user_locked')")
    expect(page.locator("table.gs-notices tbody tr")).to_have_count(LOCKED)
    shot(page, "scale-02-notices-of-a-code")
    page.go_back()
    expect(page).to_have_url(re.compile(r"action=add\+member"))


def test_a_search_finds_a_group_and_its_members(site, browser_page):
    from playwright.sync_api import expect

    page = browser_page
    page.fill("input[name=q]", "team0007")
    page.click("form.gs-filter-form button:has-text('Show')")
    expect(page).to_have_url(re.compile(r"q=team0007"))
    objects = rows_shown(page)
    members = GROUP_SIZE - sum(
        1 for number in range(7 * GROUP_SIZE, 8 * GROUP_SIZE) if is_locked(number) or number % 100 in (49, 50)
    )
    assert len(objects) == members and all(item.startswith("team0007@example.com ← user") for item in objects)
    shot(page, "scale-03-search")


def test_pages_move_through_the_plan(site, browser_page):
    from playwright.sync_api import expect

    page = browser_page
    page.click("a:has-text('Clear')")
    first = rows_shown(page)
    page.locator("a[rel=next]").first.click()
    expect(page).to_have_url(re.compile(r"page=2"))
    second = rows_shown(page)
    assert len(first) == len(second) == 100 and not set(first) & set(second)
    assert page.locator(".gs-pager-range").first.inner_text().startswith("101–200 of ")
    page.locator("a:has-text('Last')").first.click()
    total = sum(counts_of(page).values())
    assert (
        page.locator(".gs-pager-range").first.inner_text() == f"{(total - 1) // 100 * 100 + 1:,}–{total:,} of {total:,}"
    )


def test_the_csv_download_has_a_row_per_change(site, browser_page):
    page = browser_page
    total = sum(counts_of(page).values())
    with page.expect_download() as event:
        page.click("#gs-summary a:text-is('CSV')")
    rows = list(csv.DictReader(io.StringIO(Path(event.value.path()).read_text(encoding="utf-8"))))
    assert len(rows) == total
    assert {row["action"] for row in rows} == set(counts_of(page))


def test_a_run_page_shows_failures_first(site, browser_page):
    from playwright.sync_api import expect

    plugin, env, _app = site
    page = browser_page
    for number in (1, 2):  # Google refuses a user at an address a group already has: two failures, the rest applies
        env.emulator.add_group(f"user{number:05}@example.com", name=f"taken{number}")
    page.goto(plugin + "/test")
    page.click("button:has-text('Test synchronization')")
    page.click("button:has-text('Synchronize now')")
    expect(page.locator("#gs-outcome")).to_contain_text("finished with errors", timeout=120000)
    failed = int(page.locator("#gs-outcome-counts a.gs-count-fail").inner_text().split()[0])
    assert 2 <= failed < 20
    expect(page.locator("#gs-failures table.gs-results tbody tr")).to_have_count(failed)  # the failures, not every row
    shot(page, "scale-04-run-finished")
    assert "user00001@example.com" in page.locator("#gs-failures").inner_text()
    page.click("a:has-text('in the history')")
    marks = page.locator("table.gs-results tbody tr td:first-child .gs-mark").evaluate_all(
        "marks => marks.map(m => m.title)"
    )
    assert marks[:failed] == ["failed"] * failed and set(marks[failed:]) == {"done"}
    assert len(marks) == 100
    page.screenshot(path=str(ARTIFACTS / "scale-05-run-in-history.png"))
    page.click("#gs-outcome-counts a:has-text('failed')")
    expect(page.locator("table.gs-results tbody tr")).to_have_count(failed)


def test_locked_users_are_labelled_locked(site, browser_page):
    from playwright.sync_api import expect

    page = browser_page
    page.goto(site[0] + "/objects")
    expect(page.locator("#gs-computed")).to_contain_text("As computed")
    page.locator(".stats a.stat", has_text="Locked").click()
    rows = page.locator("table.gs-users tbody tr[data-state]")
    expect(rows).to_have_count(LOCKED)
    assert set(rows.locator("td:nth-child(5) .badge").all_inner_texts()) == {"Locked"}
    assert "Google Apps off" not in page.locator("table.gs-users").inner_text()
    shot(page, "scale-06-users-locked")
    page.fill("input[name=q]", "user00042")
    page.click("form.gs-filter-form button:has-text('Show')")
    expect(page.locator("table.gs-users tbody tr[data-state]")).to_have_count(
        0
    )  # the search keeps the state filter: user00042 is not locked
    page.click("a:has-text('Clear')")
    page.fill("input[name=q]", "user00042")
    page.click("form.gs-filter-form button:has-text('Show')")
    expect(page.locator("table.gs-users tbody tr[data-state]")).to_have_count(1)
    expect(page.locator("table.gs-users")).to_contain_text("Synchronized")
