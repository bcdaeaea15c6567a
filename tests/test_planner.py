"""The planner with plain values: every rule of the sync, no I/O."""

from dataclasses import replace

import pytest

from app_google_sync.libraries.core.codes import NoticeCode
from app_google_sync.libraries.core.errors import UnsafePlan
from app_google_sync.libraries.core.model import (
    DirectoryGroup,
    DirectoryState,
    DirectoryUser,
    GoogleGroup,
    GoogleState,
    GoogleUser,
    Link,
    LinkState,
    PasswordHash,
)
from app_google_sync.libraries.settings.config import GoogleSettings, LdapSettings, Settings, SyncSettings
from app_google_sync.libraries.sync.plan import (
    AddMember,
    AdoptGroup,
    AdoptUser,
    CreateGroup,
    CreateUser,
    RemoveMember,
    SuspendUser,
    UnsuspendUser,
    UpdateUser,
    render_json,
    render_text,
)
from app_google_sync.libraries.sync.planner import build_plan
from app_google_sync.libraries.sync.safety import suspend_limit

SETTINGS = Settings(
    ldap=LdapSettings(users_dn="ou=Users,dc=x", groups_dn="ou=Groups,dc=x"),
    google=GoogleSettings(domain="example.com", admin_email="admin@example.com"),
    sync=SyncSettings(max_suspend="100%"),
)


def user(uid, given="Given", family="Family", **kw):
    return DirectoryUser(
        uuid=f"uuid-{uid}", dn=f"cn={given} {family},ou=Users", uid=uid, given_name=given, family_name=family, **kw
    )


def guser(uid, given="Given", family="Family", **kw):
    return GoogleUser(id=f"g-{uid}", primary_email=f"{uid}@example.com", given_name=given, family_name=family, **kw)


def link(uid, **kw):
    return Link(kind="user", uuid=f"uuid-{uid}", google_id=f"g-{uid}", email=f"{uid}@example.com", **kw)


def plan_for(users=(), groups=(), google_users=(), google_groups=(), links=(), settings=SETTINGS):
    return build_plan(
        DirectoryState(users=tuple(users), groups=tuple(groups)),
        GoogleState(users=tuple(google_users), groups=tuple(google_groups)),
        LinkState(links=tuple(links)),
        settings,
    )


ADMIN = GoogleUser(id="g-admin", primary_email="admin@example.com", given_name="Ad", family_name="Min", is_admin=True)


def test_new_users_are_created_with_their_password_hash():
    hashed = PasswordHash("a" * 40, "SHA-1")
    plan = plan_for(users=[user("alice", password=hashed), user("bob")], google_users=[ADMIN])
    creates = plan.of_type(CreateUser)
    assert [c.email for c in creates] == ["alice@example.com", "bob@example.com"]
    assert creates[0].password == hashed and creates[1].password is None
    assert "a" * 40 not in render_text(plan) + render_json(plan)


def test_in_sync_directory_gives_an_empty_plan():
    plan = plan_for(
        users=[user("alice"), user("admin", "Ad", "Min")], google_users=[guser("alice"), ADMIN], links=[link("alice")]
    )
    assert [c.action for c in plan.changes] == ["adopt user"]  # the admin account is linked on first sight
    plan = plan_for(
        users=[user("alice"), user("admin", "Ad", "Min")],
        google_users=[guser("alice"), ADMIN],
        links=[link("alice"), replace(link("admin"), google_id="g-admin")],
    )
    assert plan.in_sync and plan.write_count == 0 and not plan.notices


def test_renamed_user_is_updated_not_recreated():
    renamed = replace(user("alice"), uid="alice.smith")
    plan = plan_for(users=[renamed], google_users=[guser("alice"), ADMIN], links=[link("alice")])
    (update,) = plan.of_type(UpdateUser)
    assert update.google_id == "g-alice"
    assert [(c.field, c.old, c.new) for c in update.changes] == [
        ("primaryEmail", "alice@example.com", "alice.smith@example.com")
    ]
    assert not plan.of_type(CreateUser) and not plan.of_type(SuspendUser)


def test_name_change_is_an_update_with_old_and_new_values():
    plan = plan_for(users=[user("alice", given="Alicia")], google_users=[guser("alice")], links=[link("alice")])
    (update,) = plan.of_type(UpdateUser)
    assert str(update.changes[0]) == "givenName: 'Given' → 'Alicia'"


