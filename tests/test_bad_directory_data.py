"""Directory data Google would refuse, or that names nothing, through the real command line against a
real slapd and the emulator: one notice naming the user or group and the fix, and the rest of the run applies."""

from __future__ import annotations

import logging

import ldap

from app_google_sync import cli
from app_google_sync.libraries.core.codes import NoticeCode
from app_google_sync.libraries.sync.engine import SyncEngine


def run(env, capsys, *args):
    code = cli.main(["--config", str(env.config_path), *args])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err
    return code, " ".join((captured.out + captured.err).split())


def notices(env, subject):
    return {
        notice.code: notice.message
        for notice in SyncEngine(env.settings).test().plan.notices
        if notice.subject == subject
    }


def test_a_name_with_angle_brackets_is_reported_and_skipped(env, capsys):
    """Google's name rules allow any Unicode in a given name or surname but '<' and '>'."""
    directory = env.directory
    directory.add_user("alice", "Alice", "Martin", groups=("google_apps_plugin",))
    directory.add_user("mallory", "<b>Mallory", "Black", groups=("google_apps_plugin",))
    directory.add_user("oscar", "Oscar", "Wilde>", groups=("google_apps_plugin",))
    directory.add_user("zoe", "Zoë 😀", "Çelik-Ünal / d'Arc", groups=("google_apps_plugin",))  # all allowed

    code, out = run(env, capsys, "sync")
    assert code == 0, out
    assert (
        "mallory: skipped: given name '<b>Mallory' contains '<' or '>', which Google does not allow in names: remove them from givenName"
        in out
    )
    assert (
        "oscar: skipped: surname 'Wilde>' contains '<' or '>', which Google does not allow in names: remove them from sn"
        in out
    )
    assert {user["primaryEmail"] for user in env.emulator.users()} == {
        "admin@example.com",
        "alice@example.com",
        "zoe@example.com",
    }
    assert notices(env, "mallory").keys() == {NoticeCode.USER_INVALID}


def test_member_dns_naming_no_user_are_reported_once_per_group(env, capsys):
    directory = env.directory
    directory.add_user("alice", "Alice", "Martin", groups=("google_apps_plugin",))
    directory.add_entry(
        directory.group_dn("sales"),
        {
            "objectClass": ["top", "groupOfNames"],
            "cn": "sales",
            "member": [directory.user_dn("alice"), f"cn=Nobody Here,{directory.users_dn}", directory.no_members_dn],
        },
    )
    directory.add_group("support", members=("alice", "ghost"))  # memberUid naming no user: reported as before

    code, out = run(env, capsys, "sync")
    assert code == 0, out
    assert env.emulator.members("sales@example.com") == ["alice@example.com"]
    message = notices(env, "sales")[NoticeCode.MEMBERS_UNKNOWN]
    assert f"cn=nobody here,{directory.users_dn.lower()}" in message and "no such entry" in message
    assert "no members" not in message  # ClearOS's placeholder is no member, and no problem
    assert "ghost" in notices(env, "support")[NoticeCode.MEMBERS_UNKNOWN]


def test_a_member_dn_of_a_reserved_group_is_not_called_unknown(env, capsys):
    directory = env.directory
    directory.add_user("alice", "Alice", "Martin", groups=("google_apps_plugin",))
    directory.add_group("allusers", members=("alice",))
    directory.add_entry(
        directory.group_dn("sales"),
        {
            "objectClass": ["top", "groupOfNames"],
            "cn": "sales",
            "member": [directory.user_dn("alice"), directory.group_dn("allusers")],
        },
    )
    assert NoticeCode.MEMBERS_UNKNOWN not in notices(env, "sales")


def test_reserved_groups_are_left_out_whatever_their_case(env, capsys):
    directory = env.directory
    directory.add_user("alice", "Alice", "Martin", groups=("google_apps_plugin",))
    directory.add_group("sales", members=("alice",))
    directory.add_group("AllUsers", members=("alice",))
    directory.add_group("GUESTS", members=("alice",))
    code, out = run(env, capsys, "sync")
    assert code == 0, out
    assert {group["email"] for group in env.emulator.groups()} == {"sales@example.com"}
    assert "allusers" not in out.lower() and "guests" not in out.lower()


