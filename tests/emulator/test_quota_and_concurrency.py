"""Quota per delegated subject (403 or 429), the concurrent-requests cap, and stats()."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from emulator_helpers import ADMIN, Batch, credentials, directory, error_of
from googleapiclient.errors import HttpError

from app_google_sync.emulator.errors import CONCURRENCY_MESSAGE, QUOTA_MESSAGE

SECOND = "second@example.com"


def get_admin(service):
    return service.users().get(userKey=ADMIN).execute()


def over_quota(service):
    with pytest.raises(HttpError) as raised:
        get_admin(service)
    return error_of(raised)


def test_quota_is_counted_per_delegated_subject(emu, clock, key):
    emu.add_user(SECOND, "Second", "Admin", is_admin=True)
    emu.quota_per_window = 2
    first, second = directory(emu, credentials(key)), directory(emu, credentials(key, subject=SECOND))
    for _ in range(2):
        get_admin(first)
    assert over_quota(first) == (403, "userRateLimitExceeded", QUOTA_MESSAGE)
    for _ in range(2):
        get_admin(second)  # another user: another window
    assert over_quota(second)[:2] == (403, "userRateLimitExceeded")
    clock.advance(60)
    get_admin(first)
    stats = emu.stats()
    assert (stats["accepted"], stats["rejected_quota"], stats["rejected"]) == (5, 2, 2)


def test_a_subject_named_by_an_alias_shares_its_users_window(emu, clock, key, service):
    service.users().aliases().insert(userKey=ADMIN, body={"alias": "boss@example.com"}).execute()
    emu.quota_per_window = 2
    get_admin(service)
    get_admin(service)
    assert over_quota(directory(emu, credentials(key, subject="boss@example.com")))[0] == 403


def test_quota_answers_429_rate_limit_exceeded_when_asked(emu, clock, service):
    emu.quota_per_window, emu.quota_status = 1, 429
    get_admin(service)
    assert over_quota(service) == (429, "rateLimitExceeded", QUOTA_MESSAGE)
    with pytest.raises(ValueError):
        emu.quota_status = 500


def test_every_batch_part_counts_against_its_subject(emu, clock, key, service):
    emu.add_user(SECOND, "Second", "Admin", is_admin=True)
    emu.quota_per_window = 3
    batch = Batch(emu, credentials(key))
    for number in range(5):
        batch.add(service.users().get(userKey=ADMIN), request_id=str(number))
    results = batch.execute()
    assert sorted(error_of(e)[1] for _, e in results.values() if e) == ["userRateLimitExceeded"] * 2
    get_admin(directory(emu, credentials(key, subject=SECOND)))
    assert (emu.stats()["accepted"], emu.stats()["rejected_quota"]) == (4, 2)


def test_too_many_concurrent_requests_answer_403_quota_exceeded(emu, key, service):
    get_admin(service)  # its token first
    emu.max_concurrent, emu.answer_delay = 2, 0.3

    def slow_call(_):
        return get_admin(directory(emu, credentials(key)))

    with ThreadPoolExecutor(max_workers=2) as pool:
        slow = list(map(pool.submit, [slow_call] * 2, range(2)))
        deadline = time.monotonic() + 5
        while emu.requests_in_flight < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        with pytest.raises(HttpError) as raised:
            get_admin(service)
        assert error_of(raised) == (403, "quotaExceeded", CONCURRENCY_MESSAGE)
        assert [future.result()["primaryEmail"] for future in slow] == [ADMIN, ADMIN]
    emu.answer_delay = 0
    get_admin(service)
    stats = emu.stats()
    assert (stats["rejected_concurrency"], stats["accepted"], stats["calls"]) == (1, 4, 5)
    assert [c["status"] for c in emu.calls].count(403) == 1 and emu.requests_in_flight == 0


def test_a_batch_envelope_is_one_request_in_flight(emu, service, new_batch):
    emu.max_concurrent = 1
    batch = new_batch()
    for number in range(5):
        batch.add(service.users().get(userKey=ADMIN), request_id=str(number))
    assert all(error is None for _, error in batch.execute().values())


def test_stats_start_at_zero_and_reset_with_the_calls(emu, service):
    assert set(emu.stats().values()) == {0}
    get_admin(service)
    assert (emu.stats()["http_requests"], emu.stats()["calls"], emu.stats()["token_requests"]) == (1, 1, 1)
    emu.reset_calls()
    assert set(emu.stats().values()) == {0}
