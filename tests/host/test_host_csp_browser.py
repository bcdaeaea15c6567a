"""The Content-Security-Policy in a real browser: every main page of the host and of the Google Apps
Synchronization plugin loads under it with no violation reported (Debian's Chromium through Playwright).
Screenshots go to test-artifacts/host/."""

from __future__ import annotations

import os
import re
import threading

import pytest
from host_helpers import ADMIN, ADMIN_PASSWORD, FakePlugin, RecordingExtension, host_config
from test_host_browser import CHROMIUM, CHROMIUM_ARGS, shot
from werkzeug.serving import make_server

from app_google_sync.demo.directory import seed_sample_organisation
from app_google_sync.demo.environment import DemoEnvironment
from app_google_sync.host import create_app
from app_google_sync.host.demo import ADMIN_PASSWORD as DEMO_PASSWORD
from app_google_sync.host.demo import ADMIN_USERNAME as DEMO_ADMIN
from app_google_sync.host.demo import build_demo_app

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"Debian's chromium is not installed ({CHROMIUM} missing)"
)

# Runs before any page script and is not subject to the page's policy (Playwright injects it).
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (event) {
  console.error("CSP violation: " + event.violatedDirective + " blocked " + (event.blockedURI || "inline") + " at " + event.documentURI);
});
"""


def serve(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture
def demo(directory, tmp_path):
    """A seeded organisation and the emulator, connected (a service-account key in place)."""
    seed_sample_organisation(directory)
    with DemoEnvironment(state_dir=str(tmp_path), directory=directory, latency=0.05) as env:
        yield env


@pytest.fixture
def demo_url(demo, tmp_path):
    app = build_demo_app(
        demo, GOOGLE_SYNC_SECRETS_DIR=str(tmp_path / "secrets"), GOOGLE_SYNC_PUSH_DELAY=0.1, CONSOLE_STRICT_PLUGINS=True
    )
    server, thread = serve(app)
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
    app.extensions["google_sync"].runs.join(30)
    app.extensions["google_sync"].shutdown()


class Watched:
    """A Chromium page whose console is recorded: CSP violations and script errors."""

    def __init__(self, page):
        self.page = page
        self.problems: list[str] = []
        self.policies: set[str] = set()
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.problems.append(f"script error: {error}"))
        page.on("response", self._response)

    def _console(self, message):
        text = message.text
        if "Content Security Policy" in text or text.startswith("CSP violation"):
            self.problems.append(text)

    def _response(self, response):
        if response.request.resource_type == "document":
            self.policies.add(response.headers.get("content-security-policy", "(none)"))

    def visit(self, url: str):
        response = self.page.goto(url)
        self.page.wait_for_load_state("load")
        return response


@pytest.fixture
def watched():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1360, "height": 900})
        context.set_default_timeout(15000)
        context.add_init_script(REPORT_VIOLATIONS)
        yield Watched(context.new_page())
        context.close()
        browser.close()


HOST_PAGES = [
    "/",
    "/users",
    "/users/new",
    "/users/alice/edit",
    "/users/alice/delete",
    "/groups",
    "/groups/new",
    "/groups/sales/edit",
    "/groups/sales/delete",
    "/no/such/page",
]
PLUGIN_PAGES = [
    "/",
    "/settings",
    "/groups",
    "/attributes",
    "/check",
    "/test",
    "/automatic",
    "/history",
    "/objects",
    "/import",
]


def test_every_main_page_loads_under_the_policy_without_a_violation(demo, demo_url, watched):
    from playwright.sync_api import expect

    page = watched.page
    watched.visit(demo_url + "/login")
    page.fill("#username", DEMO_ADMIN)
    page.fill("#password", DEMO_PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Dashboard")
    shot(page, "csp-01-dashboard")

    for path in HOST_PAGES:
        response = watched.visit(demo_url + path)
        assert response.status in (200, 404), path
        assert response.headers["cache-control"] == "no-store", path
    watched.visit(demo_url + "/groups/sales/edit")
    shot(page, "csp-02-group-edit")

    plugin = demo_url + "/app/google_sync"
    for path in PLUGIN_PAGES:
        response = watched.visit(plugin + path)
        assert response.status == 200, path
        assert response.headers["cache-control"] == "no-store", path

    # The plugin's scripts at work: a copy button, a switched-off mapping row, a busy button, the live progress bar.
    watched.visit(plugin + "/settings")
    if page.locator("[data-copy]").count():
        page.locator("[data-copy]").first.click()
    watched.visit(plugin + "/attributes")
    row = page.locator(".gs-mapping tbody tr").first
    expect(row).not_to_have_class(re.compile("gs-row-off"))
    row.locator("label.switch").click()
    expect(row).to_have_class(re.compile("gs-row-off"))
    watched.visit(plugin + "/test")
    page.click("button:has-text('Test synchronization')")
    expect(page.locator("table.gs-plan")).to_be_visible(timeout=30000)
    page.click("button:has-text('Synchronize now')")
    expect(page.locator(".progress")).to_be_visible()
    # The bar's width comes from an inline style attribute, which the policy allows (style-src-attr).
    assert page.evaluate("document.getElementById('gs-bar').getBoundingClientRect().width") > 0
    shot(page, "csp-03-progress")
    expect(page.locator("#gs-outcome")).to_contain_text("Synchronization", timeout=30000)
    watched.visit(plugin + "/history")
    page.click("table.data a >> nth=0")
    expect(page.locator("table.gs-results")).to_be_visible()

    assert watched.problems == []
    assert len(watched.policies) == 1 and "script-src 'self'" in next(iter(watched.policies))

    # The watch itself works: an inline script is blocked and reported.
    page.evaluate("""() => {
        const script = document.createElement("script");
        script.textContent = "window.inlineRan = true;";
        document.head.appendChild(script);
    }""")
    page.wait_for_timeout(300)
    assert page.evaluate("window.inlineRan === undefined")
    assert any("script-src" in problem for problem in watched.problems), watched.problems


class OtherExtension(RecordingExtension):
    name, label, plugin_group = "other_app", "Other App", "other_app_plugin"


class Clock:
    def __init__(self):
        self.now = 1_700_000_000.0

    def __call__(self):
        return self.now


@pytest.fixture
def host_url(directory):
    """The host with two fake apps, served, its clock in the test's hands."""
    seed_sample_organisation(directory)
    clock = Clock()
    plugins = [FakePlugin(), FakePlugin(OtherExtension(), blueprint_name="other_app", title="Other App")]
    app = create_app(host_config(directory, CONSOLE_PLUGINS=plugins, CONSOLE_CLOCK=clock))
    server, thread = serve(app)
    yield f"http://127.0.0.1:{server.server_port}", clock
    server.shutdown()
    thread.join(timeout=5)


