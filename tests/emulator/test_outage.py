"""The outage switch: every API request answers 503 backendError, batch envelopes included."""

import pytest
from emulator_helpers import ADMIN, credentials, directory, error_of, raw, user_body
from googleapiclient.errors import HttpError

from app_google_sync.emulator.server import Emulator

UNAVAILABLE = (503, "backendError", "The service is currently unavailable.")


def test_outage_refuses_calls_and_batches_until_switched_off(emu, service, new_batch):
    service.users().get(userKey=ADMIN).execute()
    emu.outage = True
    assert emu.outage
    with pytest.raises(HttpError) as raised:
        service.users().insert(body=user_body("down@example.com")).execute()
    assert error_of(raised) == UNAVAILABLE
    batch = new_batch()
    batch.add(service.users().get(userKey=ADMIN))
    batch.add(service.groups().insert(body={"email": "down@example.com", "name": "Down"}))
    with pytest.raises(HttpError) as raised:
        batch.execute()
    assert error_of(raised) == UNAVAILABLE
    assert emu.get_user("down@example.com") is None and emu.groups() == []
    assert emu.batches[-1]["parts"] == 2 and emu.batches[-1]["status"] == 503

    emu.outage = False
    assert service.users().get(userKey=ADMIN).execute()["primaryEmail"] == ADMIN
    stats = emu.stats()
    assert (stats["rejected_outage"], stats["rejected"], stats["accepted"], stats["calls"]) == (3, 3, 2, 5)
    assert (stats["http_requests"], stats["batches"]) == (4, 1)


def test_outage_answer_has_googles_error_shape(emu):
    emu.outage = True
    status, headers, body = raw("GET", emu.base_url + "admin/directory/v1/users/" + ADMIN)
    assert status == 503 and headers["Content-Type"].startswith("application/json")
    assert body["error"]["status"] == "UNAVAILABLE"
    assert body["error"]["errors"] == [{"message": UNAVAILABLE[2], "domain": "global", "reason": "backendError"}]


def test_token_endpoint_stays_up_during_an_outage(emu, key):
    emu.outage = True
    with pytest.raises(HttpError):
        directory(emu, credentials(key)).users().get(userKey=ADMIN).execute()
    assert [t["status"] for t in emu.token_calls] == [200]


def test_outage_for_a_time_on_the_emulator_clock(emu, clock, service):
    emu.outage_for(30)
    with pytest.raises(HttpError) as raised:
        service.users().get(userKey=ADMIN).execute()
    assert error_of(raised) == UNAVAILABLE
    clock.advance(29.9)
    assert emu.outage
    clock.advance(0.1)
    assert not emu.outage
    service.users().get(userKey=ADMIN).execute()


def test_switching_off_ends_a_timed_outage(emu, clock, service):
    emu.outage_for(30)
    emu.outage = False
    service.users().get(userKey=ADMIN).execute()


def test_client_retries_ride_out_a_short_outage(emu, clock, service):
    emu.outage_for(5)
    request = service.users().get(userKey=ADMIN)
    request._sleep = clock.advance  # the client's back-off passes on the emulator's clock
    request.execute(num_retries=10)
    assert {c["status"] for c in emu.calls} == {503, 200} and emu.calls[-1]["status"] == 200


def test_outage_from_the_constructor():
    emulator = Emulator(outage=True).start()
    try:
        status, _, body = raw("GET", emulator.base_url + "admin/directory/v1/users?customer=my_customer")
        assert status == 503 and body["error"]["errors"][0]["reason"] == "backendError"
    finally:
        emulator.stop()
