"""The safety limits, in one place: what a run, a push or an undo may suspend or remove before the administrator
has to say yes. Pure: plain values in, decisions out.

- ``max_suspend`` and ``max_member_removals`` (``[sync]``) are counts or percentages; they count what every
  path applied within ``suspend_window`` (the ``Budget``, read from the state database by the engine).
- A full run or an undo over a limit is **refused** whole (``--force`` applies it); a push is never refused:
  what breaks a limit is **held** for approval and the rest applies.
- A directory that returns no user at all while Google has managed accounts is a broken read, never departures.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..settings.config import LdapSettings, SyncSettings
from ..settings.config_schema import duration_text
from .plan import Change, Held, LinkedUserChange, RemoveMember, SuspendUser

# A percentage only guards totals of this many or more (as octoDNS does for records): in a tiny domain or group
# any single departure is a large share.
MIN_ACCOUNTS_FOR_PERCENTAGE = 10
REVIEW = "run 'google-sync test' to review, then 'google-sync sync --force' to apply"


@dataclass(frozen=True)
class Budget:
    """What the safety limits have already spent, counted across every run and push (the state database keeps it)."""

    suspended_recently: int = 0  # suspensions applied within [sync] suspend_window, by every path
    active_accounts: int | None = None  # active Google accounts at the last full read (a push does not read them all)
    # Group address -> members removed within suspend_window, by every path: ten pushes of one removal each
    # empty a group as surely as one push of ten, so max_member_removals counts them all.
    removed_recently: dict[str, int] = field(default_factory=dict)
    directory_empty: bool = (
        False  # a push found that no entry at all matches user_filter: a broken read, not departures
    )
    # (action, subject) of the held changes the administrator released: those pass the limits, nothing else does,
    # so releasing never carries along what the directory gained since the administrator looked.
    approved: frozenset[tuple[str, str]] = frozenset()
    lifted: bool = False  # the administrator released what the limits held: nothing is held or refused


LIFTED = Budget(lifted=True)


def limit(setting: str, total: int) -> int:
    """The most of ``total`` a limit setting ("5" or "10%") allows."""
    value = setting.strip()
    if not value.endswith("%"):
        return int(value)
    if total < MIN_ACCOUNTS_FOR_PERCENTAGE:
        return total
    return int(total * float(value[:-1]) / 100)


def suspend_limit(sync: SyncSettings, active_accounts: int) -> int:
    """The most accounts may be suspended within ``suspend_window``, given how many are active in Google."""
    return limit(sync.max_suspend, active_accounts)


def member_removal_limit(sync: SyncSettings, members: int) -> int:
    """The most members may be removed within ``suspend_window`` from a group that has ``members``."""
    return limit(sync.max_member_removals, members)


def suspensions_left(sync: SyncSettings, budget: Budget, active: int) -> tuple[int, str]:
    """How many more accounts may be suspended within the window, and the limit in words for messages."""
    allowed = suspend_limit(sync, active)
    left = max(0, allowed - budget.suspended_recently)
    spent = f", {budget.suspended_recently} already suspended in that window" if budget.suspended_recently else ""
    return (
        left,
        f"max_suspend = {sync.max_suspend} allows {allowed} within suspend_window = {duration_text(sync.suspend_window)}{spent}",
    )


def suspension_refusal(sync: SyncSettings, budget: Budget, suspensions: int, active: int) -> str:
    """Why a whole plan with this many suspensions is refused ("" when it is within the budget)."""
    left, limit_text = suspensions_left(sync, budget, active)
    if suspensions <= left:
        return ""
    return (
        f"would suspend {suspensions} of {active} active Google accounts, more than {limit_text}; "
        "check the directory, then run again with --force if this is intended"
    )


def removal_problem(sync: SyncSettings, email: str, removals: int, members: int, removed_recently: int = 0) -> str:
    """Why removing this many members of one group breaks max_member_removals ("" when it does not).

    Removals already applied within suspend_window count too, against the group as it was before them (the
    members it has now and those removed), so a group emptied one member at a time is stopped at the same point.
    """
    allowed = member_removal_limit(sync, members + removed_recently)
    if removals + removed_recently <= allowed:
        return ""
    spent = (
        f", {removed_recently} already removed within suspend_window = {duration_text(sync.suspend_window)}"
        if removed_recently
        else ""
    )
    return (
        f"would remove {removals} of {members} members of {email}{spent}, "
        f"more than max_member_removals = {sync.max_member_removals} ({allowed})"
    )


def removals_over_limit(
    changes: Iterable[Change], sync: SyncSettings, budget: Budget, members: dict[str, int]
) -> dict[str, str]:
    """Groups whose planned removals (those not approved) break max_member_removals, with the reason.
    ``members``: each group's members in Google now."""
    removals = Counter(
        change.group_email
        for change in changes
        if isinstance(change, RemoveMember) and (change.action, change.subject) not in budget.approved
    )
    problems = {
        email: removal_problem(sync, email, count, members.get(email, 0), budget.removed_recently.get(email, 0))
        for email, count in removals.items()
    }
    return {email: problem for email, problem in problems.items() if problem}


