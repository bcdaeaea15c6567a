"""Who goes to Google ([sources]): subtrees, groups (nested followed) and the per-user switch, alone and mixed; the
three sync methods; placement by subtree; the pilot; a missing source; narrowing previewed and held to the limits.

A real slapd with several OUs and nested groups, the emulator over HTTP and the real client, the command line.
"""

import time

import ldap
import pytest
from waiting import wait_for

from app_google_sync import cli
from app_google_sync.libraries.directory.ldap_source import LdapSource
from app_google_sync.libraries.settings import config
from app_google_sync.libraries.state.store import Store
from app_google_sync.libraries.sync.sources_preview import preview

DOMAIN = "example.com"


def run_cli(env, *args) -> int:
    return cli.main(["--config", str(env.config_path), *args])


def build_organisation(directory) -> None:
    """ou=Staff (ann; bob in its sub-OU Berlin), ou=Contractors (carl), and at the top dave (Google Apps switch on),
    erin (in backend, nested in engineering), frank (engineering) and gina (nothing); leavers holds carl."""
    directory.add_ou("Staff/Berlin")
    directory.add_ou("Contractors")
    people = [
        ("ann", "Ann", "Archer", "Staff"),
        ("bob", "Bob", "Baker", "Staff/Berlin"),
        ("carl", "Carl", "Cole", "Contractors"),
        ("dave", "Dave", "Dunn", ""),
        ("erin", "Erin", "Eames", ""),
        ("frank", "Frank", "Fox", ""),
        ("gina", "Gina", "Gray", ""),
    ]
    for uid, given, family, ou in people:
        directory.add_user(uid, given, family, password="Pass-word-1", ou=ou)
    directory.add_to_group("google_apps_plugin", "dave")
    directory.add_group("backend", members=["erin"], group_of_names=True)
    directory.add_group("engineering", members=["frank"], group_of_names=True)
    directory.admin().modify_s(
        directory.group_dn("engineering"), [(ldap.MOD_ADD, "member", [directory.group_dn("backend").encode()])]
    )
    directory.add_group("leavers", members=["carl"])


@pytest.fixture
def org(env):
    build_organisation(env.directory)
    return env


def in_scope(env, **sources) -> set[str]:
    settings = config.SourceSettings(**sources)
    with LdapSource(env.directory.settings(), sources=settings) as source:
        return {user.uid for user in source.read_state().users if user.in_scope}


def staff(env, one_level: bool = False, org_unit: str = "") -> "config.schema.Subtree":
    return config.schema.Subtree(env.directory.ou_dn("Staff"), sub_ous=not one_level, org_unit=org_unit)


def write_sources(env, sync=None, **sources) -> None:
    env.write_config(sections={"sources": sources}, **(sync or {}))


def google_users(env) -> dict[str, dict]:
    return {user["primaryEmail"]: user for user in env.emulator.users()}


def active(env) -> set[str]:
    return {
        email.partition("@")[0]
        for email, user in google_users(env).items()
        if not user.get("suspended") and email != "admin@example.com"
    }


def suspended(env) -> set[str]:
    return {email.partition("@")[0] for email, user in google_users(env).items() if user.get("suspended")}


def groups(env) -> set[str]:
    return {group["email"] for group in env.emulator.groups()}


# -- each kind of source, alone and mixed --------------------------------------------------------------------------


def test_the_switch_alone_is_the_default_so_a_clearos_configuration_works_unchanged(org):
    assert in_scope(org) == {"dave"}
    assert run_cli(org, "sync") == 0
    assert active(org) == {"dave"}


def test_a_subtree_with_its_sub_ous_or_one_level(org):
    assert in_scope(org, subtrees=(staff(org),)) == {"ann", "bob"}
    assert in_scope(org, subtrees=(staff(org, one_level=True),)) == {"ann"}


def test_a_group_source_follows_nested_groups(org):
    assert in_scope(org, member_groups=("engineering",)) == {"frank", "erin"}
    assert in_scope(org, member_groups=("backend",)) == {"erin"}


def test_sources_mixed_with_the_switch_and_an_exclusion(org):
    contractors = config.schema.Subtree(org.directory.ou_dn("Contractors"))
    mixed = dict(subtrees=(staff(org), contractors), member_groups=("engineering",), switch="yes")
    assert in_scope(org, **mixed) == {"ann", "bob", "carl", "dave", "erin", "frank"}
    assert in_scope(org, **mixed, exclusion_groups=("leavers",)) == {"ann", "bob", "dave", "erin", "frank"}
    # Given other sources and no say on the switch, the switch is not one of them.
    assert in_scope(org, subtrees=(contractors,)) == {"carl"}


