"""The user manager against the real slapd, and the calls it makes to plugin extensions."""

from __future__ import annotations

import base64
import hashlib
import logging

import ldap
import pytest
from host_helpers import Browser, FakePlugin, RaisingExtension, host_config, text_of

from app_google_sync.host import create_app

PASSWORD = "Fresh-Passw0rd!"


def new_user(**overrides):
    form = {
        "uid": "eve",
        "given_name": "Eve",
        "family_name": "Adams",
        "mail": "",
        "password": PASSWORD,
        "confirm": PASSWORD,
        "switches": ["google_apps"],
        "groups": [],
    }
    form.update(overrides)
    return form


def attr(entry, name):
    return [value.decode() for value in entry.get(name, [])]


def sha_values(cleartext):
    digest = hashlib.sha1(cleartext.encode())
    return ["{SHA}" + base64.b64encode(digest.digest()).decode()], [digest.hexdigest()]


def test_the_list_shows_users_groups_switch_and_status(admin, directory):
    directory.add_group("allusers")
    directory.add_group("google_apps_plugin", group_of_names=True)
    directory.add_group("sales")
    directory.add_user(
        "alice", "Alice", "Martin", mail="alice@example.com", groups=("allusers", "google_apps_plugin", "sales")
    )
    directory.add_user("judy", "Judy", "Garland", groups=("allusers",), locked=True)
    page = text_of(admin.get("/users"))
    assert "alice Alice Martin alice@example.com sales On Active" in page
    assert "judy Judy Garland — Off Locked" in page
    assert "allusers" not in page and "google_apps_plugin" not in page  # shown as the switch, not as groups
    assert "2 users in the directory" in page


def test_create_a_user_with_the_switch_on(admin, directory, extension):
    directory.add_group("allusers")
    directory.add_group("sales")
    response = admin.post("/users/new", new_user(groups=["sales"]))
    assert response.status_code == 302 and response.location == "/users"

    entry = directory.user_entry("eve")
    assert directory.user_dn("eve") == f"cn=Eve Adams,{directory.users_dn}"
    assert set(attr(entry, "objectClass")) >= {"posixAccount", "shadowAccount", "inetOrgPerson", "clearAccount"}
    assert attr(entry, "givenName") == ["Eve"] and attr(entry, "sn") == ["Adams"] and attr(entry, "cn") == ["Eve Adams"]
    assert attr(entry, "mail") == ["eve@example.com"]
    assert attr(entry, "uidNumber") == ["1000"] and attr(entry, "gidNumber") == ["63000"]
    assert attr(entry, "homeDirectory") == ["/home/eve"]
    assert (attr(entry, "userPassword"), attr(entry, "clearSHA1Password")) == sha_values(PASSWORD)
    assert b"eve" in directory.group_entry("google_apps_plugin")["memberUid"]  # created on demand
    assert b"eve" in directory.group_entry("sales")["memberUid"]
    assert b"eve" in directory.group_entry("allusers")["memberUid"]
    assert extension.calls == [("user_added", "eve")]

    listing = admin.get("/users")
    assert "User eve created." in listing.text
    assert "eve Eve Adams eve@example.com sales On Active" in text_of(listing)


def test_create_a_user_with_the_switch_off(admin, directory, extension):
    directory.add_group("google_apps_plugin")
    admin.post("/users/new", new_user(switches=[], mail="eve.adams@example.org"))
    assert attr(directory.user_entry("eve"), "mail") == ["eve.adams@example.org"]
    assert "memberUid" not in directory.group_entry("google_apps_plugin")
    assert extension.calls == [("user_added", "eve")]


