"""The OAuth 2.0 web-server flow, driven by google-auth-oauthlib's Flow and a plain HTTP 'browser'."""

import base64
import json
import urllib.parse
from pathlib import Path

import pytest
from emulator_helpers import (
    ADMIN,
    GROUP_SCOPE,
    SETTINGS_SCOPE,
    USER_SCOPE,
    directory,
    error_of,
    groups_settings,
    http_call,
    query_of,
    raw,
    sign_in,
)
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request
from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import Flow
from googleapiclient.errors import HttpError
from oauthlib.oauth2.rfc6749.errors import InvalidClientError, InvalidGrantError, OAuth2Error

from app_google_sync.emulator.server import Emulator

PASSWORD = "admin-Pa55word"
REDIRECT = "http://127.0.0.1:8081/google/callback"
SCOPES = [USER_SCOPE, GROUP_SCOPE, SETTINGS_SCOPE]


@pytest.fixture(autouse=True)
def insecure_transport(monkeypatch):
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the emulator is plain-HTTP loopback


@pytest.fixture
def emu():
    emulator = Emulator(domain="example.com", admin_email=ADMIN, admin_password=PASSWORD).start()
    yield emulator
    emulator.stop()


@pytest.fixture
def client(emu):
    return emu.create_oauth_client([REDIRECT], name="Google Sync console")


def new_flow(client, scopes=SCOPES, redirect_uri=REDIRECT):
    return Flow.from_client_config(client, scopes, redirect_uri=redirect_uri)


def connect(client, email=ADMIN, password=PASSWORD, scopes=SCOPES, **auth_kwargs):
    """The console's "Connect to Google": returns (flow, callback query, token response)."""
    flow = new_flow(client, scopes)
    auth_kwargs.setdefault("access_type", "offline")
    auth_kwargs.setdefault("prompt", "consent")
    url, state = flow.authorization_url(**auth_kwargs)
    status, location, page = sign_in(url, email, password)
    assert status == 302, page
    assert location.startswith(REDIRECT + "?")
    callback = query_of(location)
    assert callback["state"] == state
    return flow, callback, flow.fetch_token(code=callback["code"])


def token_request(emu, form, basic=None):
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if basic:
        headers["Authorization"] = "Basic " + base64.b64encode(("%s:%s" % basic).encode()).decode()
    status, _, body = raw("POST", emu.token_uri, urllib.parse.urlencode(form).encode(), headers)
    return status, body


def authorized_user_info(client, refresh_token):
    web = client["web"]
    return {
        "type": "authorized_user",
        "client_id": web["client_id"],
        "client_secret": web["client_secret"],
        "refresh_token": refresh_token,
        "token_uri": web["token_uri"],
    }


def user_credentials(info, scopes=SCOPES):
    """What the tool must do with an authorized_user file: from_authorized_user_info always puts
    Google's token_uri in (see the test below), so the file's token_uri is set back afterwards."""
    return Credentials.from_authorized_user_info(info, scopes).with_token_uri(info["token_uri"])


def test_from_authorized_user_info_ignores_the_token_uri_of_the_file(emu, client):
    info = authorized_user_info(client, "1//0x")
    assert Credentials.from_authorized_user_info(info, SCOPES).token_uri == "https://oauth2.googleapis.com/token"
    assert user_credentials(info).token_uri == emu.token_uri


# the happy path ----------------------------------------------------------------------------------
def test_client_config_looks_like_cloud_console_download(emu, client):
    web = client["web"]
    assert web["client_id"].endswith(".apps.googleusercontent.com")
    assert web["client_id"].split("-")[0].isdigit()
    assert web["client_secret"].startswith("GOCSPX-")
    assert web["auth_uri"] == emu.base_url + "o/oauth2/auth"
    assert web["token_uri"] == emu.token_uri
    assert web["redirect_uris"] == [REDIRECT]


