"""Every domain of the account: secondary domains and domain aliases, listed in the file or read from Google."""

import json

from app_google_sync import cli
from app_google_sync.libraries.core.model import DirectoryState, DirectoryUser, GoogleState, LinkState
from app_google_sync.libraries.google.google_target import DOMAIN_SCOPE, check_access, required_scopes
from app_google_sync.libraries.settings.config import GoogleSettings, Settings
from app_google_sync.libraries.sync.planner import build_plan

PLUGIN = ("google_apps_plugin",)


def run(env, *args):
    return cli.main(["--config", str(env.config_path), *args])


def plan_json(env, capsys):
    capsys.readouterr()
    run(env, "test", "--json")
    return json.loads(capsys.readouterr().out)["plan"]


def with_domains(env, **google):
    env.emulator.add_domain("example.org")
    env.emulator.add_domain("example.net", alias_of="example.org")
    env.write_config(google_options=google)


def test_users_and_groups_in_a_secondary_domain_are_created_and_renamed_across_domains(env, capsys):
    with_domains(env, domains="example.org", default_domain="example.org")
    env.directory.add_user(
        "alice",
        "Alice",
        "Tester",
        mail="alice@example.org",
        groups=PLUGIN,
        extra_attrs={"mailLocalAddress": ["ali@example.com", "ali@example.net"]},
    )
    env.directory.add_user("bob", "Bob", "Tester", groups=PLUGIN)  # no mail: the default domain
    env.directory.add_user("carol", "Carol", "Tester", mail="carol@nowhere.test", groups=PLUGIN)
    env.directory.add_group("staff", members=("alice", "bob"), mail="staff@example.org")
    plan = plan_json(env, capsys)
    actions = {(change["action"], change["object"]) for change in plan["changes"]}
    assert {
        ("create user", "alice@example.org"),
        ("create user", "bob@example.org"),
        ("create group", "staff@example.org"),
        ("add alias", "alice@example.org ← ali@example.com"),
    } <= actions
    # the domain alias example.net is not listed in the file: that alias is reported, not pushed
    carol = [n["message"] for n in plan["notices"] if n["object"] == "carol"]
    assert carol == [
        "skipped: address carol@nowhere.test is in none of the account's domains; these would work: example.com, example.org "
        "(give the entry an address in one of them, or add its domain to Google and to [google] domains)"
    ]
    assert run(env, "sync") == 0
    alice = env.emulator.get_user("alice@example.org")
    assert alice["aliases"] == ["ali@example.com"]
    assert sorted(env.emulator.members("staff@example.org")) == ["alice@example.org", "bob@example.org"]
    env.directory.modify_user("alice", mail="alice@example.com")  # moves to the primary domain
    plan = plan_json(env, capsys)
    assert [(c["action"], c["object"]) for c in plan["changes"]] == [("update user", "alice@example.com")]
    assert run(env, "sync") == 0
    assert env.emulator.get_user(alice["id"])["primaryEmail"] == "alice@example.com"
    assert run(env, "test") == 0, "a second run must find every domain's users and groups in step"


def test_domains_read_from_google_include_domain_aliases_and_need_their_scope(env, capsys):
    with_domains(env, domains="*")
    env.directory.add_user(
        "alice",
        "Alice",
        "Tester",
        mail="alice@example.org",
        groups=PLUGIN,
        extra_attrs={"mailLocalAddress": ["ali@example.net"]},
    )
    assert DOMAIN_SCOPE in required_scopes(env.settings)
    checks = {check.name: check for check in check_access(env.settings)}
    assert checks[DOMAIN_SCOPE].ok and checks[DOMAIN_SCOPE].detail == "domains: example.com, example.net, example.org"
    assert run(env, "sync") == 0
    assert env.emulator.get_user("alice@example.org")["aliases"] == ["ali@example.net"]
    reads = [call for call in env.emulator.calls if "/domains" in call["path"]]
    assert reads, "the domains come from domains.list"


def test_a_scope_not_delegated_is_named_by_check(env):
    env.emulator.add_domain("example.org")
    key = env.emulator.create_service_account(scopes=list(required_scopes(Settings())))
    env.key_path.write_text(json.dumps(key))
    env.write_config(google_options={"domains": "*"})
    checks = {check.name: check for check in check_access(env.settings)}
    assert not checks["token"].ok and DOMAIN_SCOPE in checks["token"].detail