@pytest.mark.parametrize(
    "directory_user, reason",
    [
        (user("removed-flag", in_scope=False), "no longer in the google_apps_plugin group"),
        (user("locked", locked=True), "locked in the directory"),
        (None, "removed from the directory"),
    ],
)
def test_users_that_leave_are_suspended_never_deleted(directory_user, reason):
    uid = directory_user.uid if directory_user else "gone"
    users = [user("keep")] + ([directory_user] if directory_user else [])
    plan = plan_for(users=users, google_users=[guser(uid), guser("keep")], links=[link(uid), link("keep")])
    (suspend,) = plan.of_type(SuspendUser)
    assert suspend.google_id == f"g-{uid}" and reason in suspend.reason
    assert {c.action for c in plan.changes} == {"suspend user"}


def test_flag_restored_unsuspends_only_what_we_suspended():
    plan = plan_for(
        users=[user("alice")],
        google_users=[guser("alice", suspended=True)],
        links=[link("alice", suspended_by_us=True)],
    )
    assert [c.google_id for c in plan.of_type(UnsuspendUser)] == ["g-alice"]
    plan = plan_for(users=[user("alice")], google_users=[guser("alice", suspended=True)], links=[link("alice")])
    assert not plan.of_type(UnsuspendUser)
    assert "suspended in Google by someone else" in render_text(plan)


def test_existing_accounts_are_adopted_and_a_suspended_one_unsuspended():
    plan = plan_for(
        users=[user("alice"), user("bob", given="Robert")], google_users=[guser("alice", suspended=True), guser("bob")]
    )
    adopted = {c.email: c for c in plan.of_type(AdoptUser)}
    assert adopted["alice@example.com"].unsuspend and not adopted["alice@example.com"].changes
    assert not adopted["bob@example.com"].unsuspend and adopted["bob@example.com"].changes[0].new == "Robert"
    assert not plan.of_type(CreateUser)


def test_administrators_are_never_suspended_and_the_warning_says_what_to_do():
    plan = plan_for(users=[user("alice")], google_users=[ADMIN, guser("alice")], links=[link("alice")])
    assert not plan.of_type(SuspendUser)
    (notice,) = [n for n in plan.notices if n.subject == "admin@example.com"]
    assert "cannot be suspended" in notice.message and "create the local user 'admin'" in notice.message
    mirror = replace(SETTINGS, sync=replace(SETTINGS.sync, unmanaged_accounts="suspend"))
    plan = plan_for(
        users=[], google_users=[ADMIN, guser("stray"), guser("other-admin", is_admin=True)], settings=mirror
    )
    assert [c.email for c in plan.of_type(SuspendUser)] == ["stray@example.com"]


def test_unmanaged_accounts_are_ignored_by_default():
    plan = plan_for(users=[user("alice")], google_users=[guser("stray"), guser("alice")], links=[link("alice")])
    assert plan.in_sync
    assert any(n.subject == "stray@example.com" and "exists only in Google" in n.message for n in plan.notices)


@pytest.mark.parametrize(
    "bad, reason",
    [
        (user("nosn", family=""), "has no surname (sn)"),
        (user("nogiven", given="  "), "has no given name"),
        (user("long", given="x" * 61), "at most 60"),
        (user("bad user"), "not a valid Google username"),
        (user("outside", mail="outside@other.org"), "outside the Google domain example.com"),
    ],
)
def test_bad_users_are_reported_and_skipped_while_the_rest_goes_on(bad, reason):
    plan = plan_for(users=[bad, user("good")], google_users=[ADMIN])
    assert [c.email for c in plan.of_type(CreateUser)] == ["good@example.com"]
    (notice,) = [n for n in plan.notices if n.subject == bad.uid]
    assert reason in notice.message and notice.level == "warning"


def test_a_skipped_user_keeps_its_google_account_active():
    plan = plan_for(users=[user("alice", family="")], google_users=[guser("alice")], links=[link("alice")])
    assert not plan.of_type(SuspendUser)


def test_duplicate_addresses_skip_every_claimant():
    plan = plan_for(users=[user("a", mail="team@example.com"), user("b", mail="Team@example.com"), user("c")])
    assert [c.email for c in plan.of_type(CreateUser)] == ["c@example.com"]
    assert {n.subject for n in plan.notices if "shared by a, b" in n.message} == {"a", "b"}


def test_non_ascii_names_arrive_intact():
    plan = plan_for(users=[user("zoe", given="Zoë", family="Çelik-Ångström")])
    (create,) = plan.of_type(CreateUser)
    assert (create.given_name, create.family_name) == ("Zoë", "Çelik-Ångström")
    assert "Çelik-Ångström" in render_json(plan)


