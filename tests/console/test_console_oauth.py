"""Connect to Google with the OAuth web flow (offline access, PKCE), against the emulator's authorization server."""

import base64
import hashlib
import json
import os
import stat
import urllib.parse
import zlib

import pytest
from console_helpers import Console, text_of

from app_google_sync.controllers.settings import pkce_verifier
from app_google_sync.libraries.google.google_target import SCOPES
from app_google_sync.libraries.settings import config_file

CALLBACK = "http://localhost/app/google_sync/connect/oauth/callback"


@pytest.fixture
def oauth_console(env, host_factory, tmp_path, monkeypatch):
    monkeypatch.delenv("OAUTHLIB_INSECURE_TRANSPORT", raising=False)
    client = env.emulator.create_oauth_client([CALLBACK], name="Server Console")
    client_path = tmp_path / "oauth-client.json"
    client_path.write_text(json.dumps(client))
    console = Console(host_factory(env.config_path, GOOGLE_SYNC_OAUTH_CLIENT=str(client_path)))
    console.client_config = client
    return console


def start(console):
    response = console.post("/connect/oauth")
    assert response.status_code == 302
    location = response.headers["Location"]
    return location, dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))


def approve(env, query):
    """What the administrator's browser brings back after signing in and allowing."""
    code = env.emulator.authorize(
        query["client_id"],
        "admin@example.com",
        query["scope"].split(),
        query["redirect_uri"],
        state=query["state"],
        code_challenge=query["code_challenge"],
    )
    return f"/app/google_sync/connect/oauth/callback?state={urllib.parse.quote(query['state'])}&code={urllib.parse.quote(code)}"


def test_connect_to_google_asks_offline_access_with_pkce(env, oauth_console):
    location, query = start(oauth_console)
    assert location.startswith(env.emulator.base_url + "o/oauth2/auth?")
    assert query["access_type"] == "offline" and query["prompt"] == "consent"
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) >= 43
    assert query["redirect_uri"] == CALLBACK
    assert set(query["scope"].split()) == set(SCOPES)
    assert query["login_hint"] == "admin@example.com"
    with oauth_console.client.session_transaction() as session:
        saved = session["google_sync_oauth"]
    assert saved == {"state": query["state"]}  # the PKCE verifier is not in the (readable) cookie session


def test_the_pkce_verifier_is_never_in_the_cookie_and_still_verifies(env, oauth_console):
    _, query = start(oauth_console)
    cookie = oauth_console.client.get_cookie("session").value
    payload = base64.urlsafe_b64decode(cookie.lstrip(".").split(".")[0] + "==")
    payload = zlib.decompress(payload) if cookie.startswith(".") else payload
    assert b"verifier" not in payload
    with oauth_console.app.test_request_context():
        verifier = pkce_verifier(query["state"])
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert query["code_challenge"] == challenge and verifier.encode() not in payload and len(verifier) == 43
    response = oauth_console.client.get(approve(env, query))  # the emulator checks the verifier against the challenge
    assert response.status_code == 302 and response.headers["Location"].endswith("/check")


@pytest.mark.parametrize("host", ["evil.example", "localhost:8443", "127.0.0.1"])
def test_an_unknown_host_header_never_becomes_the_redirect_uri(env, oauth_console, host):
    client = oauth_console.client
    client.set_cookie(
        "session", client.get_cookie("session").value, domain=host.partition(":")[0]
    )  # a browser at that host
    response = client.post(
        "/app/google_sync/connect/oauth", base_url=f"http://{host}", data={"csrf_token": oauth_console.token}
    )
    assert response.status_code == 302 and "/o/oauth2/auth" not in response.headers["Location"]
    text = text_of(client.get("/app/google_sync/settings", base_url=f"http://{host}"))
    assert (
        f"Not connected: this console was reached as {host}, which the OAuth client (GOOGLE_SYNC_OAUTH_CLIENT) does not "
        f"list: open the console at localhost, or add http://{host}/app/google_sync/connect/oauth/callback to the client's "
        "redirect URIs."
    ) in text


