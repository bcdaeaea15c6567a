"""A directory as ClearOS writes it: the "No Members" placeholder, and accounts locked in each of its ways.

A real slapd with ClearOS's object classes (clearAccount), the password policy overlay
(pwdAccountLockedTime) and its layout (ou=Users/ou=Groups under ou=Accounts), driven through
the real command line against the emulator.
"""

import json
import logging

import ldap
import pytest

from app_google_sync import cli
from app_google_sync.libraries.core.codes import NoticeCode
from app_google_sync.libraries.directory.ldap_source import LdapSource
from app_google_sync.libraries.sync.engine import SyncEngine


def run(env, capsys, *args):
    code = cli.main(["--config", str(env.config_path), *args])
    captured = capsys.readouterr()
    return code, " ".join((captured.out + captured.err).split())


def clearos_group(directory, name, uids=()):
    """A group as ClearOS's group manager writes it: posixGroup with member DNs, the placeholder when empty."""
    return directory.add_entry(
        directory.group_dn(name),
        {
            "objectClass": ["top", "posixGroup", "extensibleObject"],  # groupOfNames under ClearOS's rfc2307bis schema
            "cn": name,
            "gidNumber": 60000 + len(name),
            "member": [directory.user_dn(uid) for uid in uids] or [directory.no_members_dn],
        },
    )


def test_the_no_members_placeholder_is_no_member_and_no_warning(env, capsys, caplog):
    directory = env.directory
    directory.add_no_members_account()  # cn=No Members,ou=Users,ou=Accounts,<base>, uid nomembers
    directory.add_user("alice", "Alice", "Martin", groups=("google_apps_plugin",))
    clearos_group(directory, "support")  # empty: holds only the placeholder
    clearos_group(directory, "sales", ["alice"])
    directory.add_group("legacy", members=("nomembers",))  # an older ClearOS wrote the placeholder as a memberUid
    groups = {group.name: group for group in LdapSource(env.settings.ldap).read_state().groups}
    assert groups["support"].member_uids == frozenset() and groups["legacy"].member_uids == frozenset()
    assert groups["sales"].member_uids == {"alice"}

    caplog.set_level(logging.INFO)
    code, out = run(env, capsys, "test")
    assert code == 2 and "create group support@example.com" in out
    assert "nomembers" not in out.lower() and "no members" not in out.lower()
    assert "WARNING: support" not in out and "WARNING: legacy" not in out and "WARNING: sales" not in out
    plan = SyncEngine(env.settings).test().plan
    assert [notice for notice in plan.notices if notice.subject in ("support", "legacy", "sales")] == []
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "nomembers" in r.getMessage().lower()]
    assert run(env, capsys, "sync")[0] == 0
    assert env.emulator.members("support@example.com") == []
    report = SyncEngine(env.settings).push_group("support")  # a targeted push of the empty group: nothing to say
    assert report.plan.notices == () and report.results == []


LOCKS = {
    "pwd": ("pwdAccountLockedTime", "000001010000Z"),  # ClearOS's password policy
    "shadow": ("shadowExpire", "1"),
    "status": ("clearAccountStatus", "disabled"),  # ClearOS's own account state
}


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_a_locked_member_gets_the_unlock_advice_not_the_google_apps_option(env, capsys, lock):
    directory = env.directory
    directory.add_user("alice", "Alice", "Martin", groups=("google_apps_plugin",))
    directory.add_user("lena", "Lena", "Locked", groups=("google_apps_plugin",))
    directory.add_user("otto", "Otto", "Off")  # no Google Apps option
    attribute, value = LOCKS[lock]
    directory.admin().modify_s(directory.user_dn("lena"), [(ldap.MOD_REPLACE, attribute, [value.encode()])])
    clearos_group(directory, "sales", ["alice", "lena", "otto"])

    plan = SyncEngine(env.settings).test().plan
    codes = {notice.code: notice for notice in plan.notices if notice.subject == "sales"}
    assert set(codes) == {NoticeCode.MEMBERS_LOCKED, NoticeCode.MEMBERS_NOT_IN_SCOPE}
    locked = codes[NoticeCode.MEMBERS_LOCKED].message
    assert "lena" in locked and "otto" not in locked and "Google Apps option" not in locked
    assert "unlock the account" in locked and "suspended in Google" in locked
    assert "Google Apps option" in codes[NoticeCode.MEMBERS_NOT_IN_SCOPE].message
    assert "lena" not in codes[NoticeCode.MEMBERS_NOT_IN_SCOPE].message

    never_created = [notice for notice in plan.notices if notice.subject == "lena"]
    assert [notice.code for notice in never_created] == [NoticeCode.USER_LOCKED]  # nothing to suspend, yet said
    assert "not created in Google" in never_created[0].message and "unlock the account" in never_created[0].message
    assert not [notice for notice in plan.notices if notice.code is NoticeCode.USER_LOCKED and notice.subject != "lena"]

    data = json.loads(run(env, capsys, "test", "--json")[1])
    assert {"locked", "not_in_scope", "user_locked"} <= {
        notice["code"] for notice in data["plan"]["notices"]
    }  # the JSON carries the codes
    assert "create user lena@example.com" not in run(env, capsys, "test")[1]


