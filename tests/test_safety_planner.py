"""The safety limits and undo with plain values: the budget, held changes, refusals, records and inverses."""

from dataclasses import replace

import pytest

from app_google_sync.libraries.core.model import (
    DirectoryGroup,
    DirectoryState,
    DirectoryUser,
    GoogleGroup,
    GoogleState,
    GoogleUser,
    Link,
    LinkState,
)
from app_google_sync.libraries.settings.config import GoogleSettings, LdapSettings, Settings, SyncSettings
from app_google_sync.libraries.sync.plan import (
    AddAlias,
    AddMember,
    AdoptUser,
    Change,
    CreateGroup,
    CreateUser,
    FieldChange,
    RemoveMember,
    SetPassword,
    SetPostingPolicy,
    SuspendUser,
    UnsuspendUser,
    UpdateGroup,
    UpdateUser,
)
from app_google_sync.libraries.sync.planner import Scope, build_plan
from app_google_sync.libraries.sync.safety import LIFTED, Budget
from app_google_sync.libraries.sync.undo import Applied, Now, applied_changes, inverses, plan_undo


def settings(**sync):
    return Settings(
        ldap=LdapSettings(users_dn="ou=Users,dc=x", groups_dn="ou=Groups,dc=x", enabled_group="google_apps_plugin"),
        google=GoogleSettings(domain="example.com", admin_email="admin@example.com"),
        sync=SyncSettings(**sync),
    )


def user(uid, in_scope=True):
    return DirectoryUser(
        uuid=f"uuid-{uid}",
        dn=f"cn={uid},ou=Users",
        uid=uid,
        given_name="Given",
        family_name="Family",
        in_scope=in_scope,
    )


def guser(uid, **kw):
    return GoogleUser(id=f"g-{uid}", primary_email=f"{uid}@example.com", given_name="Given", family_name="Family", **kw)


def link(uid):
    return Link(kind="user", uuid=f"uuid-{uid}", google_id=f"g-{uid}", email=f"{uid}@example.com")


def switched_off(uids, scope=None, budget=Budget(), **sync):
    """Every user switched off in the directory; each linked to its account in Google."""
    return build_plan(
        DirectoryState(users=tuple(user(uid, in_scope=False) for uid in uids), groups=()),
        GoogleState(users=tuple(guser(uid) for uid in uids), groups=()),
        LinkState(tuple(link(uid) for uid in uids)),
        settings(**sync),
        scope=scope,
        budget=budget,
    )


def test_a_push_over_the_budget_holds_the_suspension_and_a_full_run_is_refused():
    uids = [f"u{index}" for index in range(5)]
    push = switched_off(
        uids[:1], scope=Scope(user_uuids=frozenset({"uuid-u0"})), budget=Budget(suspended_recently=2), max_suspend="2"
    )
    assert push.changes == () and [held.change.action for held in push.held] == ["suspend user"]
    assert push.held[0].scope == "uuid-u0" and "2 already suspended in that window" in push.held[0].reason
    assert push.refusals == () and push.covers == frozenset({"uuid-u0"})

    within = switched_off(
        uids[:1], scope=Scope(user_uuids=frozenset({"uuid-u0"})), budget=Budget(suspended_recently=1), max_suspend="2"
    )
    assert [change.action for change in within.changes] == ["suspend user"] and within.held == ()

    full = switched_off(uids, budget=Budget(suspended_recently=1), max_suspend="3")
    assert full.covers is None and full.held == ()
    assert full.refusals[0] == (
        "would suspend 5 of 5 active Google accounts, more than max_suspend = 3 allows 3 within suspend_window = "
        "1d, 1 already suspended in that window; check the directory, then run again with --force if this is intended"
    )


def test_lifted_limits_hold_and_refuse_nothing():
    plan = switched_off(
        ["a", "b"], scope=Scope(user_uuids=frozenset({"uuid-a", "uuid-b"})), budget=LIFTED, max_suspend="0"
    )
    assert len(plan.changes) == 2 and plan.held == () and plan.refusals == ()


def test_a_group_push_removing_too_many_members_holds_only_those_removals():
    members = [f"m{index}" for index in range(4)]
    group = DirectoryGroup(uuid="uuid-staff", dn="cn=staff,ou=Groups", name="staff", member_uids=frozenset({"m0"}))
    existing = GoogleGroup(
        id="g-staff",
        email="staff@example.com",
        name="staff",
        members=frozenset(f"{m}@example.com" for m in members),
        member_ids=tuple((f"{m}@example.com", f"g-{m}") for m in members),
    )
    plan = build_plan(
        DirectoryState(users=tuple(user(m) for m in members), groups=(group,)),
        GoogleState(users=tuple(guser(m) for m in members), groups=(existing,)),
        LinkState(tuple(link(m) for m in members) + (Link("group", "uuid-staff", "g-staff", "staff@example.com"),)),
        settings(groups=("staff",), max_member_removals="2"),
        scope=Scope(group_uuids=frozenset({"uuid-staff"})),
    )
    assert [held.change.member_email for held in plan.held] == ["m1@example.com", "m2@example.com", "m3@example.com"]
    assert all(
        held.scope == "uuid-staff" and "would remove 3 of 4 members of staff@example.com" in held.reason
        for held in plan.held
    )
    assert not any(isinstance(change, RemoveMember) for change in plan.changes)


