"""Login, logout, CSRF and session settings of the host console."""

from __future__ import annotations

import pytest
from host_helpers import ADMIN, ADMIN_HASH, ADMIN_PASSWORD, Browser, host_config

from app_google_sync.host import ConsoleConfigError, create_app

PAGES = [
    "/",
    "/users",
    "/users/new",
    "/users/alice/edit",
    "/users/alice/delete",
    "/groups",
    "/groups/new",
    "/groups/sales/edit",
    "/groups/sales/delete",
]
ACTIONS = [
    "/logout",
    "/users/new",
    "/users/alice/edit",
    "/users/alice/password",
    "/users/alice/lock",
    "/users/alice/delete",
    "/groups/new",
    "/groups/sales/edit",
    "/groups/sales/delete",
]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_sends_an_anonymous_visitor_to_the_login(anonymous, path):
    response = anonymous.get(path)
    assert response.status_code == 302
    assert response.location.startswith("/login?next=")


@pytest.mark.parametrize("path", ACTIONS)
def test_every_action_refuses_an_anonymous_visitor_even_with_a_token(anonymous, directory, path):
    directory.add_user("alice", "Alice", "Martin", password="Secret-pass-1")
    directory.add_group("sales", members=["alice"])
    response = anonymous.post(
        path, {"given_name": "Eve", "family_name": "X", "password": "x" * 10, "confirm": "x" * 10}
    )
    assert response.status_code == 302 and response.location.startswith("/login")
    assert directory.user_entry("alice")["givenName"] == [b"Alice"]


def test_the_static_stylesheet_needs_no_login(anonymous):
    response = anonymous.get("/static/console.css")
    assert response.status_code == 200 and b".btn-primary" in response.data


def test_right_credentials_log_in_and_follow_next(anonymous):
    response = anonymous.client.post(
        "/login?next=/groups", data={"username": ADMIN, "password": ADMIN_PASSWORD, "csrf_token": anonymous.token()}
    )
    assert response.status_code == 302 and response.location == "/groups"
    assert anonymous.get("/groups").status_code == 200


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"]
)
def test_login_never_redirects_off_site(anonymous, target):
    token = anonymous.token()
    response = anonymous.client.post(
        "/login",
        query_string={"next": target},
        data={"username": ADMIN, "password": ADMIN_PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 302 and response.location == "/"


@pytest.mark.parametrize(
    "raw_next",
    [
        "/x%0d%0ay",
        "/x%0d%0aSet-Cookie:%20session=stolen",
        "/x%0ay",
        "/x%0dy",
        "%0d%0a/x",
        "/%09/evil.example",
        "/x%00y",
        "/x%7fy",
        "/x%c2%85y",
        "/%20/evil.example",
        "/" + "a" * 5000,
    ],
)
def test_a_hostile_next_after_a_valid_login_goes_to_the_dashboard(anonymous, raw_next):
    """Control characters, a tab hiding '//', or a huge value: never a 500, never echoed into the Location header."""
    response = anonymous.client.post(
        f"/login?next={raw_next}", data={"username": ADMIN, "password": ADMIN_PASSWORD, "csrf_token": anonymous.token()}
    )
    assert response.status_code == 302 and response.location == "/"
    assert anonymous.get("/groups").status_code == 200


def test_an_ordinary_next_with_a_query_is_still_followed(anonymous):
    response = anonymous.client.post(
        "/login?next=/users%3Fpage%3D2",
        data={"username": ADMIN, "password": ADMIN_PASSWORD, "csrf_token": anonymous.token()},
    )
    assert response.status_code == 302 and response.location == "/users?page=2"


@pytest.mark.parametrize(
    "username, password", [(ADMIN, "wrong password"), ("root", ADMIN_PASSWORD), ("", ""), (ADMIN, "")]
)
def test_wrong_credentials_are_refused(anonymous, username, password):
    response = anonymous.login(username, password)
    assert response.status_code == 200
    assert "Wrong username or password." in response.text
    if password:
        assert password not in response.text
    assert anonymous.get("/users").status_code == 302


def test_logout_is_a_post_and_ends_the_session(admin):
    assert admin.get("/logout").status_code == 405
    assert admin.get("/users").status_code == 200
    response = admin.post("/logout")
    assert response.status_code == 302 and response.location == "/login"
    assert admin.get("/users").status_code == 302


def test_a_post_without_csrf_token_is_refused(anonymous, admin, directory):
    response = anonymous.client.post("/login", data={"username": ADMIN, "password": ADMIN_PASSWORD})
    assert response.status_code == 400
    assert anonymous.get("/").status_code == 302

    response = admin.client.post(
        "/users/new",
        data={
            "uid": "eve",
            "given_name": "Eve",
            "family_name": "Adams",
            "password": "Secret-pass-1",
            "confirm": "Secret-pass-1",
        },
    )
    assert response.status_code == 400
    assert "Form refused" in response.text
    with pytest.raises(KeyError):
        directory.user_dn("eve")

    response = admin.client.post("/logout", data={"csrf_token": "forged"})
    assert response.status_code == 400
    assert admin.get("/users").status_code == 200


def test_session_cookie_is_httponly_and_samesite_lax(app, anonymous):
    response = anonymous.login()
    cookie = next(value for value in response.headers.getlist("Set-Cookie") if value.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_pages_carry_the_csrf_meta_tag_the_user_and_a_logout_form(admin):
    page = admin.get("/users").text
    assert '<meta name="csrf-token" content="' in page
    assert f'<span class="who">{ADMIN}</span>' in page
    assert 'action="/logout"' in page and 'name="csrf_token"' in page
    assert ADMIN_HASH not in page and ADMIN_PASSWORD not in page


def test_security_headers(admin):
    headers = admin.get("/").headers
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("missing", ["SECRET_KEY", "CONSOLE_ADMIN_PASSWORD_HASH", "CONSOLE_LDAP_BASE_DN"])
def test_a_missing_setting_fails_at_start_naming_the_key(directory, missing):
    with pytest.raises(ConsoleConfigError, match=missing):
        create_app(host_config(directory, **{missing: None}))


def test_the_console_runs_without_a_directory(directory):
    config = host_config(directory, CONSOLE_LDAP_URI=None)
    browser = Browser(create_app(config).test_client())
    assert browser.login().status_code == 302
    dashboard = browser.get("/")
    assert dashboard.status_code == 200 and "/users" not in dashboard.text
    assert browser.get("/users").status_code == 503
