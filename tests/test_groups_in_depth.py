"""Groups beyond membership: nesting, cycles, members outside the scope, groups that leave."""

import pytest

from app_google_sync import cli
from app_google_sync.libraries.core.errors import GoogleSyncError
from app_google_sync.libraries.sync.engine import SyncEngine


def run(env, capsys, *args):
    code = cli.main(["--config", str(env.config_path), *args])
    captured = capsys.readouterr()
    return code, " ".join((captured.out + captured.err).split())


def people(directory, *uids):
    for uid in uids:
        directory.add_user(uid, uid.capitalize(), "Tester", groups=("google_apps_plugin",))


def test_a_nested_group_becomes_a_group_member_and_a_cycle_is_reported(env, capsys):
    directory = env.directory
    people(directory, "alice", "bob")
    directory.add_group_of_names("sales", [directory.user_dn("alice")])
    directory.add_group_of_names("emea", [directory.user_dn("bob"), directory.group_dn("sales")])
    directory.add_group_of_names("loop-a", [directory.user_dn("alice")])
    directory.add_group_of_names("loop-b", [directory.group_dn("loop-a")])
    directory.admin().modify_s(
        directory.group_dn("loop-a"),
        [(2, "member", [directory.user_dn("alice").encode(), directory.group_dn("loop-b").encode()])],
    )
    code, out = run(env, capsys, "test")
    assert "add member emea@example.com ← sales@example.com" in out
    assert "nested group loop-b leads back to loop-a" in out and "nested group loop-a leads back to loop-b" in out
    assert run(env, capsys, "sync")[0] == 0
    assert sorted(env.emulator.members("emea@example.com")) == ["bob@example.com", "sales@example.com"]
    assert env.emulator.members("loop-a@example.com") == ["alice@example.com"]
    assert env.emulator.members("loop-b@example.com") == []
    env.emulator.reset_calls()
    assert run(env, capsys, "sync")[0] == 0 and env.emulator.write_calls() == []


def test_group_push_keeps_nested_groups(env, capsys):
    directory = env.directory
    people(directory, "alice", "bob")
    directory.add_group_of_names("sales", [directory.user_dn("alice")])
    directory.add_group_of_names("emea", [directory.group_dn("sales")])
    run(env, capsys, "sync")
    directory.admin().modify_s(directory.group_dn("emea"), [(0, "member", [directory.user_dn("bob").encode()])])
    report = SyncEngine(env.settings).push_group("emea")
    assert [r.change.action for r in report.results] == ["add member"]
    assert sorted(env.emulator.members("emea@example.com")) == ["bob@example.com", "sales@example.com"]


def test_members_outside_the_scope_are_warned_or_promoted(env, capsys):
    directory = env.directory
    people(directory, "alice")
    directory.add_user("carol", "Carol", "Outside")  # no Google Apps option
    directory.add_user("dave", "Dave", "Locked", locked=True)
    directory.add_group("sales", members=("alice", "carol", "dave"))
    code, out = run(env, capsys, "test")
    assert (
        "WARNING: sales: 1 member(s) not synchronized to Google, left out of the group: carol (turn on their Google Apps option"
        in out
    )
    assert "WARNING: sales: 1 member(s) locked, left out of the group: dave; each is locked in the directory" in out
    env.write_config(create_missing_members="yes")
    code, out = run(env, capsys, "test")
    assert "create user carol@example.com" in out and "add member sales@example.com ← carol@example.com" in out
    assert "create user dave@example.com" not in out  # locked stays out
    assert run(env, capsys, "sync")[0] == 0
    assert sorted(env.emulator.members("sales@example.com")) == ["alice@example.com", "carol@example.com"]


def test_a_group_that_leaves_is_left_in_google_with_its_members(env, capsys):
    people(env.directory, "alice")
    env.directory.add_group("sales", members=("alice",))
    run(env, capsys, "sync")
    env.directory.delete_group("sales")
    code, out = run(env, capsys, "sync")
    assert code == 0 and "sales@example.com: group no longer synchronized" in out
    assert env.emulator.members("sales@example.com") == ["alice@example.com"]


def configure_posting(env, default):
    env.write_config(posting_policy=default)
    with open(env.config_path, "a") as config:
        config.write("\n[posting_policy]\nsupport = anyone\n")


def test_posting_policy_is_set_and_changed_through_the_groups_settings_api(env, capsys):
    people(env.directory, "alice")
    env.directory.add_group("sales", members=("alice",))
    env.directory.add_group("support", members=("alice",))
    configure_posting(env, "members")
    code, out = run(env, capsys, "test")
    assert "set posting sales@example.com (as Google has it → members (ALL_MEMBERS_CAN_POST))" in out
    assert run(env, capsys, "sync")[0] == 0
    assert env.emulator.group_settings("sales@example.com")["whoCanPostMessage"] == "ALL_MEMBERS_CAN_POST"
    support = env.emulator.group_settings("support@example.com")
    assert (support["whoCanPostMessage"], support["messageModerationLevel"]) == (
        "ANYONE_CAN_POST",
        "MODERATE_NON_MEMBERS",
    )
    env.emulator.reset_calls()
    assert run(env, capsys, "sync")[0] == 0 and env.emulator.write_calls() == []
    configure_posting(env, "domain")
    code, out = run(env, capsys, "sync")
    assert "set posting sales@example.com" in out and "set posting support@example.com" not in out
    assert env.emulator.group_settings("sales@example.com")["whoCanPostMessage"] == "ALL_IN_DOMAIN_CAN_POST"