def test_connect_then_call_directory_and_groups_settings(emu, client):
    emu.add_group("staff@example.com", "Staff")
    flow, callback, token = connect(client)
    assert callback["scope"].split() == SCOPES
    assert callback["hd"] == "example.com"
    assert set(token["scope"]) == set(SCOPES)
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3599
    assert token["access_token"].startswith("ya29.") and token["refresh_token"].startswith("1//")
    assert "id_token" not in token
    creds = flow.credentials
    users = directory(emu, creds).users().list(customer="my_customer").execute()["users"]
    assert [u["primaryEmail"] for u in users] == [ADMIN]
    settings = groups_settings(emu, creds).groups().get(groupUniqueId="staff@example.com").execute()
    assert settings["kind"] == "groupsSettings#groups"
    assert [c["grant_type"] for c in emu.token_calls] == ["authorization_code"]
    assert emu.oauth_grants() == [{"client_id": client["web"]["client_id"], "subject": ADMIN, "scopes": SCOPES}]


def test_code_exchange_sends_secret_as_basic_and_pkce(emu, client):
    flow = new_flow(client)
    url, _ = flow.authorization_url(access_type="offline", prompt="consent")
    assert query_of(url)["code_challenge_method"] == "S256"
    code = query_of(sign_in(url, ADMIN, PASSWORD)[1])["code"]
    web = client["web"]
    status, body = token_request(
        emu,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": flow.code_verifier,
        },
        basic=(web["client_id"], web["client_secret"]),
    )
    assert status == 200
    assert list(body) == ["access_token", "expires_in", "refresh_token", "scope", "token_type"]


def test_client_secret_in_form_is_accepted(emu, client):
    web = client["web"]
    code = emu.authorize(web["client_id"], ADMIN, [USER_SCOPE], REDIRECT)
    status, body = token_request(
        emu,
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": web["client_id"],
            "client_secret": web["client_secret"],
        },
    )
    assert status == 200 and body["scope"] == USER_SCOPE


def test_tool_refreshes_with_authorized_user_info(emu, client):
    _, _, token = connect(client)
    creds = user_credentials(authorized_user_info(client, token["refresh_token"]))
    creds.refresh(Request())
    assert creds.valid and creds.token != token["access_token"]
    assert creds.refresh_token == token["refresh_token"]  # no new refresh token on refresh
    directory(emu, creds).users().get(userKey=ADMIN).execute()
    assert [c["grant_type"] for c in emu.token_calls] == ["authorization_code", "refresh_token"]
    status, body = token_request(
        emu, dict(authorized_user_info(client, token["refresh_token"]), grant_type="refresh_token")
    )
    assert status == 200 and "refresh_token" not in body
    assert body["scope"].split() == SCOPES


def test_refresh_may_narrow_but_not_widen_scopes(emu, client):
    emu.add_group("staff@example.com", "Staff")
    _, _, token = connect(client)
    narrow = user_credentials(authorized_user_info(client, token["refresh_token"]), [USER_SCOPE])
    service = directory(emu, narrow)
    service.users().get(userKey=ADMIN).execute()
    with pytest.raises(HttpError) as raised:
        service.groups().get(groupKey="staff@example.com").execute()
    assert error_of(raised)[:2] == (403, "insufficientPermissions")
    _, _, token = connect(client, scopes=[USER_SCOPE])
    info = authorized_user_info(client, token["refresh_token"])
    creds = user_credentials(info, [USER_SCOPE + ".readonly"])
    with pytest.raises(RefreshError, match="invalid_scope"):
        creds.refresh(Request())
    status, body = token_request(emu, dict(info, grant_type="refresh_token", scope=GROUP_SCOPE))
    assert (status, body["error"]) == (400, "invalid_scope")


def test_expired_access_token_is_refreshed_by_the_client(emu, client):
    _, _, token = connect(client)
    creds = user_credentials(authorized_user_info(client, token["refresh_token"]))
    service = directory(emu, creds)
    service.users().get(userKey=ADMIN).execute()
    emu.expire_tokens()
    service.users().get(userKey=ADMIN).execute()
    assert [c["status"] for c in emu.calls] == [200, 401, 200]


