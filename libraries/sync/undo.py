"""Undo a run: the inverse of what it applied, planned against Google as it is now. Pure: no I/O.

Each change knows its own inverse (``Change.inverse`` in plan.py); this module rebuilds what a run applied
from its recorded results, and keeps only what still makes sense: an object changed since the run is
reported, never overwritten blindly, and what is already as it was before is left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from ..core.codes import NoticeCode
from ..core.model import FieldChange, GoogleUser
from ..settings.config import SyncSettings
from . import safety
from .plan import (
    AddMember,
    Change,
    MemberChange,
    Notice,
    Plan,
    RemoveMember,
    SetPostingPolicy,
    SuspendUser,
    UnsuspendUser,
    UpdateGroup,
    UpdateUser,
)
from .safety import Budget
from .user_fields import patch_body


@dataclass(frozen=True)
class Applied:
    """A change a run applied, rebuilt from its recorded result."""

    change: Change
    google_id: str


@dataclass(frozen=True)
class Now:
    """Google as it is now, for the objects the inverses touch (None: the object is gone)."""

    users: dict[str, GoogleUser | None]  # Google id -> account
    groups: dict[str, dict[str, Any] | None]  # Google id -> group resource (email, name, description)
    members: dict[str, dict[str, str] | None]  # group address -> {member address: member id}
    # group entryUUID -> the posting policy this tool last set ("" unknown): the Groups Settings API is not read back
    posting: dict[str, str]


def applied_changes(results: list[dict[str, Any]]) -> tuple[list[Applied], list[Notice]]:
    """What a run applied, in the order it applied it; results recorded without their change are reported."""
    applied: list[Applied] = []
    notices: list[Notice] = []
    for result in results:
        if not result["ok"]:
            continue
        record = result["data"].get("record")
        if record is None:
            notices.append(
                Notice(
                    "warning",
                    result["object"],
                    f"{result['action']} was recorded without its previous values "
                    "(before this version, or confirmed after an interruption): undo it by hand if needed",
                    NoticeCode.UNDO_NOT_RECORDED,
                )
            )
            continue
        applied.append(Applied(Change.from_record(record), result["data"].get("google_id", "")))
    return applied, notices


def inverses(applied: list[Applied]) -> tuple[list[Change], list[Notice]]:
    """The changes that undo these, last applied first undone first; what cannot be undone, as notices."""
    changes: list[Change] = []
    notices: list[Notice] = []
    for each in reversed(applied):
        undo = each.change.inverse(each.google_id)
        if isinstance(undo, str):
            notices.append(
                Notice("info", each.change.subject, f"{each.change.action}: {undo}", NoticeCode.UNDO_IMPOSSIBLE)
            )
        else:
            changes.extend(undo)
    return changes, notices


def plan_undo(
    run_id: int, inverse: list[Change], notices: list[Notice], now: Now, sync: SyncSettings, budget: Budget
) -> Plan:
    """The undo of run ``run_id`` against Google now, within the same safety limits as every run."""
    kept: list[Change] = []
    found: list[Notice] = list(notices)

    def report(change: Change, message: str, code: NoticeCode, level: str = "info") -> None:
        found.append(Notice(level, change.subject, message, code))

    for change in inverse:
        if isinstance(change, (SuspendUser, UnsuspendUser)):
            account = now.users.get(change.google_id)
            if account is None:
                report(
                    change, "the account no longer exists in Google: nothing to undo", NoticeCode.UNDO_GONE, "warning"
                )
            elif account.suspended == isinstance(change, SuspendUser):
                report(
                    change,
                    f"already {'suspended' if account.suspended else 'active'}: nothing to undo",
                    NoticeCode.UNDO_ALREADY_DONE,
                )
            elif isinstance(change, SuspendUser) and account.is_admin:
                report(
                    change,
                    "an administrator account is never suspended: left active",
                    NoticeCode.ADMIN_PROTECTED,
                    "warning",
                )
            else:
                kept.append(
                    replace(change, email=account.primary_email, reason=f"undo of run {run_id}: {change.reason}")
                    if isinstance(change, SuspendUser)
                    else replace(change, email=account.primary_email)
                )
        elif isinstance(change, UpdateUser):
            account = now.users.get(change.google_id)
            if account is None:
                report(
                    change, "the account no longer exists in Google: nothing to undo", NoticeCode.UNDO_GONE, "warning"
                )
                continue
            fields = _still_as_left(change, partial(_user_value, account), report)
            unreadable = [field for field in fields if _user_value(account, field.field) is None]
            for field in unreadable:
                report(
                    change,
                    f"custom field {field.field} is not undone (set it in Google if needed)",
                    NoticeCode.UNDO_IMPOSSIBLE,
                )
            fields = tuple(field for field in fields if field not in unreadable)
            if fields:
                kept.append(replace(change, changes=fields, patch=patch_body(fields, account)))
        elif isinstance(change, UpdateGroup):
            group = now.groups.get(change.google_id)
            if group is None:
                report(change, "the group no longer exists in Google: nothing to undo", NoticeCode.UNDO_GONE, "warning")
                continue
            fields = _still_as_left(
                change,
                partial(_group_value, group),
                report,
            )
            if fields:
                kept.append(replace(change, changes=fields))
        elif isinstance(change, MemberChange):
            current = now.members.get(change.group_email)
            if current is None:
                report(change, "the group no longer exists in Google: nothing to undo", NoticeCode.UNDO_GONE, "warning")
            elif isinstance(change, AddMember) == (change.member_email in current):
                report(
                    change,
                    f"already {'a member' if change.member_email in current else 'removed'}: nothing to undo",
                    NoticeCode.UNDO_ALREADY_DONE,
                )
            else:
                kept.append(
                    replace(change, member_id=current.get(change.member_email, ""))
                    if isinstance(change, RemoveMember)
                    else change
                )
        elif isinstance(change, SetPostingPolicy):
            # Google's setting is not read back: what this tool last set stands for it (change.previous is what the run set).
            recorded = now.posting.get(change.uuid, "")
            if recorded == change.policy:
                report(change, f"already {change.policy}: nothing to undo", NoticeCode.UNDO_ALREADY_DONE)
            elif recorded and recorded != change.previous:
                report(
                    change,
                    f"changed since the run (now {recorded}): not overwritten",
                    NoticeCode.UNDO_CHANGED_SINCE,
                    "warning",
                )
            else:
                kept.append(change)
        else:
            kept.append(change)
    plan = Plan(changes=tuple(kept), notices=tuple(found))
    active = (
        budget.active_accounts
        if budget.active_accounts is not None
        else sum(1 for account in now.users.values() if account and not account.suspended)
    )
    members = {email: len(found or {}) for email, found in now.members.items()}
    return replace(plan, refusals=safety.undo_refusals(list(plan.changes), sync, budget, active, members))


def _still_as_left(
    change: UpdateUser | UpdateGroup, current_value: Callable[[str], Any], report: Callable[..., None]
) -> tuple[FieldChange, ...]:
    """The reverted fields whose value is still what the run set; the others are reported, never overwritten."""
    fields = []
    for field in change.changes:  # old: what the run set; new: what it was before
        value = current_value(field.field)
        if value is None:  # a field this tool cannot read back (a custom schema field): the caller reports it
            fields.append(field)
            continue
        if value == field.new:
            continue
        if value != field.old:
            report(
                change,
                f"{field.field} changed since the run (now {value!r}, the run set {field.old!r}): left as it is",
                NoticeCode.UNDO_CHANGED_SINCE,
                "warning",
            )
            continue
        fields.append(field)
    return tuple(fields)


def _user_value(account: GoogleUser, field: str) -> str | None:
    """The account's current value of a field a change names; None for a custom schema field (Schema.field)."""
    named = {
        "primaryEmail": account.primary_email,
        "givenName": account.given_name,
        "familyName": account.family_name,
        "orgUnitPath": account.org_unit_path,
    }
    if field in named:
        return named[field]
    return None if "." in field else account.mapped_value(field)


def _group_value(group: dict[str, Any], name: str) -> Any:
    """A group's field as Google shows it now (its address in lower case, as the run recorded it)."""
    value = group.get(name) or ""
    return value.lower() if name == "email" else value
