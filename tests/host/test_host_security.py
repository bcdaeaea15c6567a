"""Hardening of the host console: revocable sessions with a lifetime, login throttling, failed-login log lines,
Cache-Control on authenticated pages, and a Content-Security-Policy the pages satisfy."""

from __future__ import annotations

import logging
import re
import subprocess
import sys
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from host_helpers import ADMIN, ADMIN_PASSWORD, Browser, host_config, text_of

from app_google_sync.host import ConsoleConfigError, create_app

HOUR = 3600.0


class Clock:
    """An injectable clock (CONSOLE_CLOCK): tests move time instead of sleeping."""

    def __init__(self, start=1_700_000_000.0):
        self.now = start

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def app(directory, plugin, clock):
    return create_app(host_config(directory, CONSOLE_PLUGINS=[plugin], CONSOLE_CLOCK=clock))


def copy_of(app, browser) -> Browser:
    """Another client holding the same session cookie (a cookie copied off the administrator's machine)."""
    cookie = browser.client.get_cookie("session")
    assert cookie is not None
    thief = Browser(app.test_client())
    thief.client.set_cookie("session", cookie.value)
    return thief


def login_from(app, address, username=ADMIN, password=ADMIN_PASSWORD):
    """A login attempt from ``address`` (REMOTE_ADDR), with a fresh client."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return Browser(client).login(username, password), client


# --- sessions ends server-side ---------------------------------------------------------------
def test_a_copied_session_cookie_stops_working_after_logout(app, admin):
    thief = copy_of(app, admin)
    assert thief.get("/users").status_code == 200
    assert thief.get("/apps/fake_sync/").status_code == 200  # a plugin's page too

    assert admin.post("/logout").status_code == 302

    for path in ("/users", "/", "/apps/fake_sync/"):
        response = thief.get(path)
        assert response.status_code == 302 and response.location.startswith("/login"), path
    assert thief.client.post("/apps/fake_sync/action", data={"csrf_token": "x"}).status_code in (302, 400)


def test_logging_in_again_does_not_revive_an_old_cookie(app, admin):
    thief = copy_of(app, admin)
    admin.post("/logout")
    assert admin.login().status_code == 302
    assert admin.get("/users").status_code == 200
    assert thief.get("/users").status_code == 302


def test_logout_ends_only_that_session(app, admin):
    other = Browser(app.test_client())
    assert other.login().status_code == 302
    admin.post("/logout")
    assert other.get("/users").status_code == 200


def test_a_cookie_signed_with_the_key_but_without_a_server_side_session_is_refused(app, anonymous):
    """Such as a cookie from before the console restarted (its sessions lived in memory)."""
    forged = app.session_interface.get_signing_serializer(app).dumps({"_user_id": ADMIN, "_fresh": True})
    anonymous.client.set_cookie("session", forged)
    response = anonymous.get("/users")
    assert response.status_code == 302 and response.location.startswith("/login")


def test_a_session_expires_after_its_lifetime_8_hours_by_default(app, admin, clock):
    assert app.permanent_session_lifetime == timedelta(hours=8)
    for _ in range(24):  # busy all day: a request every 20 minutes
        clock.advance(20 * 60 - 2.5)
        assert admin.get("/").status_code == 200
    clock.advance(8 * HOUR - 60 - 24 * (20 * 60 - 2.5))
    assert admin.get("/users").status_code == 200
    assert admin.get("/apps/fake_sync/").status_code == 200
    clock.advance(61)
    response = admin.get("/users")
    assert response.status_code == 302 and response.location.startswith("/login")
    assert admin.get("/apps/fake_sync/").status_code == 302
    assert admin.login().status_code == 302  # a new login gets a new lifetime
    assert admin.get("/users").status_code == 200


def test_the_lifetime_is_configurable_and_the_cookie_expires_too(directory, clock):
    app = create_app(host_config(directory, CONSOLE_CLOCK=clock, PERMANENT_SESSION_LIFETIME=600))
    browser = Browser(app.test_client())
    response = browser.login()
    cookie = next(value for value in response.headers.getlist("Set-Cookie") if value.startswith("session="))
    assert "Expires=" in cookie
    clock.advance(599)
    assert browser.get("/").status_code == 200
    clock.advance(2)
    assert browser.get("/").status_code == 302


def test_a_session_ends_after_30_idle_minutes_by_default(app, admin, clock, caplog):
    caplog.set_level(logging.INFO, logger="app_google_sync.host")
    clock.advance(29 * 60)
    assert admin.get("/users").status_code == 200  # a request moves the idle deadline
    clock.advance(29 * 60)
    assert admin.get("/apps/fake_sync/").status_code == 200  # a plugin's page counts too
    clock.advance(30 * 60 + 1)
    response = admin.get("/users")
    assert response.status_code == 302 and response.location.startswith("/login")
    assert "console session of admin ended after being idle" in caplog.text
    assert admin.login().status_code == 302 and admin.get("/users").status_code == 200


def test_the_idle_timeout_is_configurable(directory, clock):
    app = create_app(host_config(directory, CONSOLE_CLOCK=clock, CONSOLE_SESSION_IDLE_TIMEOUT=timedelta(minutes=5)))
    browser = Browser(app.test_client())
    assert browser.login().status_code == 302
    clock.advance(299)
    assert browser.get("/").status_code == 200
    clock.advance(301)
    assert browser.get("/").status_code == 302


def test_a_store_file_from_before_the_idle_timeout_is_upgraded(directory, tmp_path):
    import sqlite3

    path = tmp_path / "sessions.db"
    with sqlite3.connect(path) as old:
        old.execute(
            "CREATE TABLE console_sessions (token_hash TEXT PRIMARY KEY, username TEXT NOT NULL, created REAL NOT NULL, expires REAL NOT NULL)"
        )
    browser = Browser(create_app(host_config(directory, CONSOLE_SESSION_STORE=str(path))).test_client())
    assert browser.login().status_code == 302 and browser.get("/users").status_code == 200


@pytest.mark.parametrize(
    "setting, https, secure", [(None, True, True), (None, False, False), (True, False, True), (False, True, False)]
)
def test_the_session_cookie_is_secure_over_https_unless_told_otherwise(directory, setting, https, secure):
    app = create_app(host_config(directory, SESSION_COOKIE_SECURE=setting))
    browser = Browser(app.test_client())
    scheme = "https" if https else "http"
    token = re.search(
        r'name="csrf-token" content="([^"]+)"', browser.client.get("/login", base_url=f"{scheme}://localhost").text
    ).group(1)
    response = browser.client.post(
        "/login",
        base_url=f"{scheme}://localhost",
        headers={"Referer": f"{scheme}://localhost/login"},
        data={"username": ADMIN, "password": ADMIN_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302
    cookie = next(value for value in response.headers.getlist("Set-Cookie") if value.startswith("session="))
    assert ("; Secure" in cookie) is secure, cookie


def test_sessions_shared_through_a_store_file_are_revoked_in_every_process(directory, tmp_path):
    """Two apps on one CONSOLE_SESSION_STORE stand for two worker processes of one console."""
    settings = host_config(directory, CONSOLE_SESSION_STORE=str(tmp_path / "sessions.db"))
    first, second = create_app(settings), create_app(settings)
    admin = Browser(first.test_client())
    assert admin.login().status_code == 302
    elsewhere = copy_of(second, admin)
    assert elsewhere.get("/users").status_code == 200
    assert elsewhere.post("/logout").status_code == 302
    assert admin.get("/users").status_code == 302
    assert oct((tmp_path / "sessions.db").stat().st_mode & 0o777) == "0o600"


# --- login throttling ---------------------------------------------------------------------------
def test_an_attacker_cannot_lock_the_administrator_out(app, clock):
    """Wrong passwords for admin from many other addresses: those are refused, the administrator still gets in."""
    for attempt in range(8):
        response, _ = login_from(app, f"10.0.0.{attempt + 1}", password="wrong")
        assert response.status_code == 200 and "Wrong username or password." in response.text
    assert "Too many failed logins for this account; try again in" in text_of(response)

    response, client = login_from(app, "10.0.0.1")  # an address that failed on the name: not even checked
    assert response.status_code == 429
    assert "Too many failed logins for this account; try again in" in text_of(response)
    assert "Wrong username or password." not in response.text
    assert int(response.headers["Retry-After"]) > 0
    assert client.get("/users").status_code == 302

    response, client = login_from(app, "192.0.2.50")  # the administrator, from an address that has not failed
    assert response.status_code == 302
    assert client.get("/users").status_code == 200


def test_an_attack_kept_up_for_hours_never_locks_out_a_known_address(app, clock):
    assert login_from(app, "192.0.2.10")[0].status_code == 302  # the administrator's usual address
    for hour in range(6):  # a burst of 5 guesses an hour, each from another address, keeps the name locked
        for attempt in range(5):
            login_from(app, f"10.1.{hour}.{attempt}", password="wrong")
            clock.advance(1)
        response, _ = login_from(app, "192.0.2.10", password="typo")  # even after a typo of its own
        assert response.status_code == 200 and "Too many" not in response.text
        assert login_from(app, "192.0.2.10")[0].status_code == 302
        clock.advance(3600)


def test_an_address_failing_on_the_name_is_locked_for_it(app, clock):
    for _ in range(5):
        response, _ = login_from(app, "10.0.0.1", password="wrong")
    assert "Too many failed logins" in text_of(response)
    response, _ = login_from(app, "10.0.0.1")
    assert response.status_code == 429
    clock.advance(61)
    assert login_from(app, "10.0.0.1")[0].status_code == 302


def test_each_further_failure_doubles_the_wait(app, clock):
    for attempt in range(5):
        login_from(app, f"10.0.0.{attempt + 1}", password="wrong")
    for minutes in (2, 4, 8):
        clock.advance(60 * minutes // 2 + 1)  # the previous lock is over
        response, _ = login_from(app, "10.0.2.1", password="wrong")
        assert f"try again in {minutes} minutes" in text_of(response)
        response, _ = login_from(app, "10.0.0.1")  # failed on the name before: slowed down with it
        assert response.status_code == 429 and f"try again in {minutes} minutes" in text_of(response)


def test_the_wait_never_exceeds_the_maximum(directory, clock):
    app = create_app(host_config(directory, CONSOLE_CLOCK=clock, CONSOLE_LOGIN_MAX_LOCKOUT=timedelta(minutes=3)))
    for attempt in range(5):
        login_from(app, f"10.0.0.{attempt + 1}", password="wrong")
    for _ in range(4):
        clock.advance(3 * 60 + 1)
        response, _ = login_from(app, "10.0.2.1", password="wrong")
    assert "try again in 3 minutes" in text_of(response)


def test_failures_spread_over_more_than_the_window_do_not_lock(app, clock):
    for _attempt in range(4):
        login_from(app, "10.0.0.1", password="wrong")
    clock.advance(15 * 60 + 1)
    for _attempt in range(4):
        response, _ = login_from(app, "10.0.0.1", password="wrong")
    assert "Too many" not in response.text
    response, _ = login_from(app, "10.0.0.1")
    assert response.status_code == 302


def test_five_failures_from_one_address_lock_that_address_for_any_name(app, clock):
    for name in ("root", "bob", "alice", "test", "guest"):
        response, _ = login_from(app, "192.0.2.7", username=name, password="guess")
    assert "Too many failed logins from your address; try again in 1 minute." in text_of(response)

    response, _ = login_from(app, "192.0.2.7")  # even the right login, from that address
    assert response.status_code == 429
    assert "Too many failed logins from your address; try again in 1 minute." in text_of(response)
    response, _ = login_from(app, "192.0.2.8")  # the administrator elsewhere is not locked out
    assert response.status_code == 302

    clock.advance(61)
    response, _ = login_from(app, "192.0.2.7")
    assert response.status_code == 302


def test_a_successful_login_clears_the_count(app):
    for _ in range(4):
        login_from(app, "10.0.0.1", password="wrong")
    assert login_from(app, "10.0.0.1")[0].status_code == 302
    for _ in range(4):
        response, _ = login_from(app, "10.0.0.1", password="wrong")
    assert "Too many" not in response.text
    assert login_from(app, "10.0.0.1")[0].status_code == 302


def test_the_user_name_is_throttled_whatever_its_case(app):
    for number, name in enumerate(("Admin", "ADMIN", "admin", "aDmin", "AdMiN")):
        login_from(app, f"10.0.3.{number}", username=name, password="wrong")
    assert login_from(app, "10.0.3.0")[0].status_code == 429  # failed as "Admin": refused as "admin"
    assert login_from(app, "10.0.9.9")[0].status_code == 302  # a fresh address is not


def test_unlock_lifts_every_lock_in_a_store_file(directory, tmp_path, clock):
    store = tmp_path / "sessions.db"
    app = create_app(host_config(directory, CONSOLE_CLOCK=clock, CONSOLE_SESSION_STORE=str(store)))
    for _ in range(5):
        login_from(app, "10.0.0.1", password="wrong")
    assert login_from(app, "10.0.0.1")[0].status_code == 429
    result = subprocess.run(
        [sys.executable, "-m", "app_google_sync.host.security", "unlock", str(store)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "3 lock(s) lifted; failed logins forgotten."
    assert login_from(app, "10.0.0.1")[0].status_code == 302
    missing = subprocess.run(
        [sys.executable, "-m", "app_google_sync.host.security", "unlock", str(tmp_path / "none.db")],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and "restarting the console lifts every lock" in missing.stderr


@pytest.mark.parametrize(
    "setting, value",
    [
        ("CONSOLE_LOGIN_MAX_FAILURES", 0),
        ("CONSOLE_LOGIN_FAILURE_WINDOW", -1),
        ("CONSOLE_LOGIN_LOCKOUT", "soon"),
        ("PERMANENT_SESSION_LIFETIME", 0),
        ("CONSOLE_CLOCK", 12),
        ("CONSOLE_LOGIN_TRUSTED_FOR", 0),
        ("CONSOLE_SESSION_IDLE_TIMEOUT", -5),
        ("SESSION_COOKIE_SECURE", "sometimes"),
    ],
)
def test_a_bad_security_setting_fails_at_start_naming_the_key(directory, setting, value):
    with pytest.raises(ConsoleConfigError, match=setting):
        create_app(host_config(directory, **{setting: value}))


# --- failed logins in the log, one matchable line each -----------------------------------------------
def test_a_failed_login_is_one_warning_with_the_name_and_the_address(app, caplog):
    caplog.set_level(logging.INFO, logger="app_google_sync.host")
    login_from(app, "198.51.100.4", username="bob", password="wrong")
    failures = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert [record.getMessage() for record in failures] == ["login failed for user 'bob' from 198.51.100.4"]
    assert "wrong" not in caplog.text


def test_a_forged_user_name_cannot_fake_the_address_in_the_log(app, caplog):
    caplog.set_level(logging.WARNING, logger="app_google_sync.host")
    login_from(
        app, "198.51.100.4", username="x' from 10.0.0.1\nlogin failed for user 'y' from 10.9.9.9", password="wrong"
    )
    (line,) = [record.getMessage() for record in caplog.records if record.getMessage().startswith("login failed")]
    assert "\n" not in line
    assert re.fullmatch(r"login failed for user '((?:[^'\\]|\\.)*)' from (\S+)", line).group(2) == "198.51.100.4"
    # The greedy filter fail2ban users write still finds the real address, at the end of the line.
    assert re.fullmatch(r"login failed for user '.*' from (\S+)", line).group(1) == "198.51.100.4"


def test_refused_attempts_are_logged_too(app, caplog):
    for _attempt in range(5):
        login_from(app, "10.0.0.1", password="wrong")
    caplog.clear()
    caplog.set_level(logging.WARNING, logger="app_google_sync.host")
    login_from(app, "10.0.0.1")
    line = caplog.records[-1].getMessage()
    assert line.startswith("too many failed logins (account at this address locked for ")
    assert line.endswith(": login refused for user 'admin' from 10.0.0.1")


FAIL2BAN = re.compile(r"login (failed|refused) for user '.*' from (?P<host>[\w.:-]+)$")  # the README's failregex


def test_one_fail2ban_filter_finds_the_real_address_in_both_lines(app, caplog):
    caplog.set_level(logging.WARNING, logger="app_google_sync.host")
    forged = "x' from 10.6.6.6"
    for attempt in range(6):
        login_from(app, "203.0.113.9", username=f"{forged}\nline {attempt}", password="wrong")
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 6 and "login refused" in lines[-1]
    assert [FAIL2BAN.search(line)["host"] for line in lines] == ["203.0.113.9"] * 6


# --- headers ----------------------------------------------------------------------------------------------
AUTHENTICATED_PAGES = [
    "/",
    "/users",
    "/users/new",
    "/users/alice/edit",
    "/users/alice/delete",
    "/groups",
    "/groups/new",
    "/groups/sales/edit",
    "/groups/sales/delete",
    "/apps/fake_sync/",
    "/no/such/page",
    "/users/nobody/edit",
]


@pytest.fixture
def people(directory):
    directory.add_user("alice", "Alice", "Martin", password="Secret-pass-1")
    directory.add_group("sales", members=["alice"])


@pytest.mark.parametrize("path", AUTHENTICATED_PAGES)
def test_authenticated_pages_are_never_stored(admin, people, path):
    response = admin.get(path)
    assert response.status_code in (200, 404), path
    assert response.headers["Cache-Control"] == "no-store"


def test_the_login_page_is_not_stored_but_static_files_may_be(anonymous):
    assert anonymous.get("/login").headers["Cache-Control"] == "no-store"
    assert "no-store" not in anonymous.get("/static/console.css").headers.get("Cache-Control", "")


def directives(policy: str) -> dict[str, list[str]]:
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


@pytest.mark.parametrize("path", AUTHENTICATED_PAGES + ["/static/console.css"])
def test_every_response_carries_the_content_security_policy(admin, people, path):
    policy = directives(admin.get(path).headers["Content-Security-Policy"])
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"] and policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert "'unsafe-inline'" not in policy["style-src"] and "'unsafe-eval'" not in " ".join(sum(policy.values(), []))


def test_the_login_page_and_refusals_carry_it_too(anonymous):
    assert "script-src 'self'" in anonymous.get("/login").headers["Content-Security-Policy"]
    assert (
        "script-src 'self'" in anonymous.client.post("/login", data={}).headers["Content-Security-Policy"]
    )  # 400, no token


class InlineFinder(HTMLParser):
    """What a CSP without 'unsafe-inline' would block: inline scripts, event handlers, javascript: URLs, <style>."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []
        self.style_attributes: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script":
            self._in_script = True
            if not attributes.get("src"):
                self.found.append("<script> without src")
        if tag == "style":
            self.found.append("<style> element")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"{tag} {name}=")
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.found.append(f"{tag} {name}=javascript:")
            if name == "style":
                self.style_attributes.append(f"{tag} style={value!r}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.found.append("inline script text")


def inline_code(page: str) -> InlineFinder:
    finder = InlineFinder()
    finder.feed(page)
    return finder


def test_no_host_page_has_inline_script_or_style(app, admin, anonymous, people):
    pages = {"/login": anonymous.get("/login").text}
    pages.update({path: admin.get(path).text for path in AUTHENTICATED_PAGES})
    pages["users?flash"] = admin.post("/users/alice/lock", {"locked": "1"}, follow_redirects=True).text
    for path, page in pages.items():
        finder = inline_code(page)
        assert finder.found == [], path
        assert finder.style_attributes == [], path  # the host moved its own inline styles into console.css


def test_the_finder_finds_what_the_policy_would_block():
    finder = inline_code(
        '<script>alert(1)</script><a href="javascript:x()" onclick="y()">a</a><div style="color:red"></div>'
    )
    assert sorted(finder.found) == sorted(
        ["<script> without src", "inline script text", "a onclick=", "a href=javascript:"]
    )
    assert finder.style_attributes == ["div style='color:red'"]


def test_the_real_plugins_pages_have_no_inline_script(directory, tmp_path):
    """The Google Apps Synchronization pages on a fresh install, in this host."""
    from app_google_sync import GoogleSync

    config = tmp_path / "google_sync.conf"
    config.write_text(
        f"[ldap]\nuri = {directory.uri}\nbase_dn = {directory.suffix}\n\n[google]\n\n[sync]\nstate_dir = {tmp_path / 'state'}\n"
    )
    config.chmod(0o600)
    app = create_app(
        host_config(
            directory,
            CONSOLE_PLUGINS=[GoogleSync()],
            GOOGLE_SYNC_CONFIG=str(config),
            GOOGLE_SYNC_SECRETS_DIR=str(tmp_path / "secrets"),
            GOOGLE_SYNC_RUN_SCHEDULER=False,
        )
    )
    try:
        admin = Browser(app.test_client())
        assert admin.login().status_code == 302
        for path in (
            "/",
            "/settings",
            "/check",
            "/test",
            "/automatic",
            "/history",
            "/objects",
            "/groups",
            "/attributes",
            "/import",
        ):
            response = admin.get("/app/google_sync" + path)
            assert response.status_code == 200, path
            assert response.headers["Cache-Control"] == "no-store"
            assert "script-src 'self'" in response.headers["Content-Security-Policy"]
            assert inline_code(response.text).found == [], path
    finally:
        app.extensions["google_sync"].shutdown()
