"""Eventual consistency: what the API just created is not usable everywhere for a while."""

import pytest
from emulator_helpers import ADMIN, error_of, user_body
from googleapiclient.errors import HttpError

MEMBER_KEY_404 = (404, "notFound", "Resource Not Found: memberKey")
GROUP_KEY_404 = (404, "notFound", "Resource Not Found: groupKey")
NOT_COMPLETE = (412, "conditionNotMet", "User creation is not complete.")


def refused(request):
    with pytest.raises(HttpError) as raised:
        request.execute()
    return error_of(raised)


@pytest.fixture
def team(emu):
    return emu.add_group("team@example.com", "Team")  # seeded: settled at once


def test_new_user_cannot_join_a_group_until_propagated(emu, clock, service, team):
    emu.propagation_delay = 30
    user = service.users().insert(body=user_body("new@example.com")).execute()
    members = service.members()
    assert refused(members.insert(groupKey="team@example.com", body={"email": "new@example.com"})) == MEMBER_KEY_404
    assert refused(members.insert(groupKey="team@example.com", body={"id": user["id"]})) == MEMBER_KEY_404
    assert service.users().get(userKey="new@example.com").execute()["id"] == user["id"]  # reads see it
    clock.advance(30)
    added = members.insert(groupKey="team@example.com", body={"email": "new@example.com"}).execute()
    assert added["id"] == user["id"]


def test_writes_to_a_new_user_answer_412_until_propagated(emu, clock, service):
    emu.propagation_delay = 30
    users = service.users()
    users.insert(body=user_body("fresh@example.com")).execute()
    assert refused(users.patch(userKey="fresh@example.com", body={"suspended": True})) == NOT_COMPLETE
    assert refused(users.update(userKey="fresh@example.com", body={"suspended": True})) == NOT_COMPLETE
    assert refused(users.aliases().insert(userKey="fresh@example.com", body={"alias": "f@example.com"})) == NOT_COMPLETE
    assert refused(users.makeAdmin(userKey="fresh@example.com", body={"status": True})) == NOT_COMPLETE
    assert refused(users.delete(userKey="fresh@example.com")) == NOT_COMPLETE
    clock.advance(29.9)
    assert refused(users.patch(userKey="fresh@example.com", body={"suspended": True})) == NOT_COMPLETE
    clock.advance(0.1)
    assert users.patch(userKey="fresh@example.com", body={"suspended": True}).execute()["suspended"]
    users.aliases().insert(userKey="fresh@example.com", body={"alias": "f@example.com"}).execute()
    assert not emu.get_user("fresh@example.com")["isAdmin"]  # the refused makeAdmin changed nothing


def test_renamed_users_new_address_is_not_yet_a_member_key(emu, clock, service, team):
    old = emu.add_user("old@example.com", "Old", "Name")
    emu.propagation_delay = 30
    service.users().patch(userKey="old@example.com", body={"primaryEmail": "new@example.com"}).execute()
    members = service.members()
    assert refused(members.insert(groupKey="team@example.com", body={"email": "new@example.com"})) == MEMBER_KEY_404
    # the account itself is old: its old address, its id and further writes work
    added = members.insert(groupKey="team@example.com", body={"email": "old@example.com"}).execute()
    assert (added["id"], added["email"]) == (old["id"], "new@example.com")
    service.users().patch(userKey="new@example.com", body={"suspended": False}).execute()


def test_new_group_refuses_member_operations_until_propagated(emu, clock, service):
    emu.propagation_delay = 30
    group = service.groups().insert(body={"email": "fresh-team@example.com", "name": "Fresh"}).execute()
    members = service.members()
    assert refused(members.insert(groupKey="fresh-team@example.com", body={"email": ADMIN})) == GROUP_KEY_404
    assert refused(members.insert(groupKey=group["id"], body={"email": ADMIN})) == GROUP_KEY_404
    assert refused(members.list(groupKey="fresh-team@example.com")) == GROUP_KEY_404
    assert refused(members.hasMember(groupKey="fresh-team@example.com", memberKey=ADMIN)) == GROUP_KEY_404
    assert service.groups().get(groupKey="fresh-team@example.com").execute()["id"] == group["id"]
    clock.advance(30)
    members.insert(groupKey="fresh-team@example.com", body={"email": ADMIN}).execute()
    assert emu.members("fresh-team@example.com") == [ADMIN]


def test_new_group_cannot_be_nested_until_propagated(emu, clock, service, team):
    emu.propagation_delay = 30
    service.groups().insert(body={"email": "inner@example.com", "name": "Inner"}).execute()
    body = {"email": "inner@example.com"}
    assert refused(service.members().insert(groupKey="team@example.com", body=body)) == MEMBER_KEY_404
    clock.advance(30)
    assert service.members().insert(groupKey="team@example.com", body=body).execute()["type"] == "GROUP"


def test_in_a_batch_each_part_sees_the_delay(emu, clock, service, new_batch, team):
    emu.propagation_delay = 10
    service.users().insert(body=user_body("batched@example.com")).execute()
    batch = new_batch()
    batch.add(
        service.members().insert(groupKey="team@example.com", body={"email": "batched@example.com"}),
        request_id="member",
    )
    batch.add(service.members().insert(groupKey="team@example.com", body={"email": ADMIN}), request_id="admin")
    results = batch.execute()
    assert error_of(results["member"][1]) == MEMBER_KEY_404 and results["admin"][1] is None


def test_no_delay_by_default(emu, service, team):
    service.users().insert(body=user_body("quick@example.com")).execute()
    service.members().insert(groupKey="team@example.com", body={"email": "quick@example.com"}).execute()
    service.users().patch(userKey="quick@example.com", body={"suspended": True}).execute()


def test_delay_applies_to_what_is_created_after_it_is_set(emu, clock, service, team):
    service.users().insert(body=user_body("before@example.com")).execute()
    emu.propagation_delay = 30
    service.members().insert(groupKey="team@example.com", body={"email": "before@example.com"}).execute()