def test_groups_are_created_with_their_synced_members_only():
    groups = [
        DirectoryGroup(
            uuid="gu-sales",
            dn="cn=sales",
            name="sales",
            description="Sales team",
            member_uids=frozenset({"alice", "bob", "carol"}),
        )
    ]
    plan = plan_for(users=[user("alice"), user("bob"), user("carol", in_scope=False)], groups=groups)
    (create,) = plan.of_type(CreateGroup)
    assert (create.email, create.description) == ("sales@example.com", "Sales team")
    assert sorted(c.member_email for c in plan.of_type(AddMember)) == ["alice@example.com", "bob@example.com"]
    assert any("carol" in n.message for n in plan.notices if n.subject == "sales")
    phases = [c.phase for c in plan.changes]
    assert phases == sorted(phases)  # users before groups before members


def test_membership_differences_only_and_externals_untouched():
    group = DirectoryGroup(uuid="gu-sales", dn="cn=sales", name="sales", member_uids=frozenset({"alice", "bob"}))
    google_group = GoogleGroup(
        id="gg",
        email="sales@example.com",
        name="sales",
        members=frozenset({"alice@example.com", "carol@example.com", "partner@other.org"}),
    )
    plan = plan_for(
        users=[user("alice"), user("bob"), user("carol")],
        groups=[group],
        google_users=[guser("alice"), guser("bob"), guser("carol")],
        google_groups=[google_group],
        links=[link("alice"), link("bob"), link("carol"), Link("group", "gu-sales", "gg", "sales@example.com")],
    )
    assert [c.member_email for c in plan.of_type(AddMember)] == ["bob@example.com"]
    assert [c.member_email for c in plan.of_type(RemoveMember)] == ["carol@example.com"]


def test_group_selection_and_reserved_groups():
    groups = [
        DirectoryGroup(uuid=f"gu-{n}", dn=f"cn={n}", name=n)
        for n in ("sales", "eng", "allusers", "google_apps_plugin", "web_plugin")
    ]
    chosen = replace(SETTINGS, sync=replace(SETTINGS.sync, groups=("sales", "eng"), exclude_groups=("eng",)))
    plan = plan_for(groups=groups, settings=chosen)
    assert [c.email for c in plan.of_type(CreateGroup)] == ["sales@example.com"]
    plan = plan_for(
        groups=groups, google_groups=[GoogleGroup(id="gg", email="eng@example.com", name="eng", members=frozenset())]
    )
    assert [c.email for c in plan.of_type(CreateGroup)] == ["sales@example.com"]
    assert [c.email for c in plan.of_type(AdoptGroup)] == ["eng@example.com"]


def test_suspending_more_than_max_suspend_is_refused_unless_forced():
    limited = replace(SETTINGS, sync=replace(SETTINGS.sync, max_suspend="1"))
    plan = plan_for(
        users=[user("keep")],
        google_users=[guser("a"), guser("b"), guser("keep")],
        links=[link("a"), link("b"), link("keep")],
        settings=limited,
    )
    assert len(plan.of_type(SuspendUser)) == 2
    with pytest.raises(UnsafePlan, match="would suspend 2 of 3 active Google accounts"):
        plan.raise_if_unsafe()
    plan.raise_if_unsafe(force=True)
    percent = replace(SETTINGS, sync=replace(SETTINGS.sync, max_suspend="50%"))
    assert (
        plan_for(
            users=[user("keep")],
            google_users=[guser("a"), guser("keep")],
            links=[link("a"), link("keep")],
            settings=percent,
        ).refusals
        == ()
    )


def test_empty_directory_with_managed_accounts_is_refused():
    plan = plan_for(users=[user("a", in_scope=False)], google_users=[guser("a")], links=[link("a")])
    assert any("returned no user to synchronize" in r for r in plan.refusals)


def test_plan_order_and_checksum_are_deterministic():
    users = [user(uid) for uid in ("carol", "alice", "bob")]
    first, second = plan_for(users=users), plan_for(users=list(reversed(users)))
    assert [c.email for c in first.changes] == ["alice@example.com", "bob@example.com", "carol@example.com"]
    assert first.checksum == second.checksum
    assert plan_for(users=users[:2]).checksum != first.checksum


KEY = b"k" * 32


def test_passwords_are_pushed_only_when_their_fingerprint_changed():
    from app_google_sync.libraries.core.passwords import fingerprint
    from app_google_sync.libraries.sync.plan import SetPassword

    first, second = PasswordHash("a" * 40, "SHA-1"), PasswordHash("b" * 40, "SHA-1")
    pushed = replace(link("alice"), password_fingerprint=fingerprint(KEY, first))
    same = plan_for(users=[user("alice", password=first)], google_users=[guser("alice")], links=[pushed])
    assert same.in_sync  # no key given: passwords are only set on creation
    assert build_plan_with_key(users=[user("alice", password=first)], links=[pushed]).in_sync
    changed = build_plan_with_key(users=[user("alice", password=second)], links=[pushed])
    (set_password,) = changed.of_type(SetPassword)
    assert set_password.password == second and set_password.fingerprint == fingerprint(KEY, second)
    assert "b" * 40 not in render_json(changed)


