"""[offboarding] in the plan: the steps that follow this tool's suspension of a leaver, and what a comeback reverses.

Pure, like the planner that calls it. A leaver is a directory entry whose managed account this run suspends
(removed, locked or switched off): never an account suspended by hand in Google (nothing is planned for it) and
never an administrator (the planner never suspends one). The steps go before the suspension (PHASE_LEAVING), are
held with it when a safety limit holds it (safety.py), and the transfer is scheduled, not started: the transfer
runner starts it once ``transfer_after`` has passed, unless the user came back.
"""

from __future__ import annotations

from datetime import timedelta

from ..core.codes import NoticeCode
from ..core.model import GoogleUser, Offboarded
from ..google.google_target import APPLICATION_NAMES
from .plan import (
    HideFromDirectory,
    MoveBack,
    MoveLeaver,
    ReturnOfLeaver,
    RevokeAppPassword,
    RevokeToken,
    ScheduleTransfer,
    ShowInDirectory,
    SignOut,
    SuspendUser,
)

# What the Leavers record's steps say, and what cannot be reversed of each (for a comeback's note).
IRREVERSIBLE = (("signed out", "signed out"), ("token of", "app token"), ("app password", "app password"))


def leaving_accounts(changes) -> list[SuspendUser]:
    """The suspensions of directory entries in a plan: those [offboarding] follows."""
    return [change for change in changes if isinstance(change, SuspendUser) and change.uuid]


def plan_leavers(planning) -> None:
    """The [offboarding] steps of every leaver this plan suspends."""
    settings = planning.settings.offboarding
    if not settings.any:
        return
    suspensions = leaving_accounts(planning.changes)
    leaving = {change.google_id for change in suspensions}
    for suspension in suspensions:
        account = planning.google_by_id.get(suspension.google_id)
        if account is not None:
            planning.changes.extend(_steps(planning, account, suspension.uuid, leaving))


def _steps(planning, account: GoogleUser, uuid: str, leaving: set[str]) -> list:
    settings, reads = planning.settings.offboarding, planning.existing.leavers
    who = dict(uuid=uuid, email=account.primary_email, google_id=account.id)
    steps: list = [SignOut(**who)] if settings.sign_out else []
    if reads is not None:  # read once the plan knew who leaves (the engine plans again with them)
        if settings.revoke_tokens:
            steps += [RevokeToken(**who, client_id=client, app=app) for client, app in reads.tokens.get(account.id, ())]
        if settings.revoke_app_passwords:
            steps += [
                RevokeAppPassword(**who, code_id=code, name=name)
                for code, name in reads.app_passwords.get(account.id, ())
            ]
    if settings.hide_from_directory and account.in_directory:
        steps.append(HideFromDirectory(**who))
    if settings.move_to_org_unit and account.org_unit_path != settings.move_to_org_unit:
        steps.append(MoveLeaver(**who, path=settings.move_to_org_unit, previous=account.org_unit_path))
    if settings.transfer_data_to and reads is not None:
        transfer = _transfer(planning, account, uuid, leaving)
        steps += [transfer] if transfer else []
    return steps


def _transfer(planning, account: GoogleUser, uuid: str, leaving: set[str]) -> ScheduleTransfer | None:
    """The transfer to the manager (or the named account); None, with a warning, when nobody can receive the data."""
    settings = planning.settings.offboarding
    receiver, why_not = _receiver(planning, account, leaving)
    if receiver is None:
        planning.warn(
            NoticeCode.TRANSFER_NO_RECEIVER,
            account.primary_email,
            f"its data is not transferred: {why_not}; set [offboarding] transfer_fallback to an account that should receive it",
        )
        return None
    due = (planning.now + timedelta(seconds=settings.transfer_after)).strftime("%Y-%m-%d") if planning.now else ""
    return ScheduleTransfer(
        uuid=uuid,
        email=account.primary_email,
        google_id=account.id,
        receiver=receiver.primary_email,
        receiver_id=receiver.id,
        applications=settings.transfer_applications,
        privacy=settings.drive_privacy,
        after=settings.transfer_after,
        due=due,
    )


