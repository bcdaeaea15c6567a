"""The group manager: create, edit membership, delete; plugin groups are users' switches."""

from __future__ import annotations

import pytest
from host_helpers import text_of


def attr(entry, name):
    return [value.decode() for value in entry.get(name, [])]


@pytest.fixture
def people(directory):
    directory.add_group("allusers")
    directory.add_group("google_apps_plugin", group_of_names=True)
    directory.add_group("sales", description="Sales team")
    for uid, given, family in (("alice", "Alice", "Martin"), ("bob", "Bob", "Dupont"), ("carol", "Carol", "Nguyen")):
        directory.add_user(uid, given, family, groups=("allusers",))
    directory.add_to_group("sales", "alice")
    return directory


def test_the_list_shows_kinds_and_members(admin, people):
    page = text_of(admin.get("/groups"))
    assert "allusers System 3 alice, bob, carol" in page
    assert "google_apps_plugin App: Google Apps 0" in page
    assert "sales Sales team Group 1 alice" in page


def test_create_a_group_then_choose_members(admin, people, extension):
    response = admin.post("/groups/new", {"name": "support", "description": "Help desk"})
    assert response.status_code == 302 and response.location == "/groups/support/edit"
    entry = people.group_entry("support")
    assert attr(entry, "objectClass") == ["top", "posixGroup"]
    assert attr(entry, "description") == ["Help desk"]
    assert 50000 <= int(attr(entry, "gidNumber")[0]) < 60000

    response = admin.post("/groups/support/edit", {"description": "Help desk", "members": ["bob", "carol", "mallory"]})
    assert response.status_code == 302
    assert attr(people.group_entry("support"), "memberUid") == ["bob", "carol"]  # unknown uids are ignored
    assert extension.calls == [("user_updated", "bob"), ("user_updated", "carol")]
    assert "Group support saved." in admin.get("/groups/support/edit").text


@pytest.mark.parametrize(
    "name, message",
    [
        ("", "Group name is required."),
        ("2fast", "A group name starts with a letter"),
        ("has space", "A group name starts with a letter"),
        ("mail_plugin", "reserved for the groups of installed apps"),
        ("sales", "A group named &#39;sales&#39; already exists."),
    ],
)
def test_a_bad_group_name_is_refused(admin, people, name, message):
    response = admin.post("/groups/new", {"name": name, "description": "kept"})
    assert response.status_code == 422 and message in response.text and 'value="kept"' in response.text


def test_membership_changes_tell_the_extension_of_a_plugin_group(admin, people, extension):
    admin.post("/groups/google_apps_plugin/edit", {"members": ["alice", "bob"]})
    group = people.group_entry("google_apps_plugin")
    assert attr(group, "memberUid") == ["alice", "bob"]
    assert sorted(attr(group, "member")) == sorted([people.user_dn("alice"), people.user_dn("bob")])
    admin.post("/groups/google_apps_plugin/edit", {"members": ["bob"]})
    assert extension.calls == [
        ("switch_toggled", "alice", True),
        ("switch_toggled", "bob", True),
        ("switch_toggled", "alice", False),
    ]
    page = admin.get("/groups/google_apps_plugin/edit").text
    assert "is the <strong>Google Apps</strong> switch" in page
    assert 'value="bob" checked' in page and 'value="alice" checked' not in page


def test_removing_a_member_from_an_ordinary_group(admin, people, extension):
    admin.post("/groups/sales/edit", {"description": "Sales team"})
    assert "memberUid" not in people.group_entry("sales")
    assert extension.calls == [("user_updated", "alice")]


def test_delete_a_group(admin, people, extension):
    confirm = admin.get("/groups/sales/delete")
    assert "keep their accounts but leave the group" in confirm.text
    response = admin.post("/groups/sales/delete")
    assert response.status_code == 302 and response.location == "/groups"
    assert not people.admin().search_s(people.groups_dn, 1, "(cn=sales)", ["1.1"])
    assert extension.calls == [("user_updated", "alice")]


@pytest.mark.parametrize("name, reason", [("allusers", "the system"), ("google_apps_plugin", "the Google Apps app")])
def test_system_and_app_groups_cannot_be_deleted(admin, people, name, reason):
    response = admin.post(f"/groups/{name}/delete", follow_redirects=True)
    assert f"Group {name} is used by {reason} and cannot be deleted." in response.text
    people.group_entry(name)


def test_allusers_is_not_edited_by_hand(admin, people):
    response = admin.get("/groups/allusers/edit", follow_redirects=True)
    assert "allusers is managed by the system" in response.text


def test_user_form_offers_ordinary_groups_only(admin, people):
    page = admin.get("/users/new").text
    assert 'name="groups" value="sales"' in page
    assert 'name="groups" value="allusers"' not in page and 'name="groups" value="google_apps_plugin"' not in page
    assert 'name="switches" value="google_apps"' in page and "Google Apps" in page