def test_check_asks_for_the_groups_settings_scope_only_when_posting_is_managed(env, capsys):
    assert "apps.groups.settings" not in run(env, capsys, "check")[1]
    env.write_config(posting_policy="members")
    code, out = run(env, capsys, "check")
    assert code == 0 and "PASS https://www.googleapis.com/auth/apps.groups.settings" in out


def test_org_units_follow_the_directory_tree(env, capsys):
    directory = env.directory
    env.write_config(org_units="dn", org_unit_root="/Staff")
    sales = f"ou=Sales,{directory.users_dn}"
    emea = f"ou=EMEA,{sales}"
    for dn, name in ((sales, "Sales"), (emea, "EMEA")):
        directory.add_entry(dn, {"objectClass": ["top", "organizationalUnit"], "ou": name})
    people(directory, "alice", "bob")
    directory.admin().rename_s(directory.user_dn("alice"), "cn=Alice Tester", emea)
    code, out = run(env, capsys, "test")
    assert "create org unit /Staff" in out and "create org unit /Staff/Sales/EMEA" in out
    assert run(env, capsys, "sync")[0] == 0
    assert env.emulator.get_user("alice@example.com")["orgUnitPath"] == "/Staff/Sales/EMEA"
    assert env.emulator.get_user("bob@example.com")["orgUnitPath"] == "/Staff"
    directory.admin().rename_s(f"cn=Alice Tester,{emea}", "cn=Alice Tester", sales)  # she moves
    code, out = run(env, capsys, "test")
    assert "orgUnitPath: '/Staff/Sales/EMEA' → '/Staff/Sales'" in out and "create org unit" not in out
    assert run(env, capsys, "sync")[0] == 0
    assert env.emulator.get_user("alice@example.com")["orgUnitPath"] == "/Staff/Sales"
    assert run(env, capsys, "test")[0] == 0


def test_deleting_a_removed_group_is_an_explicit_opt_in_for_groups_we_created(env, capsys):
    people(env.directory, "alice")
    env.directory.add_group("sales", members=("alice",))
    env.emulator.add_group("legacy@example.com", "legacy")  # existed before: adopted, never deletable
    env.directory.add_group("legacy", members=("alice",))
    run(env, capsys, "sync")
    engine = SyncEngine(env.settings)
    with pytest.raises(GoogleSyncError, match="still synchronized"):
        engine.delete_group("sales@example.com")
    env.directory.delete_group("sales")
    env.directory.delete_group("legacy")
    assert {link.email for link in engine.removed_groups()} == {"sales@example.com", "legacy@example.com"}
    with pytest.raises(GoogleSyncError, match="existed in Google before"):
        engine.delete_group("legacy@example.com")
    report = engine.delete_group("sales@example.com")
    assert report.outcome == "applied"
    assert {g["email"] for g in env.emulator.groups()} == {"legacy@example.com"}
    assert [link.email for link in engine.removed_groups()] == ["legacy@example.com"]


def test_groups_none_synchronizes_users_only(env, capsys):
    people(env.directory, "alice")
    env.directory.add_group("sales", members=("alice",))
    env.write_config(groups="none")
    code, out = run(env, capsys, "test")
    assert "create user alice@example.com" in out and "create group" not in out and "add member" not in out


def test_a_plain_openldap_directory_inetorgperson_and_groupofuniquenames(env, capsys):
    directory = env.directory
    text = env.config_path.read_text().replace("enabled_group = google_apps_plugin", "enabled_group =")
    env.config_path.write_text(text)
    person = {
        "objectClass": ["top", "inetOrgPerson"],
        "uid": "pat",
        "cn": "Pat Plain",
        "givenName": "Pat",
        "sn": "Plain",
    }
    directory.add_entry(f"uid=pat,{directory.users_dn}", person)
    directory.add_entry(
        f"cn=contact,{directory.users_dn}", {"objectClass": ["top", "inetOrgPerson"], "cn": "contact", "sn": "Card"}
    )
    directory.add_entry(
        directory.group_dn("team"),
        {
            "objectClass": ["top", "groupOfUniqueNames"],
            "cn": "team",
            "uniqueMember": [f"uid=pat,{directory.users_dn}#'0101'B"],
        },
    )
    code, out = run(env, capsys, "test")
    assert "create user pat@example.com" in out and "add member team@example.com ← pat@example.com" in out
    assert "contact" not in out