def test_without_domains_a_secondary_domain_address_is_skipped_and_google_is_read_by_domain(env, capsys):
    env.emulator.add_domain("example.org")
    env.emulator.add_user("someone@example.org", "Some", "One")
    env.directory.add_user("alice", "Alice", "Tester", mail="alice@example.org", groups=PLUGIN)
    plan = plan_json(env, capsys)
    assert plan["changes"] == []
    assert any(
        "outside the Google domain example.com" in n["message"] for n in plan["notices"] if n["object"] == "alice"
    )
    assert DOMAIN_SCOPE not in required_scopes(env.settings)
    lists = [call for call in env.emulator.calls if call["path"].endswith("/users")]
    assert lists and all(call["query"].get("domain") == "example.com" for call in lists)


def test_a_default_domain_outside_the_listed_ones_is_refused_at_load(tmp_path):
    import pytest

    from app_google_sync.libraries.core.errors import ConfigError
    from app_google_sync.libraries.settings import config

    path = tmp_path / "c.conf"
    path.write_text(
        f"[ldap]\nbase_dn = dc=x\n[google]\ndomain = example.com\nadmin_email = a@example.com\ndomains = example.org\n"
        f"default_domain = example.net\n[sync]\nstate_dir = {tmp_path}\n"
    )
    with pytest.raises(
        ConfigError,
        match=r"\[google\] default_domain = 'example.net': not one of the account's domains \(example.com, example.org\)",
    ):
        config.load(str(path))


def test_planner_uses_the_domains_google_lists():
    settings = Settings(google=GoogleSettings(domain="example.com", admin_email="admin@example.com", domains=("*",)))
    user = DirectoryUser(uuid="u1", dn="", uid="dan", given_name="Dan", family_name="T", mail="dan@example.org")
    desired = DirectoryState(users=(user,), groups=())
    unread = build_plan(
        desired, GoogleState(users=(), groups=(), domains=frozenset({"example.com"})), LinkState(), settings
    )
    assert not unread.changes and "outside the Google domain example.com" in unread.notices[0].message
    read = build_plan(
        desired,
        GoogleState(users=(), groups=(), domains=frozenset({"example.com", "example.org"})),
        LinkState(),
        settings,
    )
    assert [c.action for c in read.changes] == ["create user"]


def test_an_unverified_domain_is_listed_by_google_but_takes_no_address(env, capsys):
    """domains.list shows every domain and domain alias with ``verified``; Google makes no user, group or alias
    in one not verified yet: such a user is reported (naming the domain and the fix), never sent to fail."""
    env.emulator.add_domain("example.org")
    env.emulator.add_domain("pending.test", verified=False)
    env.emulator.add_domain("alias-pending.test", alias_of="example.org", verified=False)
    env.write_config(google_options={"domains": "*"})
    env.directory.add_user(
        "alice",
        "Alice",
        "Tester",
        mail="alice@example.org",
        groups=PLUGIN,
        extra_attrs={"mailLocalAddress": ["ali@alias-pending.test"]},
    )
    env.directory.add_user("dave", "Dave", "Tester", mail="dave@pending.test", groups=PLUGIN)
    from app_google_sync.emulator import resources

    listed = {name: resources.domain(name, env.emulator.directory) for name in env.emulator.directory.domains}
    assert (
        listed["pending.test"]["verified"] is False and listed["example.org"]["domainAliases"][0]["verified"] is False
    )
    checks = {check.name: check for check in check_access(env.settings)}
    assert checks[DOMAIN_SCOPE].detail == (
        "domains: example.com, example.org; not verified (no address is made there until "
        "verified in the Admin console): alias-pending.test, pending.test"
    )
    plan = plan_json(env, capsys)
    assert [(c["action"], c["object"]) for c in plan["changes"]] == [("create user", "alice@example.org")]
    dave = [n["message"] for n in plan["notices"] if n["object"] == "dave"]
    assert dave == [
        "skipped: address dave@pending.test is in the domain pending.test, which Google lists but has not verified: "
        "no user or group can have an address there until it is verified (Admin console, Account > Domains)"
    ]
    assert run(env, "sync") == 0
    assert "aliases" not in env.emulator.get_user("alice@example.org"), "no alias in a domain alias not verified"
    assert env.emulator.get_user("dave@pending.test") is None