def test_uid_numbers_follow_the_highest_in_use(admin, directory):
    directory.add_user("alice", "Alice", "Martin", extra_attrs={"uidNumber": 1041})
    admin.post("/users/new", new_user())
    assert attr(directory.user_entry("eve"), "uidNumber") == ["1042"]


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"uid": ""}, "uid", "Username is required."),
        ({"uid": "Eve Adams"}, "uid", "A username starts with a lowercase letter"),
        ({"uid": "1eve"}, "uid", "A username starts with a lowercase letter"),
        ({"uid": "root"}, "uid", "is reserved"),
        ({"given_name": "  "}, "given_name", "First name is required."),
        ({"family_name": ""}, "family_name", "Last name is required."),
        ({"family_name": "x" * 61}, "family_name", "Last name is at most 60 characters."),
        ({"mail": "not-an-address"}, "mail", "Enter a valid email address"),
        ({"password": "short", "confirm": "short"}, "password", "at least 8 characters"),
        ({"confirm": "Other-Passw0rd!"}, "password", "The passwords do not match."),
        (
            {"password": "Secret\x00-pass-1", "confirm": "Secret\x00-pass-1"},
            "password",
            "cannot hold control characters",
        ),
        ({"password": "Secret-pass-1\n", "confirm": "Secret-pass-1\n"}, "password", "cannot hold control characters"),
        (
            {"password": "Secret\x1b[0m-pass", "confirm": "Secret\x1b[0m-pass"},
            "password",
            "cannot hold control characters",
        ),
    ],
)
def test_invalid_input_is_refused_with_a_clear_message_and_kept(admin, directory, extension, changes, field, message):
    directory.add_group("sales")
    form = new_user(groups=["sales"], **changes)
    response = admin.post("/users/new", form)
    assert response.status_code == 422
    assert message in response.text
    assert f'id="e-{field}"' in response.text
    assert PASSWORD not in response.text and 'name="password" value' not in response.text
    if field != "uid":
        assert 'value="eve"' in response.text
    assert 'value="sales" checked' in response.text and 'value="google_apps" checked' in response.text
    assert extension.calls == []
    assert directory.admin().search_s(directory.users_dn, ldap.SCOPE_ONELEVEL, "(uid=*)", ["1.1"]) == []


def test_a_taken_username_or_full_name_is_refused(admin, directory, extension):
    directory.add_user("eve", "Evelyn", "Other")
    response = admin.post("/users/new", new_user())
    assert response.status_code == 422 and "The username &#39;eve&#39; is already taken." in response.text

    response = admin.post("/users/new", new_user(uid="eve2", given_name="Evelyn", family_name="Other"))
    assert response.status_code == 422 and "A user named &#39;Evelyn Other&#39; already exists" in response.text
    assert extension.calls == []


def test_edit_names_mail_and_groups(admin, directory, extension):
    directory.add_group("sales", group_of_names=True)
    directory.add_group("engineering")
    directory.add_user("alice", "Alice", "Martin", mail="alice@example.com", groups=("sales",))
    form = admin.get("/users/alice/edit")
    assert 'value="Alice"' in form.text and 'value="sales" checked' in form.text

    response = admin.post(
        "/users/alice/edit",
        {"given_name": "Alicia", "family_name": "Martín", "mail": "alicia@example.com", "groups": ["engineering"]},
    )
    assert response.status_code == 302 and response.location == "/users/alice/edit"
    new_dn = directory.user_dn("alice")
    assert new_dn == f"cn=Alicia Martín,{directory.users_dn}"
    entry = directory.user_entry("alice")
    assert attr(entry, "givenName") == ["Alicia"] and attr(entry, "mail") == ["alicia@example.com"]
    assert directory.group_entry("engineering")["memberUid"] == [b"alice"]
    sales = directory.group_entry("sales")
    assert "memberUid" not in sales and attr(sales, "member") == [directory.no_members_dn]
    assert extension.calls == [("user_updated", "alice")]
    assert "User alice saved." in admin.get("/users/alice/edit").text


def test_a_rename_follows_the_member_dn_of_groups(admin, directory):
    directory.add_group("sales", group_of_names=True)
    directory.add_user("alice", "Alice", "Martin", groups=("sales",))
    admin.post("/users/alice/edit", {"given_name": "Alice", "family_name": "Smith", "groups": ["sales"]})
    assert attr(directory.group_entry("sales"), "member") == [f"cn=Alice Smith,{directory.users_dn}"]


def test_saving_an_unchanged_user_tells_nobody(admin, directory, extension):
    directory.add_user("alice", "Alice", "Martin", mail="alice@example.com")
    admin.post("/users/alice/edit", {"given_name": "Alice", "family_name": "Martin", "mail": "alice@example.com"})
    assert extension.calls == []
    assert "Nothing to save" in admin.get("/users/alice/edit").text