def test_refresh_token_only_on_first_consent_unless_prompt_consent(emu, client):
    _, _, first = connect(client, prompt="select_account")
    assert "refresh_token" in first
    _, _, second = connect(client, prompt="select_account")
    assert "refresh_token" not in second  # Google's behaviour: ask prompt=consent to get another
    _, _, third = connect(client, prompt="consent")
    assert "refresh_token" in third
    _, _, online = connect(client, access_type="online")
    assert "refresh_token" not in online
    assert len(emu.oauth_grants()) == 2


def test_authorize_helper_and_state_file_keep_grants(tmp_path):
    state = str(tmp_path / "state.json")
    emu = Emulator(state_file=state, admin_password=PASSWORD).start()
    try:
        client = emu.create_oauth_client([REDIRECT])
        web = client["web"]
        code = emu.authorize(web["client_id"], ADMIN, SCOPES, REDIRECT)
        status, body = token_request(
            emu,
            {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
            basic=(web["client_id"], web["client_secret"]),
        )
        assert status == 200
    finally:
        emu.stop()
    saved = Path(state).read_text(encoding="utf-8")
    assert body["refresh_token"] not in saved and web["client_secret"] not in saved
    emu = Emulator(state_file=state).start()
    try:
        info = dict(authorized_user_info(client, body["refresh_token"]), token_uri=emu.token_uri)
        creds = user_credentials(info)
        creds.refresh(Request())
        directory(emu, creds).users().get(userKey=ADMIN).execute()
    finally:
        emu.stop()


def test_authorize_helper_refuses_what_the_endpoint_refuses(emu, client):
    web = client["web"]
    with pytest.raises(ValueError, match="redirect_uri_mismatch"):
        emu.authorize(web["client_id"], ADMIN, SCOPES, "http://127.0.0.1:9/other")
    with pytest.raises(ValueError, match="invalid_scope"):
        emu.authorize(web["client_id"], ADMIN, ["https://www.googleapis.com/auth/nonsense"], REDIRECT)
    with pytest.raises(ValueError, match="no active user"):
        emu.authorize(web["client_id"], "nobody@example.com", SCOPES, REDIRECT)


# the consent page ------------------------------------------------------------------------------------
def test_consent_page_lists_scopes_and_is_escaped(emu):
    client = emu.create_oauth_client([REDIRECT], name='<script>alert("x")</script>')
    url, _ = new_flow(client).authorization_url(access_type="offline", prompt="consent", login_hint='"><b>hint')
    status, headers, page = http_call("GET", url)
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert "no-store" in headers["Cache-Control"] and headers["X-Frame-Options"] == "DENY"
    assert "Sign in with Google" in page and 'type="password"' in page
    assert ">Allow</button>" in page and ">Cancel</button>" in page
    assert "View and manage the provisioning of users on your domain" in page
    assert SETTINGS_SCOPE in page
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<b>hint" not in page and "&quot;&gt;&lt;b&gt;hint" in page


def test_cancel_redirects_with_access_denied(emu, client):
    url, state = new_flow(client).authorization_url(access_type="offline", prompt="consent")
    status, location, _ = sign_in(url, "", "", action="cancel")
    assert status == 302
    assert query_of(location) == {"error": "access_denied", "state": state}
    assert emu.oauth_grants() == []


@pytest.mark.parametrize(
    "email, password, message",
    [
        (ADMIN, "wrong-password", "Wrong password."),
        ("nobody@example.com", PASSWORD, "Couldn&#x27;t find your Google Account"),
        ("stranger@elsewhere.org", PASSWORD, "Couldn&#x27;t find your Google Account"),
        ("off@example.com", "off-Pa55word", "suspended"),
    ],
)
def test_sign_in_refused_shows_the_page_again(emu, client, email, password, message):
    emu.add_user("off@example.com", "Off", "Line", password="off-Pa55word", suspended=True)
    url, _ = new_flow(client).authorization_url(access_type="offline", prompt="consent")
    status, location, page = sign_in(url, email, password)
    assert (status, location) == (200, None)
    assert message in page and 'role="alert"' in page


def test_users_sign_in_with_their_seeded_or_hashed_passwords(emu, client):
    import hashlib

    emu.add_user("bob@example.com", "Bob", "Builder", password="bob-Pa55word")
    emu.add_user(
        "sha@example.com", "Sha", "One", password=hashlib.sha1(b"sha-Pa55word").hexdigest(), hash_function="SHA-1"
    )
    for email, password in (("bob@example.com", "bob-Pa55word"), ("sha@example.com", "sha-Pa55word")):
        url, _ = new_flow(client).authorization_url(access_type="offline", prompt="consent")
        assert sign_in(url, email, password)[0] == 302


def test_request_id_is_single_use(emu, client):
    url, _ = new_flow(client).authorization_url(access_type="offline", prompt="consent")
    _, _, page = http_call("GET", url)
    request_id = page.split('name="request" value="')[1].split('"')[0]
    form = urllib.parse.urlencode({"request": request_id, "email": ADMIN, "password": PASSWORD, "action": "allow"})
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    assert http_call("POST", emu.base_url + "o/oauth2/approval", form, headers)[0] == 302
    status, _, page = http_call("POST", emu.base_url + "o/oauth2/approval", form, headers)
    assert status == 400 and "Error 400: invalid_request" in page


def auth_error(emu, client, **overrides):
    query = {
        "client_id": client["web"]["client_id"],
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": USER_SCOPE,
        "state": "s1",
    }
    query.update(overrides)
    query = {k: v for k, v in query.items() if v is not None}
    status, headers, page = http_call("GET", emu.base_url + "o/oauth2/auth?" + urllib.parse.urlencode(query))
    assert "Location" not in headers  # errors about the request itself are never sent to the app
    return status, page


@pytest.mark.parametrize(
    "overrides, status, error",
    [
        ({"client_id": "123-unknown.apps.googleusercontent.com"}, 401, "invalid_client"),
        ({"client_id": None}, 400, "invalid_request"),
        ({"redirect_uri": "http://127.0.0.1:8081/elsewhere"}, 400, "redirect_uri_mismatch"),
        ({"redirect_uri": REDIRECT + "/"}, 400, "redirect_uri_mismatch"),
        ({"redirect_uri": None}, 400, "invalid_request"),
        ({"scope": "https://www.googleapis.com/auth/admin.directory.nonsense"}, 400, "invalid_scope"),
        ({"scope": None}, 400, "invalid_request"),
        ({"response_type": None}, 400, "invalid_request"),
        ({"response_type": "token id_token"}, 400, "unsupported_response_type"),
        ({"code_challenge": "short", "code_challenge_method": "S256"}, 400, "invalid_request"),
        ({"code_challenge": "x" * 43, "code_challenge_method": "S512"}, 400, "invalid_request"),
        ({"client_secret": "GOCSPX-leaked"}, 400, "invalid_request"),
        ({"access_type": "forever"}, 400, "invalid_request"),
    ],
)
def test_bad_authorization_requests_get_googles_error_page(emu, client, overrides, status, error):
    got_status, page = auth_error(emu, client, **overrides)
    assert got_status == status
    assert "Error %d: %s" % (status, error) in page
    assert "Access blocked" in page


def test_invalid_scope_page_names_the_invalid_scope(emu, client):
    bogus = "https://www.googleapis.com/auth/bogus"
    _, page = auth_error(emu, client, scope=USER_SCOPE + " " + bogus)
    assert "invalid=[%s]" % bogus in page and "valid=[%s]" % USER_SCOPE in page


def test_prompt_none_needs_a_session_the_emulator_never_has(emu, client):
    url, state = new_flow(client).authorization_url(prompt="none")
    status, headers, _ = http_call("GET", url)
    assert status == 302
    assert query_of(headers["Location"]) == {"error": "login_required", "state": state}


def test_http_redirect_uri_allowed_on_loopback_only(emu):
    emu.create_oauth_client(["http://localhost:8080/cb", "http://[::1]:81/cb", "https://sync.example.org/cb"])
    for bad in ("http://sync.example.org/cb", "https://sync.example.org/cb#frag", "/relative", "https://*.x.org/"):
        with pytest.raises(ValueError):
            emu.create_oauth_client([bad])


# the token endpoint refuses -------------------------------------------------------------------------
def started_flow(client):
    flow = new_flow(client)
    url, _ = flow.authorization_url(access_type="offline", prompt="consent")
    return flow, query_of(sign_in(url, ADMIN, PASSWORD)[1])["code"]


def test_wrong_client_secret_is_401_invalid_client(emu, client):
    wrong = {"web": dict(client["web"], client_secret="GOCSPX-not-the-secret")}
    flow, code = started_flow(client)
    bad_flow = new_flow(wrong)
    bad_flow.code_verifier = flow.code_verifier
    with pytest.raises(InvalidClientError):
        bad_flow.fetch_token(code=code)
    web = client["web"]
    status, body = token_request(
        emu,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        basic=(web["client_id"], "GOCSPX-nope"),
    )
    assert (status, body) == (401, {"error": "invalid_client", "error_description": "Unauthorized"})
    flow.fetch_token(code=code)  # a refused client did not spend the code


def test_unknown_client_is_401(emu, client):
    status, body = token_request(
        emu, {"grant_type": "authorization_code", "code": "4/0Ax"}, basic=("1-x.apps.googleusercontent.com", "s")
    )
    assert (status, body["error"], body["error_description"]) == (
        401,
        "invalid_client",
        "The OAuth client was not found.",
    )


def test_code_is_single_use(emu, client):
    flow, code = started_flow(client)
    flow.fetch_token(code=code)
    with pytest.raises(InvalidGrantError):
        flow.fetch_token(code=code)
    assert [c["status"] for c in emu.token_calls] == [200, 400]


def test_pkce_mismatch_and_missing_verifier_refused(emu, client):
    flow, code = started_flow(client)
    flow.code_verifier = "A" * 64
    with pytest.raises(InvalidGrantError, match="Invalid code verifier"):
        flow.fetch_token(code=code)
    web = client["web"]
    flow, code = started_flow(client)
    status, body = token_request(
        emu,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        basic=(web["client_id"], web["client_secret"]),
    )
    assert (status, body["error"]) == (400, "invalid_grant")
    assert body["error_description"] == "Missing code verifier."
    with pytest.raises(InvalidGrantError):  # the failed attempt spent the code
        flow.fetch_token(code=code)


def test_verifier_without_challenge_refused(emu, client):
    web = client["web"]
    code = emu.authorize(web["client_id"], ADMIN, SCOPES, REDIRECT)
    status, body = token_request(
        emu,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "code_verifier": "v" * 50},
        basic=(web["client_id"], web["client_secret"]),
    )
    assert (status, body["error"]) == (400, "invalid_request")