def test_the_lockout_message_after_five_failed_logins(host_url, watched):
    from playwright.sync_api import expect

    host_url, clock = host_url
    page = watched.page
    watched.visit(host_url + "/login")
    for _ in range(5):
        page.fill("#username", ADMIN)
        page.fill("#password", "not the password")
        page.click("button[type=submit]")
        expect(page.locator(".flash-error").first).to_have_text("Wrong username or password.")
    expect(page.locator(".flash-error").nth(1)).to_have_text(
        "Too many failed logins for this account from your address; try again in 1 minute."
    )
    page.fill("#username", ADMIN)
    page.fill("#password", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator(".flash-error")).to_have_text(
        re.compile(
            r"^Too many failed logins (for this account from your address|from your address); try again in 1 minute\.$"
        )
    )
    expect(page).to_have_url(re.compile(r"/login"))
    shot(page, "csp-04-login-locked")

    clock.now += 61
    page.fill("#username", ADMIN)
    page.fill("#password", ADMIN_PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Dashboard")
    expect(page.locator(".app-tile")).to_have_count(2)
    first, second = (page.locator(".app-tile").nth(index).bounding_box() for index in (0, 1))
    assert second["y"] - (first["y"] + first["height"]) >= 13  # the tiles' gap, now from console.css
    shot(page, "csp-05-dashboard-two-apps")
    assert watched.problems == []
