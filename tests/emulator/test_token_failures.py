"""A failing token endpoint, and access tokens that stop working mid-run."""

import urllib.parse

import pytest
from emulator_helpers import ADMIN, Batch, credentials, directory, raw
from google.auth.exceptions import RefreshError


def test_token_requests_fail_after_the_first_n(emu, key):
    emu.fail_tokens_after(1)
    service = directory(emu, credentials(key))
    service.users().get(userKey=ADMIN).execute()
    emu.expire_tokens()  # the client must come back for a new token, and cannot get one
    with pytest.raises(RefreshError) as raised:
        service.users().get(userKey=ADMIN).execute()
    assert str(raised.value).startswith("('invalid_grant: Invalid grant: account not found'")
    assert not raised.value.retryable
    assert [t["status"] for t in emu.token_calls] == [200, 400]
    assert [c["status"] for c in emu.calls] == [200, 401]

    emu.fail_tokens_after(None)
    service.users().get(userKey=ADMIN).execute()
    stats = emu.stats()
    assert (stats["token_requests"], stats["token_failures"]) == (3, 1)


def test_fail_tokens_switch(emu, key):
    emu.fail_tokens = True
    assert emu.fail_tokens
    with pytest.raises(RefreshError):
        directory(emu, credentials(key)).users().get(userKey=ADMIN).execute()
    emu.fail_tokens = False
    assert not emu.fail_tokens
    directory(emu, credentials(key)).users().get(userKey=ADMIN).execute()


def test_a_limited_number_of_failures_then_tokens_again(emu, key):
    emu.fail_tokens_after(0, times=2, status=401)
    for _ in range(2):
        with pytest.raises(RefreshError) as raised:
            directory(emu, credentials(key)).users().get(userKey=ADMIN).execute()
        assert "invalid_client" in str(raised.value)
    directory(emu, credentials(key)).users().get(userKey=ADMIN).execute()
    assert not emu.fail_tokens
    assert [t["status"] for t in emu.token_calls] == [401, 401, 200]


def test_batch_with_expired_tokens_cannot_refresh(emu, key):
    creds = credentials(key)
    service = directory(emu, creds)
    service.users().get(userKey=ADMIN).execute()
    emu.expire_tokens()
    emu.fail_tokens = True
    batch = Batch(emu, creds)
    batch.add(service.users().get(userKey=ADMIN))
    with pytest.raises(RefreshError):
        batch.execute()


@pytest.mark.parametrize("status, error", [(500, "internal_failure"), (503, "temporarily_unavailable")])
def test_server_side_token_failures(emu, status, error):
    # google-auth retries these itself (with real back-off), so they are checked on the wire.
    emu.fail_tokens_after(0, status=status)
    body = urllib.parse.urlencode(
        {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": "a.b.c"}
    ).encode()
    answer = raw("POST", emu.token_uri, body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert answer[0] == status and answer[2]["error"] == error
    assert answer[1]["Cache-Control"].startswith("no-cache")


def test_unknown_token_failure_status_is_refused(emu):
    with pytest.raises(ValueError):
        emu.fail_tokens_after(0, status=418)
