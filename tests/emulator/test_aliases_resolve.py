"""After a rename, every userKey, memberKey and groupKey accepts the primary address, an alias or the id."""

import pytest
from emulator_helpers import error_of
from googleapiclient.errors import HttpError

MEMBER_FIELDS = {"kind", "etag", "id", "email", "role", "type", "status"}


@pytest.fixture
def renamed(emu, service):
    """ada@ renamed to countess@, in team@: the user resource after the rename."""
    emu.add_user("ada@example.com", "Ada", "Lovelace")
    emu.add_group("team@example.com", "Team")
    return service.users().patch(userKey="ada@example.com", body={"primaryEmail": "countess@example.com"}).execute()


def test_user_keys_accept_old_address_new_address_and_id(service, renamed):
    for key in ("ada@example.com", "countess@example.com", "ADA@Example.com", renamed["id"]):
        assert service.users().get(userKey=key).execute()["id"] == renamed["id"]
    patched = service.users().patch(userKey="ada@example.com", body={"name": {"givenName": "Augusta"}}).execute()
    assert (patched["id"], patched["primaryEmail"]) == (renamed["id"], "countess@example.com")


def test_member_added_by_old_address_is_the_renamed_user(emu, service, renamed):
    added = service.members().insert(groupKey="team@example.com", body={"email": "ada@example.com"}).execute()
    assert set(added) == MEMBER_FIELDS
    assert (added["id"], added["email"], added["type"], added["role"], added["status"]) == (
        renamed["id"],
        "countess@example.com",
        "USER",
        "MEMBER",
        "ACTIVE",
    )


@pytest.mark.parametrize(
    "body", [{"email": "countess@example.com"}, {"email": "ada@example.com"}, {"email": "Countess@EXAMPLE.com"}, "id"]
)
def test_same_user_under_another_address_is_already_a_member(emu, service, renamed, body):
    emu.add_member("team@example.com", "countess@example.com")
    body = {"id": renamed["id"]} if body == "id" else body
    with pytest.raises(HttpError) as raised:
        service.members().insert(groupKey="team@example.com", body=body).execute()
    assert error_of(raised) == (409, "duplicate", "Member already exists.")


def test_member_keys_resolve_old_address_to_the_renamed_user(emu, service, renamed):
    emu.add_member("team@example.com", "countess@example.com")
    members = service.members()
    for key in ("ada@example.com", "countess@example.com", renamed["id"]):
        assert members.get(groupKey="team@example.com", memberKey=key).execute()["email"] == "countess@example.com"
        assert members.hasMember(groupKey="team@example.com", memberKey=key).execute() == {"isMember": True}
    listed = members.list(groupKey="team@example.com").execute()["members"]
    assert [(m["id"], m["email"], m["type"], m["role"], m["status"]) for m in listed] == [
        (renamed["id"], "countess@example.com", "USER", "MEMBER", "ACTIVE")
    ]
    members.delete(groupKey="team@example.com", memberKey="ada@example.com").execute()  # removes the renamed user
    assert emu.members("team@example.com") == []


def test_update_renames_too_and_group_keys_accept_alias_and_id(emu, service):
    emu.add_user("bob@example.com", "Bob", "B")
    emu.add_group("old-team@example.com", "Team")
    user = service.users().update(userKey="bob@example.com", body={"primaryEmail": "robert@example.com"}).execute()
    assert user["aliases"] == ["bob@example.com"]
    group = service.groups().patch(groupKey="old-team@example.com", body={"email": "team@example.com"}).execute()
    members = service.members()
    members.insert(groupKey="old-team@example.com", body={"email": "bob@example.com"}).execute()
    for key in ("old-team@example.com", "team@example.com", group["id"]):
        assert service.groups().get(groupKey=key).execute()["id"] == group["id"]
        listed = members.list(groupKey=key).execute()["members"]
        assert [(m["id"], m["email"]) for m in listed] == [(user["id"], "robert@example.com")]
    found = service.groups().list(userKey="bob@example.com").execute()["groups"]
    assert [g["email"] for g in found] == ["team@example.com"]
    members.delete(groupKey=group["id"], memberKey="bob@example.com").execute()
    assert emu.members("team@example.com") == []


def test_renamed_group_as_member_by_its_old_address(emu, service):
    emu.add_group("parent@example.com", "Parent")
    inner = emu.add_group("inner@example.com", "Inner")
    service.groups().patch(groupKey="inner@example.com", body={"email": "core@example.com"}).execute()
    added = service.members().insert(groupKey="parent@example.com", body={"email": "inner@example.com"}).execute()
    assert (added["id"], added["email"], added["type"]) == (inner["id"], "core@example.com", "GROUP")
    with pytest.raises(HttpError) as raised:
        service.members().insert(groupKey="parent@example.com", body={"email": "core@example.com"}).execute()
    assert error_of(raised)[:2] == (409, "duplicate")