def _receiver(planning, account: GoogleUser, leaving: set[str]) -> tuple[GoogleUser | None, str]:
    settings = planning.settings.offboarding
    if settings.transfer_data_to != "manager":
        return _active(planning, settings.transfer_data_to, leaving)
    manager = account.mapped_value("manager")
    found, why_not = _active(planning, manager, leaving) if manager else (None, "it has no manager in Google")
    if found is None and settings.transfer_fallback:
        fallback, fallback_problem = _active(planning, settings.transfer_fallback, leaving)
        return fallback, f"{why_not}, and the fallback {fallback_problem}" if fallback is None else ""
    return found, why_not


def _active(planning, email: str, leaving: set[str]) -> tuple[GoogleUser | None, str]:
    """The account that may receive data at ``email``, or why it cannot."""
    reads = planning.existing.leavers
    account = reads.receivers.get(email) if reads and email in reads.receivers else planning.google_by_email.get(email)
    if account is None:
        return None, f"{email} is not an account in Google"
    if account.suspended or account.id in leaving:
        return None, f"{email} is suspended (has left too)"
    return account, ""


def receivers_wanted(settings, accounts: list[GoogleUser]) -> set[str]:
    """The addresses planning may need as receivers for these leavers (the engine reads them for a push)."""
    offboarding = settings.offboarding
    wanted = {offboarding.transfer_fallback} - {""}
    if offboarding.transfer_data_to == "manager":
        wanted |= {manager for account in accounts if (manager := account.mapped_value("manager"))}
    elif offboarding.transfer_data_to:
        wanted.add(offboarding.transfer_data_to)
    return wanted


# -- coming back ------------------------------------------------------------------------------------


def plan_comeback(planning, uuid: str, account: GoogleUser, org_units_managed: bool) -> None:
    """A leaver this tool offboarded is unsuspended: reverse what can be, list what cannot."""
    record: Offboarded | None = planning.offboarded.get(account.id)
    if record is None or record.returned_at:
        return
    who = dict(uuid=uuid, email=account.primary_email, google_id=account.id)
    if record.hidden and not account.in_directory:
        planning.changes.append(ShowInDirectory(**who))
    # With [sync] org_units the directory says where the user belongs, and the update puts it there.
    if record.moved_from and not org_units_managed and account.org_unit_path == record.moved_to:
        planning.changes.append(MoveBack(**who, path=record.moved_from, previous=account.org_unit_path))
    planning.changes.append(ReturnOfLeaver(**who, note=comeback_note(record)))


def comeback_note(record: Offboarded) -> str:
    """What a comeback cannot reverse, and what happens to the transfer."""
    steps = [what for _, what in record.steps]
    kept = []
    for prefix, words in IRREVERSIBLE:
        count = sum(1 for step in steps if step.startswith(prefix))
        if count:
            kept.append(words if prefix == "signed out" else f"{count} {words}{'s' if count > 1 else ''} revoked")
    what = " and ".join(APPLICATION_NAMES.get(name, name) for name in record.transfer_applications) or "data"
    if record.transfer_status == "completed":
        kept.append(
            f"{what} transferred to {record.transfer_to} on {record.transfer_done_at[:10]} (it stays theirs: ask them to share it back)"
        )
    elif record.transfer_status in ("new", "inProgress"):
        kept.append(f"the transfer of {what} to {record.transfer_to} has started and goes on")
    note = "not reversible: " + "; ".join(kept) if kept else "nothing irreversible was done"
    if record.transfer_status in ("scheduled", "failed"):
        note += f"; the transfer of {what} to {record.transfer_to} due {record.transfer_due_at[:10]} is cancelled"
    return note
