"""groups.*, members.* and orgunits.* through the real client."""

import pytest
from emulator_helpers import ADMIN, error_of, user_body
from googleapiclient.errors import HttpError


def test_group_insert_get_patch_delete(emu, service):
    groups = service.groups()
    group = groups.insert(body={"email": "Staff@example.com", "name": "Staff", "description": "All staff"}).execute()
    assert group["kind"] == "admin#directory#group"
    assert (group["email"], group["name"], group["description"]) == ("staff@example.com", "Staff", "All staff")
    assert group["directMembersCount"] == "0" and group["adminCreated"] is True and group["id"]
    assert groups.get(groupKey=group["id"]).execute()["email"] == "staff@example.com"
    patched = groups.patch(groupKey="staff@example.com", body={"description": "Everyone"}).execute()
    assert (patched["name"], patched["description"]) == ("Staff", "Everyone")
    assert groups.delete(groupKey="staff@example.com").execute() == ""
    with pytest.raises(HttpError) as raised:
        groups.get(groupKey="staff@example.com").execute()
    assert error_of(raised) == (404, "notFound", "Resource Not Found: groupKey")


def test_group_rules(emu, service):
    emu.add_user("taken@example.com", "T", "U")
    for body, expected in (
        ({"name": "No email"}, (400, "required")),
        ({"email": "g@elsewhere.org"}, (400, "invalid")),
        ({"email": "taken@example.com"}, (409, "duplicate")),
        ({"email": "g@example.com", "name": "x" * 76}, (400, "invalid")),
    ):
        with pytest.raises(HttpError) as raised:
            service.groups().insert(body=body).execute()
        assert error_of(raised)[:2] == expected


def test_group_rename_keeps_alias(service):
    service.groups().insert(body={"email": "old-team@example.com", "name": "Team"}).execute()
    renamed = service.groups().update(groupKey="old-team@example.com", body={"email": "team@example.com"}).execute()
    assert renamed["email"] == "team@example.com" and renamed["aliases"] == ["old-team@example.com"]
    assert service.groups().get(groupKey="old-team@example.com").execute()["id"] == renamed["id"]


def test_groups_list_paging_and_user_key(emu, service):
    for number in range(205):
        emu.add_group("g%03d@example.com" % number, "G%d" % number)
    emu.add_member("g007@example.com", ADMIN)
    emu.add_member("g100@example.com", ADMIN)
    first = service.groups().list(customer="my_customer").execute()
    assert len(first["groups"]) == 200
    second = service.groups().list(customer="my_customer", pageToken=first["nextPageToken"]).execute()
    assert len(second["groups"]) == 5 and "nextPageToken" not in second
    mine = service.groups().list(userKey=ADMIN).execute()["groups"]
    assert [g["email"] for g in mine] == ["g007@example.com", "g100@example.com"]
    with pytest.raises(HttpError) as raised:
        service.groups().list(customer="my_customer", maxResults=201).execute()
    assert error_of(raised)[:2] == (400, "invalid")
    with pytest.raises(HttpError) as raised:
        service.groups().list().execute()
    assert error_of(raised)[:2] == (400, "badRequest")


def test_members_insert_list_duplicate(emu, service):
    emu.add_group("team@example.com", "Team")
    emu.add_user("ada@example.com", "Ada", "Lovelace")
    members = service.members()
    member = members.insert(groupKey="team@example.com", body={"email": "ADA@example.com", "role": "OWNER"}).execute()
    assert member["kind"] == "admin#directory#member"
    assert (member["email"], member["role"], member["type"], member["status"]) == (
        "ada@example.com",
        "OWNER",
        "USER",
        "ACTIVE",
    )
    assert member["id"] == emu.get_user("ada@example.com")["id"]
    with pytest.raises(HttpError) as raised:
        members.insert(groupKey="team@example.com", body={"email": "ada@example.com"}).execute()
    assert error_of(raised) == (409, "duplicate", "Member already exists.")
    assert emu.get_group("team@example.com")["directMembersCount"] == "1"


def test_external_and_group_members(emu, service):
    emu.add_group("team@example.com", "Team")
    emu.add_group("sub@example.com", "Sub")
    members = service.members()
    external = members.insert(groupKey="team@example.com", body={"email": "Friend@Gmail.com"}).execute()
    assert (external["email"], external["type"]) == ("friend@gmail.com", "EXTERNAL")
    nested = members.insert(groupKey="team@example.com", body={"email": "sub@example.com"}).execute()
    assert nested["type"] == "GROUP"
    with pytest.raises(HttpError) as raised:
        members.insert(groupKey="team@example.com", body={"email": "ghost@example.com"}).execute()
    assert error_of(raised) == (404, "notFound", "Resource Not Found: memberKey")
    assert emu.members("team@example.com") == ["friend@gmail.com", "sub@example.com"]
    assert members.get(groupKey="team@example.com", memberKey="friend@gmail.com").execute()["type"] == "EXTERNAL"