def test_the_switch_adds_and_removes_plugin_group_membership(admin, directory, extension):
    directory.add_group("google_apps_plugin", group_of_names=True)
    directory.add_user("alice", "Alice", "Martin", mail="alice@example.com")
    fields = {"given_name": "Alice", "family_name": "Martin", "mail": "alice@example.com"}

    admin.post("/users/alice/edit", {**fields, "switches": ["google_apps"]})
    group = directory.group_entry("google_apps_plugin")
    assert attr(group, "memberUid") == ["alice"] and attr(group, "member") == [directory.user_dn("alice")]
    assert 'value="google_apps" checked' in admin.get("/users/alice/edit").text

    admin.post("/users/alice/edit", fields)
    group = directory.group_entry("google_apps_plugin")
    assert "memberUid" not in group and attr(group, "member") == [directory.no_members_dn]
    assert extension.calls == [("switch_toggled", "alice", True), ("switch_toggled", "alice", False)]


def test_the_switch_creates_a_missing_plugin_group(admin, directory, extension):
    directory.add_user("alice", "Alice", "Martin")
    admin.post("/users/alice/edit", {"given_name": "Alice", "family_name": "Martin", "switches": ["google_apps"]})
    group = directory.group_entry("google_apps_plugin")
    assert attr(group, "memberUid") == ["alice"] and attr(group, "objectClass")[-1] == "posixGroup"
    assert attr(group, "description") == ["Google Apps - Plugin"]


def test_set_password_stores_sha_and_clear_sha1_and_tells_the_extension(admin, directory, extension, caplog):
    directory.add_user(
        "alice",
        "Alice",
        "Martin",
        password="Old-Passw0rd",
        password_scheme="{SSHA}",
        extra_attrs={"clearMicrosoftNTPassword": "0" * 32},
    )
    caplog.set_level(logging.DEBUG)
    response = admin.post("/users/alice/password", {"password": PASSWORD, "confirm": PASSWORD})
    assert response.status_code == 302
    entry = directory.user_entry("alice")
    assert (attr(entry, "userPassword"), attr(entry, "clearSHA1Password")) == sha_values(PASSWORD)
    assert "clearMicrosoftNTPassword" not in entry  # a stale NT hash would keep the old password alive
    assert extension.calls == [("password_changed", "alice", PASSWORD)]
    page = admin.get("/users/alice/edit").text
    assert "Password of alice changed." in page and PASSWORD not in page
    assert PASSWORD not in caplog.text
    connection = ldap.initialize(directory.ldap_uri)
    connection.simple_bind_s(directory.user_dn("alice"), PASSWORD)  # slapd accepts the new password
    connection.unbind_s()


@pytest.mark.parametrize(
    "password, confirm, message",
    [
        ("short", "short", "at least 8 characters"),
        (PASSWORD, PASSWORD + "x", "The passwords do not match."),
        ("Secret\x00-pass-1", "Secret\x00-pass-1", "cannot hold control characters"),
        ("Secret\t-pass-1", "Secret\t-pass-1", "cannot hold control characters"),
    ],
)
def test_a_bad_password_is_refused(admin, directory, extension, password, confirm, message):
    directory.add_user("alice", "Alice", "Martin", password="Old-Passw0rd")
    before = directory.user_entry("alice")["userPassword"]
    response = admin.post("/users/alice/password", {"password": password, "confirm": confirm}, follow_redirects=True)
    assert message in response.text and password not in response.text
    assert directory.user_entry("alice")["userPassword"] == before
    assert extension.calls == []


def test_lock_and_unlock(admin, directory, extension):
    directory.add_user("alice", "Alice", "Martin")
    admin.post("/users/alice/lock", {"locked": "1"})
    assert attr(directory.user_entry("alice"), "shadowExpire") == ["1"]
    assert "Locked" in text_of(admin.get("/users"))
    admin.post("/users/alice/lock", {"locked": "0"})
    assert "shadowExpire" not in directory.user_entry("alice")
    assert extension.calls == [("user_updated", "alice"), ("user_updated", "alice")]