EVERY_KIND = [
    CreateUser(
        uuid="u", email="a@example.com", given_name="A", family_name="B", extra=(FieldChange("title", "", "Boss"),)
    ),
    AdoptUser(
        uuid="u", email="a@example.com", google_id="g", changes=(FieldChange("givenName", "X", "A"),), unsuspend=True
    ),
    UpdateUser(
        uuid="u",
        email="b@example.com",
        google_id="g",
        changes=(FieldChange("primaryEmail", "a@example.com", "b@example.com"),),
    ),
    SetPassword(uuid="u", email="a@example.com", google_id="g"),
    SuspendUser(uuid="u", email="a@example.com", google_id="g", reason="gone"),
    UnsuspendUser(uuid="u", email="a@example.com", google_id="g"),
    AddAlias(uuid="u", email="a@example.com", alias="x@example.com"),
    CreateGroup(uuid="t", email="t@example.com", name="T"),
    UpdateGroup(uuid="t", email="t@example.com", google_id="gt", changes=(FieldChange("name", "Old", "New"),)),
    SetPostingPolicy(uuid="t", email="t@example.com", policy="domain", previous="members"),
    AddMember(group_email="t@example.com", member_email="a@example.com"),
    RemoveMember(group_email="t@example.com", member_email="a@example.com", member_id="g"),
]


@pytest.mark.parametrize("change", EVERY_KIND, ids=lambda change: change.action)
def test_every_change_is_rebuilt_from_its_record_without_secrets(change):
    record = change.record
    assert "password" not in record and "fingerprint" not in record
    rebuilt = Change.from_record(record)
    assert type(rebuilt) is type(change) and rebuilt.data == change.data


@pytest.mark.parametrize(
    "change",
    [c for c in EVERY_KIND if not isinstance(c, (CreateUser, SetPassword, AddAlias, CreateGroup))],
    ids=lambda change: change.action,
)
def test_undoing_an_undo_gives_the_change_back(change):
    undo = change.inverse("g")
    assert isinstance(undo, tuple) and undo
    redo = [again for each in undo for again in each.inverse("g")]
    same = [
        again
        for again in redo
        if (again.action, again.subject)
        == (change.action if not isinstance(change, AdoptUser) else "update user", change.subject)
    ]
    assert same and getattr(same[0], "changes", ()) == getattr(change, "changes", ())
    assert getattr(same[0], "policy", "") == getattr(change, "policy", "")


def test_what_cannot_be_undone_is_reported_and_a_creation_is_undone_by_suspending():
    applied = [Applied(change, "g") for change in EVERY_KIND]
    changes, notices = inverses(applied)
    reported = {notice.message.split(":")[0] for notice in notices}
    assert reported == {"set password", "add alias", "create group"}
    created = [change for change in changes if isinstance(change, SuspendUser) and change.reason.startswith("created")]
    assert len(created) == 1 and created[0].google_id == "g"
    assert not any(type(change).__name__.startswith("Delete") for change in changes)  # never a deletion


def test_undo_plans_against_google_now_and_leaves_what_changed_since():
    run = UpdateUser(
        uuid="u",
        email="a@example.com",
        google_id="g",
        changes=(FieldChange("givenName", "Ann", "Anna"), FieldChange("familyName", "Old", "New")),
    )
    results = [
        {"ok": True, "action": run.action, "object": run.subject, "data": {"record": run.record, "google_id": "g"}},
        {"ok": False, "action": "suspend user", "object": "x@example.com", "data": {}},
        {"ok": True, "action": "add member", "object": "t ← a", "data": {}},
    ]
    applied, notices = applied_changes(results)
    assert [each.change for each in applied] == [run] and "recorded without its previous values" in notices[0].message
    changes, more = inverses(applied)
    now = Now(
        users={"g": replace(guser("a"), given_name="Anna", family_name="Edited")}, groups={}, members={}, posting={}
    )
    plan = plan_undo(7, changes, notices + more, now, settings().sync, Budget())
    [undo] = plan.changes
    assert undo.changes == (FieldChange("givenName", "Anna", "Ann"),) and undo.patch == {"name": {"givenName": "Ann"}}
    assert any("familyName changed since the run (now 'Edited'" in notice.message for notice in plan.notices)
