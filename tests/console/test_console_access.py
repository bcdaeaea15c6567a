"""Every page needs a logged-in administrator; every POST needs a CSRF token."""

import pytest
from console_helpers import ACCOUNTS, Console, csrf_token

from app_google_sync import __version__

PAGES = [
    "/",
    "/settings",
    "/check",
    "/test",
    "/automatic",
    "/history",
    "/history/1",
    "/objects",
    "/sync/abc",
    "/sync/abc/status",
    "/connect/oauth/callback",
    "/groups",
    "/groups/removed/sales@example.com/delete",
    "/attributes",
    "/import",
]
ACTIONS = [
    "/settings",
    "/settings/key",
    "/connect/oauth",
    "/disconnect",
    "/check",
    "/test",
    "/sync",
    "/automatic",
    "/groups",
    "/groups/removed/sales@example.com/delete",
    "/attributes",
    "/attributes/org-units",
    "/import",
]
PREFIX = "/app/google_sync"


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitor_is_sent_to_login(fresh_app, path):
    response = fresh_app.test_client().get(PREFIX + path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("path", ACTIONS)
def test_anonymous_post_is_refused(fresh_app, path):
    client = fresh_app.test_client()
    token = csrf_token(client, "/login")
    response = client.post(PREFIX + path, data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_a_logged_in_user_who_is_not_administrator_is_sent_to_login(fresh_app):
    client = fresh_app.test_client()
    token = csrf_token(client, "/login")
    client.post("/login", data={"username": "clerk", "password": ACCOUNTS["clerk"][0], "csrf_token": token})
    for path in PAGES:
        response = client.get(PREFIX + path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login"), path


@pytest.mark.parametrize("path", ACTIONS)
def test_post_without_csrf_token_is_refused(fresh_console, path):
    response = fresh_console.client.post(
        PREFIX + path,
        data={"domain": "example.com", "admin_email": "admin@example.com", "automatic": "yes", "interval": "60"},
    )
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)


def test_post_with_a_forged_token_is_refused(fresh_console):
    response = fresh_console.client.post(
        PREFIX + "/settings", data={"csrf_token": "forged", "domain": "evil.com", "admin_email": "a@evil.com"}
    )
    assert response.status_code == 400


def test_static_files_need_no_login(fresh_app):
    response = fresh_app.test_client().get(PREFIX + "/static/google_sync.css")
    assert response.status_code == 200
    response.close()


def test_pages_are_not_cached(fresh_console):
    assert fresh_console.get("/settings").headers["Cache-Control"] == "no-store"


def test_every_page_renders_for_an_administrator_on_a_fresh_install(fresh_console):
    for path in [
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
    ]:
        response = fresh_console.get(path)
        assert response.status_code == 200, path
        assert "Google Apps Synchronization" in response.get_data(as_text=True)
        assert f'<footer class="gs-footer">app-google-sync {__version__}</footer>' in response.get_data(as_text=True), (
            path
        )


def test_unknown_run_and_progress_are_404(fresh_console):
    assert fresh_console.get("/history/999").status_code == 404
    assert fresh_console.get("/sync/nope").status_code == 404
    assert fresh_console.get("/sync/nope/status").status_code == 404


def test_a_second_console_session_gets_its_own_token(fresh_app):
    first, second = Console(fresh_app), Console(fresh_app)
    assert first.token != second.token