def test_a_client_without_redirect_uris_is_refused_in_one_line(env, host_factory, tmp_path, monkeypatch):
    client = env.emulator.create_oauth_client([CALLBACK], name="Server Console")
    client["web"].pop("redirect_uris")
    client_path = tmp_path / "oauth-client.json"
    client_path.write_text(json.dumps(client))
    console = Console(host_factory(env.config_path, GOOGLE_SYNC_OAUTH_CLIENT=str(client_path)))
    response = console.post("/connect/oauth")
    assert "/o/oauth2/auth" not in response.headers["Location"]
    assert (
        f"Not connected: the OAuth client (GOOGLE_SYNC_OAUTH_CLIENT) lists no redirect URI: add {CALLBACK} to it"
        in text_of(console.get("/settings"))
    )


def test_the_callback_stores_a_private_refresh_token_and_the_connection_works(env, oauth_console, tmp_path):
    _, query = start(oauth_console)
    response = oauth_console.client.get(approve(env, query))
    assert response.status_code == 302 and response.headers["Location"].endswith("/check")
    stored = tmp_path / "secrets" / "oauth-authorized-user.json"
    assert stat.S_IMODE(os.stat(stored).st_mode) == 0o600
    info = json.loads(stored.read_text())
    assert set(info) == {"type", "client_id", "client_secret", "refresh_token", "token_uri"}
    assert info["type"] == "authorized_user" and info["client_id"] == oauth_console.client_config["web"]["client_id"]
    assert config_file.read(str(env.config_path)).get("google", "credentials_file") == str(stored)
    assert not env.key_path.exists() or True  # the demo's own key file is not the console's to delete
    pages = [oauth_console.get("/settings"), oauth_console.get("/"), oauth_console.post("/check")]
    assert "All passed" in text_of(pages[-1])
    assert "Connected with a Google administrator account" in text_of(pages[0])
    for page in pages:
        body = page.get_data(as_text=True)
        assert info["refresh_token"] not in body and info["client_secret"] not in body


def test_disconnect_revokes_the_grant_and_removes_the_token(env, oauth_console, tmp_path):
    _, query = start(oauth_console)
    oauth_console.client.get(approve(env, query))
    assert len(env.emulator.oauth_grants()) == 1
    oauth_console.post("/disconnect")
    assert env.emulator.oauth_grants() == []
    assert not (tmp_path / "secrets" / "oauth-authorized-user.json").exists()
    assert "the refresh token was revoked" in text_of(oauth_console.get("/settings"))


def test_a_callback_with_a_foreign_state_is_refused(env, oauth_console):
    _, query = start(oauth_console)
    callback = approve(env, {**query, "state": "forged-state"})
    text = text_of(oauth_console.client.get(callback, follow_redirects=True))
    assert "does not belong to a connection started here" in text
    assert config_file.read(str(env.config_path)).get("google", "credentials_file") == str(env.key_path)


def test_a_refused_consent_changes_nothing(env, oauth_console):
    _, query = start(oauth_console)
    response = oauth_console.client.get(
        f"/app/google_sync/connect/oauth/callback?state={urllib.parse.quote(query['state'])}&error=access_denied",
        follow_redirects=True,
    )
    assert "Google did not grant access (access_denied). Nothing was changed." in text_of(response)
    assert config_file.read(str(env.config_path)).get("google", "credentials_file") == str(env.key_path)


def test_plain_http_is_allowed_only_for_a_loopback_token_server(monkeypatch):
    from app_google_sync.libraries.google.credentials import allow_plain_http_for

    monkeypatch.delenv("OAUTHLIB_INSECURE_TRANSPORT", raising=False)
    allow_plain_http_for("http://token.example.com/token")
    assert "OAUTHLIB_INSECURE_TRANSPORT" not in os.environ
    allow_plain_http_for("https://oauth2.googleapis.com/token")
    assert "OAUTHLIB_INSECURE_TRANSPORT" not in os.environ
    allow_plain_http_for("http://[::1]:8080/token")
    assert os.environ["OAUTHLIB_INSECURE_TRANSPORT"] == "1"