def test_a_captured_password_is_always_pushed_and_recorded_under_the_directory_fingerprint():
    from app_google_sync.libraries.core.passwords import fingerprint
    from app_google_sync.libraries.sync.plan import SetPassword

    directory_hash, captured = PasswordHash("a" * 40, "SHA-1"), PasswordHash("$6$salt$hash", "crypt")
    pushed = replace(link("alice"), password_fingerprint=fingerprint(KEY, directory_hash))
    plan = build_plan_with_key(
        users=[user("alice", password=directory_hash, captured_password=captured)], links=[pushed]
    )
    (set_password,) = plan.of_type(SetPassword)
    assert set_password.password == captured and set_password.captured
    assert set_password.fingerprint == fingerprint(KEY, directory_hash)


def build_plan_with_key(users, links):
    from app_google_sync.libraries.sync.planner import build_plan as plan

    state = DirectoryState(users=tuple(users), groups=())
    return plan(
        state, GoogleState(users=(guser("alice"),), groups=()), LinkState(tuple(links)), SETTINGS, password_key=KEY
    )


def test_a_targeted_push_plans_nothing_domain_wide():
    from app_google_sync.libraries.sync.planner import Scope
    from app_google_sync.libraries.sync.planner import build_plan as plan

    state = DirectoryState(users=(user("alice", given="Alicia"),), groups=())
    existing = GoogleState(users=(guser("alice"), ADMIN), groups=())
    links = LinkState((link("alice"), link("gone"), link("other")))
    mirror = replace(SETTINGS, sync=replace(SETTINGS.sync, unmanaged_accounts="suspend", max_suspend="0"))
    targeted = plan(state, existing, links, mirror, scope=Scope(user_uuids=frozenset({"uuid-alice"})))
    assert [c.action for c in targeted.changes] == ["update user"]
    assert not targeted.notices and not targeted.refusals


def test_a_percentage_limit_guards_domains_of_ten_accounts_or_more():
    percent = replace(SETTINGS.sync, max_suspend="25%")
    assert suspend_limit(percent, 3) == 3  # a tiny domain: one departure is not an anomaly
    assert suspend_limit(percent, 12) == 3
    assert suspend_limit(replace(SETTINGS.sync, max_suspend="1"), 3) == 1


def test_every_notice_carries_a_code_and_members_left_out_get_the_advice_of_their_reason():
    members = frozenset({"alice", "off", "lena", "longname", "winadmin"})
    plan = plan_for(
        users=[
            user("alice", in_scope=True),
            user("off", in_scope=False),
            user("lena", in_scope=True, locked=True),
            user("longname", family="x" * 80, in_scope=True),
        ],
        groups=[DirectoryGroup(uuid="g1", dn="cn=sales,ou=Groups", name="sales", member_uids=members)],
        google_users=[ADMIN],
    )
    assert all(isinstance(notice.code, NoticeCode) for notice in plan.notices)
    about_sales = {notice.code: notice.message for notice in plan.notices if notice.subject == "sales"}
    assert set(about_sales) == {
        NoticeCode.MEMBERS_NOT_IN_SCOPE,
        NoticeCode.MEMBERS_LOCKED,
        NoticeCode.MEMBERS_SKIPPED,
        NoticeCode.MEMBERS_UNKNOWN,
    }
    assert (
        "off" in about_sales[NoticeCode.MEMBERS_NOT_IN_SCOPE]
        and "Google Apps option" in about_sales[NoticeCode.MEMBERS_NOT_IN_SCOPE]
    )
    assert (
        "lena" in about_sales[NoticeCode.MEMBERS_LOCKED]
        and "Google Apps option" not in about_sales[NoticeCode.MEMBERS_LOCKED]
    )
    assert (
        "longname" in about_sales[NoticeCode.MEMBERS_SKIPPED] and "winadmin" in about_sales[NoticeCode.MEMBERS_UNKNOWN]
    )
    assert [n.code for n in plan.notices if n.subject == "longname"] == [NoticeCode.USER_INVALID]
    assert {"level", "object", "message", "code"} <= set(
        plan.data["notices"][0]
    )  # JSON: the code added, nothing removed
