"""The token endpoint (JWT-bearer grant) and the bearer/scope/admin checks on API calls."""

import time
import urllib.parse

import pytest
from emulator_helpers import ADMIN, GROUP_SCOPE, MEMBER_SCOPE, USER_SCOPE, credentials, directory, error_of, raw
from google.auth import crypt, jwt
from google.auth.exceptions import RefreshError
from google.auth.transport.requests import Request
from google.oauth2 import service_account

from app_google_sync.emulator.server import Emulator

GOOGLE_AUD = "https://oauth2.googleapis.com/token"


def assertion(key, **claims):
    now = int(time.time())
    payload = {
        "iss": key["client_email"],
        "sub": ADMIN,
        "scope": USER_SCOPE,
        "aud": GOOGLE_AUD,
        "iat": now,
        "exp": now + 3600,
    }
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(crypt.RSASigner.from_service_account_info(key), payload).decode()


def grant(emu, token):
    form = urllib.parse.urlencode(
        {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": token}
    ).encode()
    status, _, body = raw("POST", emu.token_uri, form, {"Content-Type": "application/x-www-form-urlencoded"})
    return status, body


def test_token_granted_to_delegated_service_account(emu, key):
    creds = service_account.Credentials.from_service_account_info(key, scopes=[USER_SCOPE], subject=ADMIN)
    creds.refresh(Request())
    assert creds.token.startswith("ya29.")
    assert creds.valid
    status, body = grant(emu, assertion(key))
    assert status == 200
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3599
    assert emu.token_calls and emu.calls == []


def test_token_accepts_emulator_token_uri_as_audience(emu, key):
    assert grant(emu, assertion(key, aud=emu.token_uri))[0] == 200


def test_token_refused_for_bad_signature(emu, key):
    head, claims, signature = assertion(key).split(".")
    forged = assertion(key, sub="someone@example.com").split(".")[1]
    status, body = grant(emu, ".".join([head, forged, signature]))
    assert (status, body["error"]) == (400, "invalid_grant")
    assert body["error_description"] == "Invalid JWT Signature."


def test_token_refused_for_unknown_key(emu, key):
    stranger = Emulator().create_service_account()  # never registered with `emu`
    with pytest.raises(RefreshError):
        credentials(dict(stranger, token_uri=emu.token_uri)).refresh(Request())
    other_key_same_account = dict(stranger, client_email=key["client_email"], token_uri=emu.token_uri)
    status, body = grant(emu, assertion(other_key_same_account))
    assert (status, body["error"]) == (400, "invalid_grant")


@pytest.mark.parametrize("subject", ["nobody@example.com", "suspended@example.com"])
def test_token_refused_for_unknown_or_suspended_subject(emu, key, subject):
    emu.add_user("suspended@example.com", "Sus", "Pended", suspended=True)
    with pytest.raises(RefreshError, match="Invalid email or User ID"):
        credentials(key, subject=subject).refresh(Request())
    status, body = grant(emu, assertion(key, sub=subject))
    assert status == 400
    assert body == {"error": "invalid_grant", "error_description": "Invalid email or User ID"}


def test_token_refused_for_undelegated_scope(emu, session_key):
    key = dict(session_key, token_uri=emu.token_uri)
    emu.register_service_account(key, scopes=[USER_SCOPE])
    credentials(key, scopes=[USER_SCOPE]).refresh(Request())
    with pytest.raises(RefreshError, match="unauthorized_client"):
        credentials(key, scopes=[USER_SCOPE, GROUP_SCOPE]).refresh(Request())
    status, body = grant(emu, assertion(key, scope=GROUP_SCOPE))
    assert status == 401 and body["error"] == "unauthorized_client"


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "https://example.org/token"},
        {"iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600},
        {"exp": int(time.time()) + 7200},
        {"exp": None},
    ],
)
def test_token_refused_for_bad_claims(emu, key, claims):
    status, body = grant(emu, assertion(key, **claims))
    assert (status, body["error"]) == (400, "invalid_grant")


def test_token_refused_for_other_grant_types(emu, key):
    form = urllib.parse.urlencode({"grant_type": "client_credentials"}).encode()
    status, _, body = raw("POST", emu.token_uri, form, {"Content-Type": "application/x-www-form-urlencoded"})
    assert (status, body["error"]) == (400, "unsupported_grant_type")


def test_api_call_without_or_with_unknown_token_is_401(emu):
    url = emu.base_url + "admin/directory/v1/users?customer=my_customer"
    for headers in ({}, {"Authorization": "Bearer ya29.not-a-token"}):
        status, answer_headers, body = raw("GET", url, headers=headers)
        assert status == 401
        assert body["error"]["status"] == "UNAUTHENTICATED"
        assert body["error"]["message"].startswith("Request had invalid authentication credentials.")
        assert body["error"]["errors"] == [
            {
                "message": "Invalid Credentials",
                "domain": "global",
                "reason": "authError",
                "location": "Authorization",
                "locationType": "header",
            }
        ]
        assert answer_headers["WWW-Authenticate"].startswith("Bearer")
    assert [c["status"] for c in emu.calls] == [401, 401]


def test_missing_scope_is_403_insufficient_permissions(emu, key):
    service = directory(emu, credentials(key, scopes=[GROUP_SCOPE]))
    with pytest.raises(Exception) as raised:
        service.users().list(customer="my_customer").execute()
    status, reason, message = error_of(raised)
    assert (status, reason, message) == (
        403,
        "insufficientPermissions",
        "Request had insufficient authentication scopes.",
    )
    service.groups().list(customer="my_customer").execute()


def test_readonly_scope_reads_but_does_not_write(emu, key):
    service = directory(emu, credentials(key, scopes=[USER_SCOPE + ".readonly"]))
    service.users().get(userKey=ADMIN).execute()
    with pytest.raises(Exception) as raised:
        service.users().delete(userKey=ADMIN).execute()
    assert error_of(raised)[:2] == (403, "insufficientPermissions")


def test_member_scope_manages_members_but_not_groups(emu, key):
    emu.add_group("staff@example.com", "Staff")
    service = directory(emu, credentials(key, scopes=[MEMBER_SCOPE]))
    service.members().insert(groupKey="staff@example.com", body={"email": ADMIN}).execute()
    with pytest.raises(Exception) as raised:
        service.groups().delete(groupKey="staff@example.com").execute()
    assert error_of(raised)[:2] == (403, "insufficientPermissions")


def test_non_admin_subject_is_403_forbidden(emu, key):
    emu.add_user("bob@example.com", "Bob", "Builder")
    service = directory(emu, credentials(key, subject="bob@example.com"))
    with pytest.raises(Exception) as raised:
        service.users().list(customer="my_customer").execute()
    assert error_of(raised) == (403, "forbidden", "Not Authorized to access this resource/api")


def test_expired_tokens_are_refreshed_by_the_client(emu, service):
    service.users().get(userKey=ADMIN).execute()
    emu.expire_tokens()
    service.users().get(userKey=ADMIN).execute()
    assert [c["status"] for c in emu.calls] == [200, 401, 200]
    assert len(emu.token_calls) == 2


def test_a_deleted_key_and_a_deleted_account_are_refused_as_google_words_it(emu):
    kept, deleted = emu.create_service_account(name="kept"), emu.create_service_account(name="gone")
    emu.delete_service_account_key(kept)
    status, body = grant(emu, assertion(kept))
    assert (status, body) == (400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
    emu.delete_service_account(deleted)
    status, body = grant(emu, assertion(deleted))
    assert (status, body) == (400, {"error": "invalid_grant", "error_description": "Invalid grant: account not found"})