@dataclass(frozen=True)
class PushLimits:
    """What a push needs to know to hold changes: the settings, the budget, and the groups it plans for."""

    sync: SyncSettings
    ldap: LdapSettings
    budget: Budget
    active_accounts: int  # from the budget, or the linked accounts when no full read counted them yet
    groups: dict[str, tuple[str, int]]  # group address -> (its entryUUID, its members in Google now)


def hold_over_limits(changes: list[Change], limits: PushLimits) -> tuple[list[Change], list[Held]]:
    """A push's changes that stay within the limits, and those held for the administrator's approval."""
    budget = limits.budget
    left, limit_text = suspensions_left(limits.sync, budget, limits.active_accounts)
    over_groups = removals_over_limit(
        changes, limits.sync, budget, {email: count for email, (_, count) in limits.groups.items()}
    )
    kept: list[Change] = []
    held: list[Held] = []
    for change in changes:
        if change.follows_suspension:
            continue  # decided with its suspension, below
        if (change.action, change.subject) in budget.approved:
            kept.append(change)
        elif budget.directory_empty and isinstance(change, (SuspendUser, RemoveMember)):
            held.append(Held(change, _scope_of(change, limits), _empty_directory(limits.ldap)))
        elif isinstance(change, SuspendUser) and left > 0:
            left -= 1
            kept.append(change)
        elif isinstance(change, SuspendUser):
            held.append(
                Held(change, _scope_of(change, limits), f"the suspension budget is spent ({limit_text}); {REVIEW}")
            )
        elif isinstance(change, RemoveMember) and change.group_email in over_groups:
            held.append(Held(change, _scope_of(change, limits), f"{over_groups[change.group_email]}; {REVIEW}"))
        else:
            kept.append(change)
    return _with_offboarding(changes, kept, held, limits)


def _with_offboarding(
    changes: list[Change], kept: list[Change], held: list[Held], limits: PushLimits
) -> tuple[list[Change], list[Held]]:
    """A leaver's [offboarding] steps go where its suspension went: applied with it, or held with it (same reason)."""
    held_for = {each.change.uuid: each.reason for each in held if isinstance(each.change, SuspendUser)}
    for change in changes:
        if not (isinstance(change, LinkedUserChange) and change.follows_suspension):
            continue
        if change.uuid in held_for and (change.action, change.subject) not in limits.budget.approved:
            held.append(Held(change, _scope_of(change, limits), held_for[change.uuid]))
        else:
            kept.append(change)
    return kept, held


def _scope_of(change: LinkedUserChange | RemoveMember, limits: PushLimits) -> str:
    """The directory entry whose push planned the change: a later push of it replaces the hold."""
    if isinstance(change, RemoveMember):
        return limits.groups[change.group_email][0]
    return change.uuid or change.google_id  # a suspension and the offboarding steps that follow it


def _empty_directory(ldap: LdapSettings) -> str:
    return (
        f"the directory returns no user at all under {ldap.users_dn} with user_filter {ldap.user_filter} "
        f"(a full run refuses this too); check [ldap], then {REVIEW}"
    )


def run_refusals(
    changes: list[Change],
    sync: SyncSettings,
    budget: Budget,
    active: int,
    members: dict[str, int],
    managed_without_users: int,
) -> tuple[str, ...]:
    """Why a full run's plan is refused as a whole ("--force" overrides). ``managed_without_users``: the managed
    accounts Google has while the directory returned no user to synchronize (0 when it returned some)."""
    suspensions = sum(isinstance(change, SuspendUser) for change in changes)
    refusals = [refusal] if (refusal := suspension_refusal(sync, budget, suspensions, active)) else []
    for _, problem in sorted(removals_over_limit(changes, sync, budget, members).items()):
        refusals.append(f"{problem}; check the group in the directory, then run again with --force if this is intended")
    if managed_without_users:
        refusals.append(
            f"the directory returned no user to synchronize while Google has {managed_without_users} managed accounts; "
            "check [ldap] users_dn, user_filter and enabled_group, then run again with --force if this is intended"
        )
    return tuple(refusals)


def undo_refusals(
    changes: list[Change], sync: SyncSettings, budget: Budget, active: int, members: dict[str, int]
) -> tuple[str, ...]:
    """Why an undo is refused as a whole: it suspends and removes within the same limits as any run."""
    suspensions = sum(isinstance(change, SuspendUser) for change in changes)
    refusals = [refusal] if (refusal := suspension_refusal(sync, budget, suspensions, active)) else []
    removals = Counter(change.group_email for change in changes if isinstance(change, RemoveMember))
    for email, count in sorted(removals.items()):
        if problem := removal_problem(sync, email, count, members.get(email, 0), budget.removed_recently.get(email, 0)):
            refusals.append(f"{problem}; run the undo again with --force if this is intended")
    return tuple(refusals)