def test_delete_asks_first_then_removes_the_user_everywhere(admin, directory, extension):
    directory.add_group("google_apps_plugin", group_of_names=True)
    directory.add_group("sales")
    directory.add_user("alice", "Alice", "Martin", groups=("google_apps_plugin", "sales"))
    directory.add_user("bob", "Bob", "Dupont", groups=("google_apps_plugin",))
    uuid = attr(directory.user_entry("alice"), "entryUUID")[0]

    confirm = admin.get("/users/alice/delete")
    assert confirm.status_code == 200 and "Delete Alice Martin (alice)?" in text_of(confirm)
    directory.user_dn("alice")  # still there

    response = admin.post("/users/alice/delete")
    assert response.status_code == 302 and response.location == "/users"
    with pytest.raises(KeyError):
        directory.user_dn("alice")
    plugin_group = directory.group_entry("google_apps_plugin")
    assert attr(plugin_group, "memberUid") == ["bob"] and attr(plugin_group, "member") == [directory.user_dn("bob")]
    assert "memberUid" not in directory.group_entry("sales")
    assert extension.calls == [("user_deleted", "alice", uuid)]
    assert "User alice deleted." in admin.get("/users").text


def test_an_unknown_user_is_a_404(admin):
    for path in ("/users/nobody/edit", "/users/nobody/delete"):
        response = admin.get(path)
        assert response.status_code == 404 and "There is no user" in response.text
    assert admin.post("/users/nobody/password", {"password": PASSWORD, "confirm": PASSWORD}).status_code == 404


def test_a_raising_extension_never_fails_the_request(directory, caplog):
    broken, recording = FakePlugin(RaisingExtension(), "broken_app", "Broken"), FakePlugin()
    app = create_app(host_config(directory, CONSOLE_PLUGINS=[broken, recording]))
    admin = Browser(app.test_client())
    admin.login()
    caplog.set_level(logging.ERROR, logger="app_google_sync.host.plugins")

    assert admin.post("/users/new", new_user()).status_code == 302
    assert (
        admin.post("/users/eve/edit", {"given_name": "Eve", "family_name": "Smith", "switches": ["broken"]}).status_code
        == 302
    )
    assert admin.post("/users/eve/password", {"password": PASSWORD, "confirm": PASSWORD}).status_code == 302
    page = admin.get("/users/eve/edit").text
    assert "Broken App could not be told about this change" in page
    assert admin.post("/users/eve/delete").status_code == 302

    hooks = ["user_added", "user_updated", "switch_toggled", "password_changed", "user_deleted"]
    assert [call[0] for call in broken.extension.calls] == hooks
    assert [call[0] for call in recording.extension.calls] == hooks  # still told, after the broken one
    assert ("switch_toggled", "eve", True) in broken.extension.calls
    assert ("switch_toggled", "eve", False) in recording.extension.calls
    assert all(record.levelno == logging.ERROR for record in caplog.records)
    assert "broken failed in password_changed for user eve" in caplog.text
    assert PASSWORD not in caplog.text


def test_ldap_data_is_escaped(admin, directory):
    directory.add_group("<b>team</b>", description="<script>alert('group')</script>")
    directory.add_user(
        "mallory", "<script>alert(1)</script>", "O'Brien & <i>Co</i>", mail="m@example.com", groups=("<b>team</b>",)
    )
    for path in (
        "/users",
        "/users/mallory/edit",
        "/users/mallory/delete",
        "/groups",
        "/groups/%3Cb%3Eteam%3C%2Fb%3E/edit",
    ):
        page = admin.get(path).text
        assert "<script>alert" not in page and "<b>team" not in page and "<i>Co" not in page, path
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in admin.get("/users").text


def test_a_directory_that_is_down_gives_a_clear_503(admin, directory):
    directory.stop_server()
    try:
        response = admin.get("/users")
        assert response.status_code == 503
        assert "The directory server cannot be reached" in response.text
        assert admin.get("/").status_code == 200  # the dashboard still opens
    finally:
        directory.restart_server()


def test_an_app_can_link_to_a_prefilled_new_user_form(admin, directory):
    directory.add_group("sales")
    page = admin.get(
        "/users/new?uid=admin&given_name=Google&family_name=Administrator&google_apps=on&groups=sales"
    ).text
    assert 'name="uid" value="admin"' in page and 'value="Google"' in page and 'value="Administrator"' in page
    assert 'value="google_apps" checked' in page and 'value="sales" checked' in page
    assert 'id="e-uid"' not in page  # nothing was submitted: no error shown yet
