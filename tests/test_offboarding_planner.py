"""[offboarding] in the pure planner and the safety limits: plain values, no I/O."""

from dataclasses import replace
from datetime import UTC, datetime

from app_google_sync.libraries.core.model import (
    DirectoryState,
    DirectoryUser,
    GoogleState,
    GoogleUser,
    LeaverReads,
    Link,
    LinkState,
    Offboarded,
)
from app_google_sync.libraries.settings.config import (
    GoogleSettings,
    LdapSettings,
    OffboardingSettings,
    Settings,
    SyncSettings,
)
from app_google_sync.libraries.sync.plan import PHASE_LEAVING, Change, ScheduleTransfer, SuspendUser
from app_google_sync.libraries.sync.planner import build_plan
from app_google_sync.libraries.sync.safety import Budget, PushLimits, hold_over_limits

EVERY_STEP = OffboardingSettings(
    sign_out=True,
    revoke_tokens=True,
    revoke_app_passwords=True,
    hide_from_directory=True,
    move_to_org_unit="/Leavers",
    transfer_data_to="manager",
    transfer_after=30 * 86400,
)
SETTINGS = Settings(
    ldap=LdapSettings(users_dn="ou=Users,dc=x", groups_dn="ou=Groups,dc=x"),
    google=GoogleSettings(domain="example.com", admin_email="admin@example.com"),
    sync=SyncSettings(max_suspend="100%"),
    offboarding=EVERY_STEP,
)
MOMENT = datetime(2026, 12, 7, tzinfo=UTC)
BOSS = {"type": "manager", "value": "bob@example.com"}


def guser(uid, **kw):
    return GoogleUser(id=f"g-{uid}", primary_email=f"{uid}@example.com", given_name="G", family_name="F", **kw)


def link(uid, **kw):
    return Link(kind="user", uuid=f"uuid-{uid}", google_id=f"g-{uid}", email=f"{uid}@example.com", **kw)


def bob_stays():
    return DirectoryUser(uuid="uuid-bob", dn="cn=Bob,ou=Users", uid="bob", given_name="G", family_name="F")


def plan(accounts, links, reads=None, settings=SETTINGS, offboarded=None):
    return build_plan(
        DirectoryState(users=(bob_stays(),), groups=()),
        GoogleState(users=tuple(accounts), groups=(), leavers=reads),
        LinkState(tuple(links)),
        settings,
        offboarded=offboarded,
        now=MOMENT,
    )


def actions(result) -> list[tuple[str, str]]:
    return [(change.action, change.subject) for change in result.changes if change.subject != "bob@example.com"]


READS = LeaverReads(tokens={"g-alice": (("c1", "Slack"),)}, app_passwords={"g-alice": (("7", "Mail"),)})


def test_the_steps_go_before_the_suspension_and_the_transfer_after_it():
    result = plan([guser("alice", relations=(BOSS,)), guser("bob")], [link("alice"), link("bob")], READS)
    assert actions(result) == [
        ("sign out", "alice@example.com"),
        ("revoke token", "alice@example.com ← Slack"),
        ("revoke app password", "alice@example.com ← Mail"),
        ("hide from directory", "alice@example.com"),
        ("move to org unit", "alice@example.com"),
        ("suspend user", "alice@example.com"),
        ("schedule transfer", "alice@example.com"),
    ]
    steps = [
        change for change in result.changes if change.follows_suspension and not isinstance(change, ScheduleTransfer)
    ]
    assert {change.phase for change in steps} == {PHASE_LEAVING} and SuspendUser.phase > PHASE_LEAVING
    (transfer,) = result.of_type(ScheduleTransfer)
    assert (
        transfer.receiver_id == "g-bob"
        and transfer.describe() == "transfer Drive and Calendar to bob@example.com on 2027-01-06"
    )
    assert "2027" not in str(transfer.data), (
        "the date is for people: the checksum does not change from one day to the next"
    )


def test_tokens_are_revoked_only_once_read():
    result = plan([guser("alice", relations=(BOSS,)), guser("bob")], [link("alice"), link("bob")], reads=None)
    assert ("revoke token", "alice@example.com ← Slack") not in actions(result)
    assert not result.of_type(ScheduleTransfer), "nor is a transfer planned before its receiver is known"


def test_an_account_suspended_by_hand_or_an_administrator_is_never_offboarded():
    by_hand = plan(
        [guser("alice", suspended=True, relations=(BOSS,)), guser("bob")], [link("alice"), link("bob")], READS
    )
    assert actions(by_hand) == []
    admin = plan([guser("alice", is_admin=True, relations=(BOSS,)), guser("bob")], [link("alice"), link("bob")], READS)
    assert actions(admin) == [] and any(notice.code == "admin_protected" for notice in admin.notices)


def test_every_step_off_plans_none():
    settings = replace(SETTINGS, offboarding=OffboardingSettings())
    result = plan(
        [guser("alice", relations=(BOSS,)), guser("bob")], [link("alice"), link("bob")], READS, settings=settings
    )
    assert actions(result) == [("suspend user", "alice@example.com")]


def test_steps_are_held_with_their_suspension_and_released_with_it():
    result = plan([guser("alice", relations=(BOSS,)), guser("bob")], [link("alice"), link("bob")], READS)
    limits = PushLimits(SyncSettings(max_suspend="0"), SETTINGS.ldap, Budget(), 20, {})
    kept, held = hold_over_limits(list(result.changes), limits)
    assert [change for change in kept if getattr(change, "uuid", "") == "uuid-alice"] == []
    assert {each.reason for each in held} == {held[0].reason} and "suspension budget is spent" in held[0].reason
    approved = Budget(approved=frozenset((each.change.action, each.change.subject) for each in held))
    kept, held = hold_over_limits(list(result.changes), replace(limits, budget=approved))
    assert held == [] and len([change for change in kept if getattr(change, "uuid", "") == "uuid-alice"]) == 7


def test_records_rebuild_each_change_for_undo():
    result = plan([guser("alice", relations=(BOSS,)), guser("bob")], [link("alice"), link("bob")], READS)
    for change in result.changes:
        assert Change.from_record(change.record).data == change.data


def test_a_comeback_reverses_what_this_tool_did_and_says_the_rest():
    record = Offboarded(
        google_id="g-alice",
        uuid="uuid-alice",
        email="alice@example.com",
        hidden=True,
        moved_from="/Staff",
        moved_to="/Leavers",
        steps=(("t", "signed out of every session"), ("t", "token of Slack revoked")),
        transfer_to="bob@example.com",
        transfer_applications=("drive",),
        transfer_status="scheduled",
        transfer_due_at="2027-01-06T00:00:00+00:00",
    )
    alice = DirectoryUser(uuid="uuid-alice", dn="cn=Alice,ou=Users", uid="alice", given_name="G", family_name="F")
    result = build_plan(
        DirectoryState(users=(bob_stays(), alice), groups=()),
        GoogleState(
            users=(guser("alice", suspended=True, in_directory=False, org_unit_path="/Leavers"), guser("bob")),
            groups=(),
        ),
        LinkState((link("alice", suspended_by_us=True), link("bob"))),
        SETTINGS,
        offboarded={"g-alice": record},
    )
    assert [change.action for change in result.changes] == [
        "unsuspend user",
        "show in directory",
        "move back to org unit",
        "leaver returns",
    ]
    note = result.changes[-1].note
    assert note == (
        "not reversible: signed out; 1 app token revoked; the transfer of Drive to bob@example.com due 2027-01-06 is cancelled"
    )
