"""[offboarding] data transfers: started when due, read back until Google says completed or failed, retried on failure.

The leavers table (store) holds every scheduled transfer, so a restart between scheduling and starting one loses
nothing. The scheduled run and the worker call ``run_transfers``; the administrator can too (``google-sync leavers
--transfer-now``). Google's Data Transfer API names users by id, never by address, and runs a transfer
asynchronously (overallTransferStatusCode new → inProgress → completed or failed).
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import datetime, timedelta

from ..core.model import GoogleUser, Offboarded
from ..google.answers import TargetError
from ..google.google_target import APPLICATION_IDS, APPLICATION_NAMES, GoogleTarget
from ..settings.config import OffboardingSettings
from ..state.store import Store

log = logging.getLogger(__name__)

FIRST_RETRY = timedelta(hours=1)  # a failed transfer is tried again after this, doubling up to a day
LAST_RETRY = timedelta(days=1)


def applications_text(names) -> str:
    return " and ".join(APPLICATION_NAMES.get(name, name) for name in names) or "data"


def request_body(leaver: Offboarded, receiver_id: str, privacy: tuple[str, ...]) -> dict:
    """transfers.insert's body: user ids, and each application with its parameters."""
    parameters = {
        "drive": [{"key": "PRIVACY_LEVEL", "value": [level.upper() for level in privacy]}],
        "calendar": [{"key": "RELEASE_RESOURCES", "value": ["TRUE"]}],
    }
    return {
        "oldOwnerUserId": leaver.google_id,
        "newOwnerUserId": receiver_id,
        "applicationDataTransfers": [
            {"applicationId": APPLICATION_IDS[name], "applicationTransferParams": parameters[name]}
            for name in leaver.transfer_applications
        ],
    }


STATUS_WORDS = {
    "scheduled": "scheduled",
    "new": "started, waiting at Google",
    "inProgress": "in progress at Google",
    "completed": "completed",
    "failed": "failed, tried again later",
    "cancelled": "cancelled (the user came back)",
}


def transfer_line(leaver: Offboarded) -> str:
    """One line for people: what goes to whom, and where it stands."""
    what = applications_text(leaver.transfer_applications)
    status = STATUS_WORDS.get(leaver.transfer_status, leaver.transfer_status)
    if leaver.transfer_status == "completed":
        when = f"on {leaver.transfer_done_at[:10]}"
    elif leaver.transfer_status == "failed":
        when = f"attempt {leaver.transfer_attempts} failed: {leaver.transfer_error}; next attempt {leaver.transfer_due_at[:16].replace('T', ' ')}"
    else:
        when = f"due {leaver.transfer_due_at[:10]}"
    return f"{what} to {leaver.transfer_to}, {when}: {status}"


def leaver_data(leaver: Offboarded) -> dict:
    return {
        **asdict(leaver),
        "steps": [list(step) for step in leaver.steps],
        "transfer": transfer_line(leaver) if leaver.transfer_status else "",
    }


def retry_delay(attempts: int) -> timedelta:
    return min(LAST_RETRY, FIRST_RETRY * 2 ** max(0, attempts - 1))


class TransferRunner:
    def __init__(self, store: Store, target: GoogleTarget, settings: OffboardingSettings):
        self.store, self.target, self.settings = store, target, settings

    def run(self, moment: datetime) -> list[str]:
        """Start the transfers due at ``moment`` and read back those running; one line per transfer looked at."""
        lines = []
        for leaver in self.store.transfers_to_look_at(moment):
            try:
                line = (
                    self._check(leaver, moment)
                    if leaver.transfer_id and leaver.transfer_status in ("new", "inProgress")
                    else self._start(leaver, moment)
                )
            except TargetError as error:
                line = self._failed(leaver, moment, str(error))
            log.info("transfer of %s: %s", leaver.email, line)
            lines.append(f"{leaver.email}: {line}")
        return lines

    def _start(self, leaver: Offboarded, moment: datetime) -> str:
        what = applications_text(leaver.transfer_applications)
        account = self.target.read_user(leaver.google_id)
        if account is None:
            return self._failed(leaver, moment, "the leaver's account is no longer in Google")
        if not account.suspended:  # back meanwhile, by a push not seen yet or by hand: nothing is handed over
            self.store.update_transfer(
                leaver.google_id,
                moment=moment,
                step=f"transfer of {what} cancelled: the account is active again",
                transfer_status="cancelled",
            )
            return "cancelled: the account is active again"
        receiver, problem = self._receiver(leaver)
        if receiver is None:
            return self._failed(leaver, moment, problem)
        answer = self.target.call(
            self.target.transfers.insert(
                body=request_body(leaver, receiver.id, self.settings.drive_privacy),
                fields="id,overallTransferStatusCode",
            )
        )
        status = answer.get("overallTransferStatusCode", "new")
        self.store.update_transfer(
            leaver.google_id,
            moment=moment,
            step=f"transfer of {what} to {receiver.primary_email} started",
            transfer_id=answer["id"],
            transfer_status=status,
            transfer_to=receiver.primary_email,
            transfer_to_id=receiver.id,
            transfer_error="",
        )
        return f"{what} to {receiver.primary_email}: started ({status})"

    def _receiver(self, leaver: Offboarded) -> tuple[GoogleUser | None, str]:
        """Who receives the data now: the receiver chosen when it was scheduled, or the fallback when that one left since."""
        chosen = self.target.read_user(leaver.transfer_to_id) if leaver.transfer_to_id else None
        if chosen is not None and not chosen.suspended:
            return chosen, ""
        problem = f"{leaver.transfer_to} is {'suspended' if chosen else 'not in Google'}"
        fallback = self.settings.transfer_fallback
        if fallback and fallback != leaver.transfer_to:
            account = self.target.read_user(fallback)
            if account is not None and not account.suspended:
                return account, ""
            problem += f", and the fallback {fallback} is {'suspended' if account else 'not in Google'}"
        return None, problem + ": set [offboarding] transfer_fallback to an active account"

    def _check(self, leaver: Offboarded, moment: datetime) -> str:
        answer = self.target.call(
            self.target.transfers.get(dataTransferId=leaver.transfer_id, fields="id,overallTransferStatusCode")
        )
        status = answer.get("overallTransferStatusCode", "")
        what = applications_text(leaver.transfer_applications)
        if status == "completed":
            self.store.update_transfer(
                leaver.google_id,
                moment=moment,
                step=f"transfer of {what} to {leaver.transfer_to} completed",
                transfer_status="completed",
                transfer_done_at=moment,
                transfer_error="",
            )
            return f"{what} to {leaver.transfer_to}: completed"
        if status == "failed":
            return self._failed(leaver, moment, "Google reports the transfer failed")
        if status != leaver.transfer_status:
            self.store.update_transfer(leaver.google_id, transfer_status=status)
        return f"{what} to {leaver.transfer_to}: {status}"

    def _failed(self, leaver: Offboarded, moment: datetime, why: str) -> str:
        attempts = leaver.transfer_attempts + 1
        retry_at = moment + retry_delay(attempts)
        self.store.update_transfer(
            leaver.google_id,
            moment=moment,
            step=f"transfer failed (attempt {attempts}): {why}",
            transfer_status="failed",
            transfer_attempts=attempts,
            transfer_error=why,
            transfer_due_at=retry_at,
            transfer_id="",
        )
        return f"failed (attempt {attempts}): {why}; tried again after {retry_at:%Y-%m-%d %H:%M} UTC"
