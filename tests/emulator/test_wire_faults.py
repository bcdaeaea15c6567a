"""Answers Google (or a proxy before it) may give that a well-behaved emulator would not: thin and empty
pages, sparse and oddly cased resources, HTML error pages, answers cut short, batch answers lacking a part."""

import http.client

import pytest
from emulator_helpers import ADMIN, user_body
from googleapiclient.errors import HttpError


def list_all(method, item_key, **params):
    """Every item and every page's size, following nextPageToken until there is none."""
    items, sizes, token = [], [], None
    while True:
        page = method(pageToken=token, **params).execute() if token else method(**params).execute()
        sizes.append(len(page.get(item_key, [])))
        items += page.get(item_key, [])
        token = page.get("nextPageToken")
        if not token:
            return items, sizes


def seed_users(emu, count):
    for number in range(count):
        emu.add_user("user%02d@example.com" % number, "User", "Number %d" % number)


def test_thin_pages_hold_fewer_items_than_asked(emu, service):
    seed_users(emu, 9)
    emu.thin_pages(cap=4)
    users, sizes = list_all(service.users().list, "users", customer="my_customer", maxResults=500)
    assert sizes == [4, 4, 2] and len({user["id"] for user in users}) == 10


def test_empty_pages_carry_a_token_before_each_page_of_items(emu, service):
    seed_users(emu, 5)
    emu.thin_pages(cap=3, empty=True)
    first = service.users().list(domain="example.com", maxResults=500).execute()
    assert "users" not in first and first["nextPageToken"]
    users, sizes = list_all(service.users().list, "users", domain="example.com", maxResults=500)
    assert sizes == [0, 3, 0, 3] and len(users) == 6
    emu.add_group("empty@example.com")
    members, sizes = list_all(service.members().list, "members", groupKey="empty@example.com")
    assert members == [] and sizes == [0, 0]
    emu.thin_pages()
    assert service.users().list(domain="example.com", maxResults=500).execute().get("nextPageToken") is None


def test_odd_shapes_omit_empty_fields_shout_domains_and_add_unknown_fields(emu, service):
    emu.add_user("plain@example.com", "Plain", "User")
    emu.odd_shapes = True
    user = service.users().get(userKey="plain@example.com").execute()
    assert user["primaryEmail"] == "plain@EXAMPLE.COM"
    assert "suspended" not in user and "aliases" not in user and "fullName" not in user["name"]
    assert "futureField" in user
    emu.odd_shapes = False
    assert service.users().get(userKey="plain@example.com").execute()["suspended"] is False


@pytest.mark.parametrize("kind, status", [("html", 502), ("html-200", 200)])
def test_html_instead_of_json(emu, service, kind, status):
    emu.garble_answers_after(0, times=1, kind=kind)
    if status >= 300:
        with pytest.raises(HttpError) as raised:
            service.users().get(userKey=ADMIN).execute()
        assert raised.value.resp.status == 502 and b"<html" in raised.value.content
    else:
        assert service.users().get(userKey=ADMIN).execute().startswith("<!DOCTYPE html>")
    assert service.users().get(userKey=ADMIN).execute()["primaryEmail"] == ADMIN
    assert emu.stats()["answers_garbled"] == 1


def test_truncated_answer_after_the_work_is_done(emu, service):
    emu.garble_answers_after(0, times=1, kind="truncated")
    with pytest.raises(http.client.IncompleteRead):
        service.users().insert(body=user_body("cut@example.com")).execute()
    assert emu.get_user("cut@example.com") is not None


def test_batch_answer_missing_a_part(emu, service, new_batch):
    emu.garble_answers_after(0, times=1, kind="missing-part")
    service.users().get(userKey=ADMIN).execute()  # single calls do not count for a missing part
    batch = new_batch()
    for number in range(3):
        batch.add(
            service.groups().insert(body={"email": "g%d@example.com" % number, "name": "G"}), request_id=str(number)
        )
    with pytest.raises(KeyError):  # what google-api-python-client raises for a part it did not get
        batch.execute()
    assert len(emu.groups()) == 3 and emu.stats()["answers_garbled"] == 1


def test_unknown_garble_is_refused(emu):
    with pytest.raises(ValueError):
        emu.garble_answers_after(0, kind="teapot")


def test_injected_failures_may_carry_retry_after(emu, service, new_batch):
    emu.fail_next(2, status=429, reason="rateLimitExceeded", retry_after=7)
    with pytest.raises(HttpError) as raised:
        service.users().get(userKey=ADMIN).execute()
    assert raised.value.resp.status == 429 and raised.value.resp["retry-after"] == "7"
    batch = new_batch()
    batch.add(service.users().get(userKey=ADMIN), request_id="one")
    _, error = batch.execute()["one"]
    assert error.resp["retry-after"] == "7"
    assert "retry-after" not in service.users().get(userKey=ADMIN).execute()
