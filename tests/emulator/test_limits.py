"""Quota, injected failures, latency, the call record, and state persistence."""

import time

import pytest
from emulator_helpers import Batch, credentials, directory, error_of, user_body
from googleapiclient.errors import HttpError

from app_google_sync.emulator.server import Emulator


def test_quota_exhausted_then_recovers_after_window(emu, clock, service):
    emu.quota_per_window, emu.quota_window = 5, 0.5
    for _ in range(5):
        service.users().get(userKey="admin@example.com").execute()
    with pytest.raises(HttpError) as raised:
        service.users().get(userKey="admin@example.com").execute()
    status, reason, message = error_of(raised)
    assert (status, reason) == (403, "userRateLimitExceeded")
    assert message.startswith("Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user'")
    clock.advance(0.5)
    service.users().get(userKey="admin@example.com").execute()
    assert [c["status"] for c in emu.calls] == [200] * 5 + [403, 200]


def test_quota_counts_batch_parts(emu, service, new_batch):
    emu.quota_per_window = 3
    batch = new_batch()
    for number in range(5):
        batch.add(service.users().get(userKey="admin@example.com"), request_id=str(number))
    results = batch.execute()
    refused = [error_of(e)[1] for _, e in results.values() if e is not None]
    assert refused == ["userRateLimitExceeded"] * 2


def test_fail_next_then_success(emu, service):
    emu.fail_next(2)
    for _ in range(2):
        with pytest.raises(HttpError) as raised:
            service.users().get(userKey="admin@example.com").execute()
        status, reason, _ = error_of(raised)
        assert (status, reason) == (503, "backendError")
    service.users().get(userKey="admin@example.com").execute()
    emu.fail_next(1, status=429, reason="rateLimitExceeded")
    with pytest.raises(HttpError) as raised:
        service.users().get(userKey="admin@example.com").execute()
    assert error_of(raised)[:2] == (429, "rateLimitExceeded")


def test_client_retries_recover_from_injected_503(emu, service):
    emu.fail_next(1)
    request = service.users().get(userKey="admin@example.com")
    request._sleep = lambda seconds: None  # the client's back-off, not needed here
    assert request.execute(num_retries=2)["isAdmin"]
    assert [c["status"] for c in emu.calls] == [503, 200]


def test_latency_added_per_request(emu, service):
    service.users().get(userKey="admin@example.com").execute()
    emu.latency = 0.1
    started = time.monotonic()
    service.users().get(userKey="admin@example.com").execute()
    assert time.monotonic() - started >= 0.1


def test_calls_record_method_path_query_status(emu, service):
    service.users().list(customer="my_customer", maxResults=10).execute()
    with pytest.raises(HttpError):
        service.users().get(userKey="ghost@example.com").execute()
    first, second = emu.calls
    assert (first["method"], first["path"], first["status"], first["batch"]) == (
        "GET",
        "/admin/directory/v1/users",
        200,
        False,
    )
    assert first["query"]["customer"] == "my_customer" and first["query"]["maxResults"] == "10"
    assert (second["path"], second["status"]) == ("/admin/directory/v1/users/ghost@example.com", 404)
    emu.reset_calls()
    assert emu.calls == [] and emu.token_calls == []


def test_seeding_is_not_recorded_or_charged(emu):
    emu.quota_per_window = 1
    emu.add_user("a@example.com", "A", "B")
    emu.add_group("g@example.com", "G")
    emu.add_member("g@example.com", "a@example.com")
    assert emu.calls == []
    assert emu.members("g@example.com") == ["a@example.com"]


def test_unknown_query_parameter_is_400(emu, key):
    service = directory(emu, credentials(key))
    request = service.users().get(userKey="admin@example.com")
    request.uri += "&projektion=full"
    with pytest.raises(HttpError) as raised:
        request.execute()
    assert error_of(raised)[0] == 400


def test_state_file_keeps_account_across_restarts(tmp_path, session_key):
    path = str(tmp_path / "state.json")
    first = Emulator(state_file=path).start()
    try:
        key = dict(session_key, token_uri=first.token_uri)
        first.register_service_account(key)
        service = directory(first, credentials(key))
        service.users().insert(body=user_body("kept@example.com", password="keep me please")).execute()
        service.groups().insert(body={"email": "kept-group@example.com", "name": "Kept"}).execute()
        customer = first.customer_id
    finally:
        first.stop()
    second = Emulator(state_file=path).start()
    try:
        assert second.customer_id == customer
        assert second.check_password("kept@example.com", "keep me please")
        key = dict(session_key, token_uri=second.token_uri)  # the key was saved too: no register
        service = directory(second, credentials(key))
        assert service.users().get(userKey="kept@example.com").execute()["primaryEmail"] == "kept@example.com"
        assert [g["email"] for g in second.groups()] == ["kept-group@example.com"]
    finally:
        second.stop()


def test_refuses_non_loopback_unless_allowed():
    with pytest.raises(ValueError):
        Emulator().start(host="0.0.0.0", port=0)


def test_batch_changes_are_saved(tmp_path, session_key):
    path = str(tmp_path / "state.json")
    first = Emulator(state_file=path).start()
    try:
        key = dict(session_key, token_uri=first.token_uri)
        first.register_service_account(key)
        service = directory(first, credentials(key))
        batch = Batch(first, credentials(key))
        for number in range(3):
            batch.add(service.users().insert(body=user_body("b%d@example.com" % number)))
        batch.execute()
    finally:
        first.stop()
    assert [u["primaryEmail"] for u in Emulator(state_file=path).users()] == [
        "admin@example.com",
        "b0@example.com",
        "b1@example.com",
        "b2@example.com",
    ]


def test_state_file_of_another_domain_is_refused(tmp_path):
    path = str(tmp_path / "state.json")
    Emulator(domain="example.com", state_file=path)
    with pytest.raises(ValueError):
        Emulator(domain="example.org", admin_email="admin@example.org", state_file=path)