def test_redirect_uri_must_match_the_authorization_request(emu):
    other = "http://127.0.0.1:8081/other/callback"
    client = emu.create_oauth_client([REDIRECT, other])
    flow, code = started_flow(client)
    flow.redirect_uri = other
    with pytest.raises(OAuth2Error) as raised:
        flow.fetch_token(code=code)
    assert raised.value.error == "redirect_uri_mismatch"


def test_code_of_another_client_refused(emu, client):
    other = emu.create_oauth_client([REDIRECT])["web"]
    _, code = started_flow(client)
    status, body = token_request(
        emu,
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        basic=(other["client_id"], other["client_secret"]),
    )
    assert (status, body["error"]) == (400, "invalid_grant")


def test_refresh_token_is_bound_to_its_client(emu, client):
    _, _, token = connect(client)
    other = emu.create_oauth_client([REDIRECT])
    info = authorized_user_info(other, token["refresh_token"])
    with pytest.raises(RefreshError, match="unauthorized_client"):
        user_credentials(info).refresh(Request())


def test_grant_of_a_deleted_user_dies_even_if_the_address_comes_back(emu, client):
    emu.add_user("temp@example.com", "Tem", "Porary", password="temp-Pa55word", is_admin=True)
    _, _, token = connect(client, email="temp@example.com", password="temp-Pa55word")
    admin = directory(emu, user_credentials(authorized_user_info(client, connect(client)[2]["refresh_token"])))
    admin.users().delete(userKey="temp@example.com").execute()
    emu.add_user("temp@example.com", "Tem", "Porary", password="temp-Pa55word", is_admin=True)
    creds = user_credentials(authorized_user_info(client, token["refresh_token"]))
    with pytest.raises(RefreshError, match="invalid_grant"):
        creds.refresh(Request())


