"""Answers lost after the work is done: late ones, and connections closed without one."""

import http.client
import time

import google_auth_httplib2
import httplib2
import pytest
from emulator_helpers import ADMIN, credentials, error_of, user_body
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError


def impatient_directory(emu, key, timeout):
    http = google_auth_httplib2.AuthorizedHttp(credentials(key), http=httplib2.Http(timeout=timeout))
    return build(
        "admin",
        "directory_v1",
        http=http,
        client_options={"api_endpoint": emu.base_url},
        static_discovery=True,
        cache_discovery=False,
    )


def test_late_answer_times_out_but_the_work_is_done(emu, key):
    service = impatient_directory(emu, key, timeout=0.1)
    service.users().get(userKey=ADMIN).execute()  # the token, before answers slow down
    emu.answer_delay = 0.4
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        service.users().insert(body=user_body("late@example.com")).execute()
    assert time.monotonic() - started < 0.4  # the server still holds the answer...
    assert emu.get_user("late@example.com") is not None  # ...of a change already made
    assert emu.stats()["answers_delayed"] == 1


def test_dropped_answer_is_sent_again_by_httplib2_and_the_replay_conflicts(emu, service):
    service.users().get(userKey=ADMIN).execute()
    emu.drop_answers_after(0, times=1)
    with pytest.raises(HttpError) as raised:
        service.users().insert(body=user_body("twice@example.com")).execute()
    # httplib2 resends a request whose connection closed unanswered: the user exists already
    assert error_of(raised) == (409, "duplicate", "Entity already exists.")
    assert [c["status"] for c in emu.write_calls()] == [200, 409]
    assert emu.get_user("twice@example.com") is not None
    assert emu.stats()["answers_dropped"] == 1


def test_answers_dropped_after_the_first_n(emu, service):
    emu.drop_answers_after(2)
    for _ in range(2):
        service.users().get(userKey=ADMIN).execute()
    with pytest.raises(http.client.HTTPException):  # RemoteDisconnected, after httplib2's own resend
        service.users().get(userKey=ADMIN).execute()
    emu.drop_answers_after(None)
    service.users().get(userKey=ADMIN).execute()
    assert [c["status"] for c in emu.calls] == [200] * 5
    assert emu.stats()["answers_dropped"] == 2


def test_a_batch_envelope_is_one_answer_to_drop(emu, service, new_batch):
    emu.drop_answers_after(0, times=1)
    batch = new_batch()
    for number in range(3):
        batch.add(
            service.groups().insert(body={"email": "g%d@example.com" % number, "name": "G"}), request_id=str(number)
        )
    results = batch.execute()
    assert {error_of(error)[:2] for _, error in results.values()} == {(409, "duplicate")}
    assert len(emu.groups()) == 3 and [b["parts"] for b in emu.batches] == [3, 3]