def test_members_roles_filter_paging_patch_delete(emu, service):
    emu.add_group("big@example.com", "Big")
    for number in range(205):
        emu.add_member("big@example.com", "person%03d@partner.org" % number, role="MANAGER" if number < 3 else "MEMBER")
    members = service.members()
    first = members.list(groupKey="big@example.com").execute()
    second = members.list(groupKey="big@example.com", pageToken=first["nextPageToken"]).execute()
    assert len(first["members"]) == 200 and len(second["members"]) == 5
    managers = members.list(groupKey="big@example.com", roles="MANAGER").execute()["members"]
    assert [m["email"] for m in managers] == ["person000@partner.org", "person001@partner.org", "person002@partner.org"]
    patched = members.patch(
        groupKey="big@example.com", memberKey="person010@partner.org", body={"role": "OWNER"}
    ).execute()
    assert patched["role"] == "OWNER"
    with pytest.raises(HttpError) as raised:
        members.patch(groupKey="big@example.com", memberKey="person010@partner.org", body={"role": "BOSS"}).execute()
    assert error_of(raised)[:2] == (400, "invalid")
    members.delete(groupKey="big@example.com", memberKey="person010@partner.org").execute()
    with pytest.raises(HttpError) as raised:
        members.delete(groupKey="big@example.com", memberKey="person010@partner.org").execute()
    assert error_of(raised) == (404, "notFound", "Resource Not Found: memberKey")
    with pytest.raises(HttpError) as raised:
        members.list(groupKey="big@example.com", maxResults=201).execute()
    assert error_of(raised)[:2] == (400, "invalid")


def test_has_member_direct_and_nested(emu, service):
    emu.add_group("outer@example.com", "Outer")
    emu.add_group("inner@example.com", "Inner")
    emu.add_user("ada@example.com", "Ada", "Lovelace")
    emu.add_member("outer@example.com", "inner@example.com")
    emu.add_member("inner@example.com", "ada@example.com")
    has = service.members().hasMember
    assert has(groupKey="outer@example.com", memberKey="ada@example.com").execute() == {"isMember": True}
    assert has(groupKey="inner@example.com", memberKey=ADMIN).execute() == {"isMember": False}
    with pytest.raises(HttpError) as raised:
        has(groupKey="outer@example.com", memberKey="ghost@example.com").execute()
    assert error_of(raised)[0] == 404


def test_deleting_a_group_removes_its_memberships(emu, service):
    emu.add_group("outer@example.com", "Outer")
    emu.add_group("inner@example.com", "Inner")
    emu.add_member("outer@example.com", "inner@example.com")
    service.groups().delete(groupKey="inner@example.com").execute()
    assert emu.members("outer@example.com") == []


def test_member_of_unknown_group_is_404(service):
    with pytest.raises(HttpError) as raised:
        service.members().list(groupKey="nope@example.com").execute()
    assert error_of(raised) == (404, "notFound", "Resource Not Found: groupKey")


def test_suspended_user_member_status(emu, service):
    emu.add_group("team@example.com", "Team")
    emu.add_user("sus@example.com", "Sus", "Pended", suspended=True)
    emu.add_member("team@example.com", "sus@example.com")
    member = service.members().get(groupKey="team@example.com", memberKey="sus@example.com").execute()
    assert member["status"] == "SUSPENDED"


def test_orgunits(emu, service):
    orgunits = service.orgunits()
    sales = orgunits.insert(customerId="my_customer", body={"name": "Sales", "parentOrgUnitPath": "/"}).execute()
    assert sales["kind"] == "admin#directory#orgUnit"
    assert (sales["orgUnitPath"], sales["parentOrgUnitPath"]) == ("/Sales", "/")
    east = orgunits.insert(
        customerId=emu.customer_id, body={"name": "East", "parentOrgUnitId": sales["orgUnitId"]}
    ).execute()
    assert east["orgUnitPath"] == "/Sales/East" and east["parentOrgUnitId"] == sales["orgUnitId"]
    assert orgunits.get(customerId="my_customer", orgUnitPath="Sales/East").execute()["name"] == "East"
    children = orgunits.list(customerId="my_customer").execute()["organizationUnits"]
    assert [o["orgUnitPath"] for o in children] == ["/Sales"]
    everything = orgunits.list(customerId="my_customer", type="all").execute()["organizationUnits"]
    assert [o["orgUnitPath"] for o in everything] == ["/Sales", "/Sales/East"]
    service.users().insert(body=user_body("rep@example.com", orgUnitPath="/Sales/East")).execute()
    with pytest.raises(HttpError) as raised:
        orgunits.delete(customerId="my_customer", orgUnitPath="Sales/East").execute()
    assert error_of(raised)[0] == 400
    renamed = orgunits.patch(customerId="my_customer", orgUnitPath="Sales", body={"name": "Revenue"}).execute()
    assert renamed["orgUnitPath"] == "/Revenue"
    assert emu.get_user("rep@example.com")["orgUnitPath"] == "/Revenue/East"
    with pytest.raises(HttpError) as raised:
        orgunits.get(customerId="my_customer", orgUnitPath="Sales").execute()
    assert error_of(raised)[0] == 404