# authorization of API calls ------------------------------------------------------------------------
def test_non_admin_user_is_forbidden_on_directory_calls(emu, client):
    emu.add_user("bob@example.com", "Bob", "Builder", password="bob-Pa55word")
    flow, _, _ = connect(client, email="bob@example.com", password="bob-Pa55word")
    with pytest.raises(HttpError) as raised:
        directory(emu, flow.credentials).users().list(customer="my_customer").execute()
    assert error_of(raised) == (403, "forbidden", "Not Authorized to access this resource/api")


def test_unconsented_scope_is_insufficient_permissions(emu, client):
    emu.add_group("staff@example.com", "Staff")
    flow, _, _ = connect(client, scopes=[USER_SCOPE])
    with pytest.raises(HttpError) as raised:
        directory(emu, flow.credentials).groups().list(customer="my_customer").execute()
    assert error_of(raised)[:2] == (403, "insufficientPermissions")
    with pytest.raises(HttpError) as raised:
        groups_settings(emu, flow.credentials).groups().get(groupUniqueId="staff@example.com").execute()
    assert error_of(raised)[:2] == (403, "insufficientPermissions")


# revocation ("Disconnect") -------------------------------------------------------------------------
def revoke(emu, token, in_query=True):
    if in_query:
        return raw(
            "POST",
            emu.base_url + "revoke?token=" + urllib.parse.quote(token),
            b"",
            {"Content-Type": "application/x-www-form-urlencoded"},
        )
    return raw(
        "POST",
        emu.base_url + "revoke",
        urllib.parse.urlencode({"token": token}).encode(),
        {"Content-Type": "application/x-www-form-urlencoded"},
    )