def test_mixed_sources_from_the_command_line(org):
    write_sources(
        org,
        subtrees=f"{org.directory.ou_dn('Staff')}; {org.directory.ou_dn('Contractors')}",
        member_groups="engineering",
        switch="yes",
        exclusion_groups="leavers",
    )
    assert run_cli(org, "sync") == 0
    assert active(org) == {"ann", "bob", "dave", "erin", "frank"}


# -- a missing source stops the run ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "sources, named",
    [
        ({"subtrees": "ou=Gone,ou=Users,ou=Accounts,dc=example,dc=com"}, "[sources] subtrees names ou=Gone"),
        ({"member_groups": "engineering no_such_team"}, "[sources] member_groups names no_such_team"),
        (
            {"member_groups": "engineering", "exclusion_groups": "old_leavers"},
            "[sources] exclusion_groups names old_leavers",
        ),
    ],
)
def test_a_missing_source_stops_the_run_and_suspends_nobody(org, capsys, sources, named):
    write_sources(org, member_groups="engineering")
    assert run_cli(org, "sync") == 0
    assert active(org) == {"erin", "frank"}
    write_sources(org, **sources)
    capsys.readouterr()
    assert run_cli(org, "sync") == 1
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err
    assert suspended(org) == set() and active(org) == {"erin", "frank"}
    assert run_cli(org, "check") == 1
    assert named in capsys.readouterr().out


def test_a_source_subtree_outside_users_dn_is_refused_when_the_file_is_read(org, capsys):
    write_sources(org, subtrees="ou=Elsewhere,dc=example,dc=com")
    assert run_cli(org, "test") == 1
    assert "not under [ldap] users_dn" in capsys.readouterr().err


def test_check_validates_every_source(org, capsys):
    write_sources(org, subtrees=org.directory.ou_dn("Staff"), member_groups="engineering", exclusion_groups="leavers")
    capsys.readouterr()
    run_cli(org, "check")
    out = capsys.readouterr().out
    assert f"PASS  sources: subtree {org.directory.ou_dn('Staff')}: 2 user(s)" in out
    assert "PASS  sources: group engineering: 2 user(s)" in out
    assert "PASS  sources: exclusion group leavers: 1 user(s)" in out
    assert "PASS  sources: 4 user(s) in scope" in out


# -- the three sync methods -----------------------------------------------------------------------------------------


def test_method_users_only(org):
    write_sources(org, sync={"groups": "none"}, member_groups="engineering", method="users")
    assert run_cli(org, "sync") == 0
    assert active(org) == {"erin", "frank"}
    assert groups(org) == set()


def test_method_target_group_keeps_one_group_exactly_in_step(org):
    write_sources(
        org,
        sync={"groups": "none"},
        subtrees=org.directory.ou_dn("Staff"),
        method="target_group",
        target_group="all-staff",
    )
    org.emulator.add_group("all-staff@example.com", name="All staff")
    org.emulator.add_user("stranger@example.com", "Some", "Stranger")
    org.emulator.add_member("all-staff@example.com", "stranger@example.com")  # added by hand in Google: removed
    assert run_cli(org, "sync") == 0
    assert groups(org) == {"all-staff@example.com"}
    assert sorted(org.emulator.members("all-staff@example.com")) == ["ann@example.com", "bob@example.com"]

    org.directory.add_user("hana", "Hana", "Hill", password="Pass-word-1", ou="Staff")  # comes
    org.directory.delete_user("ann")  # goes
    assert run_cli(org, "sync") == 0
    assert sorted(org.emulator.members("all-staff@example.com")) == ["bob@example.com", "hana@example.com"]
    assert "ann" in suspended(org)
    assert run_cli(org, "test") == 0  # in step: nothing left to do


def test_method_target_group_creates_the_group_when_missing(org):
    write_sources(
        org,
        sync={"groups": "none"},
        member_groups="engineering",
        method="target_group",
        target_group="everyone@example.com",
    )
    assert run_cli(org, "sync") == 0
    assert groups(org) == {"everyone@example.com"}
    assert sorted(org.emulator.members("everyone@example.com")) == ["erin@example.com", "frank@example.com"]


def test_method_source_groups_mirrors_each_source_group_with_its_nesting(org):
    write_sources(org, sync={"groups": "none"}, member_groups="engineering", method="source_groups")
    assert run_cli(org, "sync") == 0
    assert groups(org) == {"engineering@example.com", "backend@example.com"}
    assert sorted(org.emulator.members("engineering@example.com")) == ["backend@example.com", "frank@example.com"]
    assert org.emulator.members("backend@example.com") == ["erin@example.com"]


# -- placement -------------------------------------------------------------------------------------------------------