def test_a_cleartext_password_google_would_refuse_is_not_pushed(env, capsys, caplog):
    """Google requires 8 to 100 characters; a hash hides the length from Google, so the tool checks it."""
    directory = env.directory
    for uid, password in (("shorty", "abc"), ("longo", "a" * 101), ("fine", "Exactly8")):
        directory.add_user(uid, uid.title(), "User", groups=("google_apps_plugin",))
        directory.admin().modify_s(directory.user_dn(uid), [(ldap.MOD_REPLACE, "userPassword", [password.encode()])])

    caplog.set_level(logging.INFO)
    code, out = run(env, capsys, "sync")
    assert code == 0, out
    assert (
        "shorty: password not synchronized: userPassword holds a cleartext password shorter than the 8 characters Google requires"
        in out
    )
    assert (
        "longo: password not synchronized: userPassword holds a cleartext password longer than the 100 characters Google allows"
        in out
    )
    assert "fine: password not synchronized" not in out
    assert {user["primaryEmail"] for user in env.emulator.users()} >= {
        "shorty@example.com",
        "longo@example.com",
        "fine@example.com",
    }
    assert "abc" not in out and "a" * 101 not in out and "abc" not in caplog.text


def test_a_user_skipped_for_bad_data_keeps_its_google_groups(env, capsys):
    """Skipping a user leaves its Google account as it is, memberships included: one typo loses nothing."""
    directory = env.directory
    directory.add_user("alice", "Alice", "Martin", mail="alice@example.com", groups=("google_apps_plugin",))
    directory.add_user("bob", "Bob", "Dupont", mail="bob@example.com", groups=("google_apps_plugin",))
    directory.add_user("carol", "Carol", "Nguyen", groups=("google_apps_plugin",))
    directory.add_group("sales", members=("alice", "bob", "carol"))
    assert run(env, capsys, "sync")[0] == 0
    members = ["alice@example.com", "bob@example.com", "carol@example.com"]
    assert sorted(env.emulator.members("sales@example.com")) == members

    directory.modify_user("alice", sn="Martin>")  # a name Google refuses
    directory.modify_user("bob", mail="carol@example.com")  # an address two users now claim
    code, out = run(env, capsys, "test")
    assert code == 0, out  # nothing to change: the skipped users' memberships are left as they are
    assert "remove member" not in out
    message = notices(env, "sales")[NoticeCode.MEMBERS_SKIPPED]
    assert message.startswith("3 member(s) skipped, their membership left as it is in Google: alice, bob, carol")
    assert run(env, capsys, "sync")[0] == 0
    assert sorted(env.emulator.members("sales@example.com")) == members


def test_pushes_also_leave_a_skipped_users_groups_alone(env, capsys):
    """The watcher and the user manager push one user or group at a time: the same protection applies."""
    directory = env.directory
    directory.add_user("alice", "Alice", "Martin", groups=("google_apps_plugin",))
    directory.add_user("bob", "Bob", "Dupont", groups=("google_apps_plugin",))
    directory.add_group("sales", members=("alice", "bob"))
    assert run(env, capsys, "sync")[0] == 0
    directory.modify_user("alice", givenName="<Alice>")

    engine = SyncEngine(env.settings)
    user_push = engine.plan_user_push("alice")
    group_push = engine.plan_group_push("sales")
    assert user_push.changes == () and group_push.changes == ()
    assert NoticeCode.USER_INVALID in {notice.code for notice in user_push.notices}
    engine.push_group("sales")
    assert sorted(env.emulator.members("sales@example.com")) == ["alice@example.com", "bob@example.com"]


def test_a_push_logs_why_it_skipped_a_user(env, caplog):
    """The watcher and the worker push without a terminal: their log says what a test would have said."""
    from app_google_sync.libraries.runtime import jobs

    env.directory.add_user("alice", "Alice", "Martin>", groups=("google_apps_plugin",))
    caplog.set_level(logging.INFO)
    jobs.run_push(str(env.config_path), "user", "alice")
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name.endswith("jobs")]
    assert warnings == [
        "push of user alice: alice: skipped: surname 'Martin>' contains '<' or '>', which Google does not allow in names: remove them from sn"
    ]