def test_revoking_the_refresh_token_kills_it_and_its_access_tokens(emu, client):
    flow, _, token = connect(client)
    service = directory(emu, flow.credentials)
    service.users().get(userKey=ADMIN).execute()
    status, _, body = revoke(emu, token["refresh_token"])
    assert (status, body) == (200, {})
    assert emu.oauth_grants() == []
    status, _, body = raw(
        "GET",
        emu.base_url + "admin/directory/v1/users/" + ADMIN,
        headers={"Authorization": "Bearer " + token["access_token"]},
    )
    assert status == 401
    creds = user_credentials(authorized_user_info(client, token["refresh_token"]))
    with pytest.raises(RefreshError, match="Token has been expired or revoked"):
        creds.refresh(Request())
    status, _, body = revoke(emu, token["refresh_token"])
    assert (status, body) == (400, {"error": "invalid_token", "error_description": "Token expired or revoked"})


def test_revoking_an_access_token_revokes_its_refresh_token(emu, client):
    _, _, token = connect(client)
    assert revoke(emu, token["access_token"], in_query=False)[0] == 200
    status, body = token_request(
        emu, dict(authorized_user_info(client, token["refresh_token"]), grant_type="refresh_token")
    )
    assert (status, body) == (
        400,
        {"error": "invalid_grant", "error_description": "Token has been expired or revoked."},
    )


def test_revoking_one_grant_leaves_the_others(emu, client):
    _, _, first = connect(client)
    _, _, second = connect(client)
    revoke(emu, first["refresh_token"])
    info = authorized_user_info(client, second["refresh_token"])
    user_credentials(info).refresh(Request())
    assert len(emu.oauth_grants()) == 1


def test_unknown_grant_type_refused(emu):
    status, body = token_request(emu, {"grant_type": "password", "username": ADMIN, "password": PASSWORD})
    assert (status, body["error"]) == (400, "unsupported_grant_type")


def test_token_answers_are_not_cached(emu, client):
    web = client["web"]
    code = emu.authorize(web["client_id"], ADMIN, SCOPES, REDIRECT)
    form = urllib.parse.urlencode(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": web["client_id"],
            "client_secret": web["client_secret"],
        }
    )
    status, headers, text = http_call(
        "POST", emu.token_uri, form, {"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert status == 200 and "no-store" in headers["Cache-Control"]
    assert json.loads(text)["token_type"] == "Bearer"