def test_a_subtree_names_the_org_unit_of_its_users(org):
    write_sources(org, subtrees=f"{org.directory.ou_dn('Staff')} -> /Employees; {org.directory.ou_dn('Contractors')}")
    assert run_cli(org, "sync") == 0
    users = google_users(org)
    assert users["ann@example.com"]["orgUnitPath"] == "/Employees"
    assert users["bob@example.com"]["orgUnitPath"] == "/Employees"
    assert users["carl@example.com"].get("orgUnitPath", "/") == "/"  # its subtree names no unit: left where it is

    write_sources(org, sync={"org_units": "dn"}, subtrees=f"{org.directory.ou_dn('Staff')} -> /Employees")
    assert run_cli(org, "sync") == 0
    assert google_users(org)["bob@example.com"]["orgUnitPath"] == "/Employees/Berlin"  # the OUs below the subtree


# -- the pilot -------------------------------------------------------------------------------------------------------


def test_a_pilot_widens_step_by_step_and_touches_nobody_outside_it(org):
    staff_dn = org.directory.ou_dn("Staff")
    everyone = dict(subtrees=f"{staff_dn}; {org.directory.ou_dn('Contractors')}", member_groups="engineering")
    write_sources(org, **everyone, pilot_users="carl")
    assert run_cli(org, "sync") == 0
    assert active(org) == {"carl"}
    write_sources(org, **everyone, pilot_source=staff_dn, pilot_users="carl")
    assert run_cli(org, "sync") == 0
    assert active(org) == {"ann", "bob", "carl"}

    # Within the pilot, someone leaving is suspended; outside it nothing changes, even for managed accounts.
    write_sources(org, **everyone, pilot_source="engineering")
    org.directory.delete_user("erin")
    assert run_cli(org, "sync") == 0
    assert active(org) == {"ann", "bob", "carl", "frank"} and suspended(org) == set()
    write_sources(org, **everyone)
    assert run_cli(org, "sync") == 0
    assert active(org) == {"ann", "bob", "carl", "frank"}


def test_a_pilot_naming_no_source_is_refused(org, capsys):
    write_sources(org, member_groups="engineering", pilot_source="sales")
    assert run_cli(org, "test") == 1
    assert "pilot_source = 'sales' is none of the sources" in capsys.readouterr().err


# -- narrowing -------------------------------------------------------------------------------------------------------


def test_narrowing_the_sources_is_previewed_then_refused_past_max_suspend(org, capsys):
    staff_dn, contractors_dn = org.directory.ou_dn("Staff"), org.directory.ou_dn("Contractors")
    write_sources(org, sync={"max_suspend": "1"}, subtrees=f"{staff_dn}; {contractors_dn}")
    assert run_cli(org, "sync") == 0
    settings = org.settings

    narrowed = preview(config.with_sources(settings, {"subtrees": contractors_dn, "member_groups": "engineering"}))
    assert narrowed.users == 3
    assert narrowed.coming_in == ("erin@example.com", "frank@example.com")
    assert narrowed.suspended == ("ann@example.com", "bob@example.com")
    assert any("would suspend 2" in refusal for refusal in narrowed.refusals)
    assert google_users(org)["ann@example.com"].get("suspended") is not True  # a preview writes nothing

    write_sources(org, sync={"max_suspend": "1"}, subtrees=contractors_dn)
    capsys.readouterr()
    assert run_cli(org, "sync") == 3
    assert "would suspend 2" in capsys.readouterr().err
    assert suspended(org) == set()
    assert run_cli(org, "sync", "--force") == 0
    assert suspended(org) == {"ann", "bob"}


def test_narrowing_a_source_group_under_watch_holds_past_the_budget(org):
    from app_google_sync.libraries.runtime.live import LiveSync

    for index in range(4):
        org.directory.add_user(f"dev{index}", "Dev", f"Number{index}", password="Pass-word-1")
        org.directory.add_to_group("engineering", f"dev{index}")
    write_sources(org, sync={"max_suspend": "1", "push_delay": "0.2"}, member_groups="engineering")
    assert run_cli(org, "sync") == 0
    assert active(org) == {"erin", "frank", "dev0", "dev1", "dev2", "dev3"}
    live = LiveSync(str(org.config_path))
    live.start()
    try:
        time.sleep(1.0)  # the watcher's first refresh
        for index in range(3):
            org.directory.remove_from_group("engineering", f"dev{index}")
        store = Store(org.settings.sync.database)
        assert wait_for(lambda: len(suspended(org)) + len(store.held()) >= 3 and not store.queued_pushes(), timeout=60)
    finally:
        live.stop()
    assert len(suspended(org)) == 1
    waiting = store.held()
    assert len(waiting) == 2 and all("max_suspend = 1" in change.reason for change in waiting)