def test_a_user_locked_after_sync_is_suspended_with_the_reason(env, capsys):
    directory = env.directory
    directory.add_user("lena", "Lena", "Locked", groups=("google_apps_plugin",))
    assert run(env, capsys, "sync")[0] == 0
    directory.admin().modify_s(directory.user_dn("lena"), [(ldap.MOD_REPLACE, "clearAccountStatus", [b"disabled"])])
    code, out = run(env, capsys, "test")
    assert code == 2 and "suspend user lena@example.com (locked in the directory)" in out
    assert "not created in Google" not in out  # the account exists: the suspension says it all
    assert run(env, capsys, "sync")[0] == 0
    assert env.emulator.get_user("lena@example.com")["suspended"] is True


def test_an_administrator_whose_local_user_is_locked_is_told_so(env, capsys):
    directory = env.directory
    admin = env.settings.google.admin_email
    directory.add_user(admin.partition("@")[0], "Ada", "Admin", mail=admin, groups=("google_apps_plugin",), locked=True)
    plan = SyncEngine(env.settings).test().plan
    notices = [notice for notice in plan.notices if notice.subject == admin]
    assert [notice.code for notice in notices] == [NoticeCode.ADMIN_LOCAL_USER_LOCKED]
    assert "unlock the account" in notices[0].message and "Google Apps option" not in notices[0].message


def windows_group(directory, name, gid, sid=None, uids=()):
    """A Windows group as ClearOS's Samba app writes it: a posixGroup mapped to a Samba SID (or, without Samba's
    attributes, only its fixed gidNumber), beside the user groups."""
    return directory.add_entry(
        directory.group_dn(name),
        {
            "objectClass": ["top", "posixGroup", "extensibleObject", *(["sambaGroupMapping"] if sid else [])],
            "cn": name,
            "gidNumber": gid,
            "sambaSID": sid,
            "sambaGroupType": (4 if sid.startswith("S-1-5-32-") else 2) if sid else None,
            "member": [directory.user_dn(uid) for uid in uids] or [directory.no_members_dn],
        },
    )


DOMAIN_SID = "S-1-5-21-1111-2222-3333"


def test_windows_groups_are_never_synchronized(env, capsys):
    directory = env.directory
    directory.add_no_members_account()
    for uid in ("alice", "bob"):
        directory.add_user(uid, uid.capitalize(), "Martin", groups=("google_apps_plugin",))
    clearos_group(directory, "sales", ["alice"])
    windows_group(directory, "domain_admins", 1000512, f"{DOMAIN_SID}-512", ["alice"])
    windows_group(directory, "domain_users", 1000513, f"{DOMAIN_SID}-513", ["alice", "bob"])
    windows_group(directory, "administrators", 1000544, "S-1-5-32-544")
    windows_group(directory, "power_users", 1000547)  # no Samba attributes: ClearOS's fixed gidNumber tells
    windows_group(directory, "projects", 61000, f"{DOMAIN_SID}-3001", ["bob"])  # an ordinary group, mapped for Windows

    code, out = run(env, capsys, "sync")
    assert code == 0, out
    assert {group["email"] for group in env.emulator.groups()} == {"sales@example.com", "projects@example.com"}
    assert "domain_" not in out and "administrators" not in out and "power_users" not in out
    source = LdapSource(env.settings.ldap)
    assert source.read_group("domain_users") is None and source.read_group("projects").member_uids == {"bob"}
    assert [group.name for group in source.read_groups_of(source.read_user("alice"))] == ["sales"]

    env.write_config(groups="sales domain_users")
    code, out = run(env, capsys, "check")
    assert code != 0 and "[sync] groups names domain_users, which is never synchronized" in out, out
