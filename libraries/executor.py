"""Applies a Plan to Google: phase by phase, each phase in retried batches.

Google runs the parts of a batch in any order, so nothing in one batch depends
on another part of it: users first, then groups, then memberships.
Applying is idempotent: a create that meets an existing object adopts it, a
member already there or already gone counts as done.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from googleapiclient.http import HttpRequest

from . import passwords
from .errors import TargetError
from .google_target import GoogleTarget, Outcome
from .model import PasswordHash
from .plan import (
    POSTING_SETTINGS,
    AddAlias,
    AddMember,
    AdoptGroup,
    AdoptUser,
    Change,
    CreateGroup,
    CreateOrgUnit,
    DeleteGroup,
    CreateUser,
    Plan,
    RemoveMember,
    SetPassword,
    SetPostingPolicy,
    SuspendUser,
    UnsuspendUser,
    UpdateGroup,
    UpdateUser,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Result:
    change: Change
    ok: bool
    message: str = ""
    google_id: str = ""

    @property
    def data(self) -> dict:
        return {**self.change.data, "ok": self.ok, "message": self.message}


Progress = Callable[[int, int], None]


def password_body(password: PasswordHash) -> dict:
    return {"password": password.value, "hashFunction": password.hash_function}


def new_user_body(change: CreateUser, change_password_at_next_login: bool) -> dict:
    body = dict(change.body)
    if change.password is None:
        body["password"] = passwords.random_password()
        body["changePasswordAtNextLogin"] = change_password_at_next_login
    else:
        body.update(password_body(change.password))
    return body


class Executor:
    def __init__(self, target: GoogleTarget, progress: Progress | None = None, change_password_at_next_login: bool = False):
        self.target = target
        self.progress = progress or (lambda done, total: None)
        self.change_password_at_next_login = change_password_at_next_login
        self._done = self._total = 0

    def apply(self, plan: Plan) -> list[Result]:
        results: list[Result] = []
        total = len(plan.changes)
        self._done, self._total = 0, total
        failed: set[str] = set()  # addresses whose creation failed: their memberships cannot work
        for phase in sorted({change.phase for change in plan.changes}):
            changes = [change for change in plan.changes if change.phase == phase]
            blocked = [c for c in changes if isinstance(c, AddMember) and {c.group_email, c.member_email} & failed]
            results.extend(Result(c, False, "skipped: the user or group could not be created") for c in blocked)
            results.extend(self._apply_phase([c for c in changes if c not in blocked]))
            failed.update(r.change.subject for r in results if not r.ok and isinstance(r.change, (CreateUser, CreateGroup)))
            self._advance_to(len(results))
        return results

    def _advance_to(self, done: int) -> None:
        self._done = max(self._done, min(done, self._total))
        self.progress(self._done, self._total)

    def _apply_phase(self, changes: list[Change]) -> list[Result]:
        requests = {str(index): (change.api, request) for index, change in enumerate(changes) if (request := self._request(change)) is not None}
        outcomes = {}
        for api in sorted({api for api, _ in requests.values()}):  # a batch never mixes APIs
            batch = {key: request for key, (kind, request) in requests.items() if kind == api}
            outcomes.update(self.target.batch(batch, api, sent=lambda parts: self._advance_to(self._done + parts)))
        results = []
        for index, change in enumerate(changes):
            outcome = outcomes.get(str(index))
            results.append(self._result(change, outcome))
        for result in results:
            log.log(logging.INFO if result.ok else logging.ERROR, "%s %s: %s", result.change.action, result.change.subject, result.message or "done")
        return results

    def _request(self, change: Change) -> HttpRequest | None:
        users, groups, members = self.target.users, self.target.groups, self.target.members
        if isinstance(change, CreateUser):
            return users.insert(body=new_user_body(change, self.change_password_at_next_login), fields="id")
        if isinstance(change, AdoptUser):
            body = {**change.patch, **({"suspended": False} if change.unsuspend else {})}
            return users.patch(userKey=change.google_id, body=body, fields="id") if body else None
        if isinstance(change, UpdateUser):
            return users.patch(userKey=change.google_id, body=change.patch, fields="id")
        if isinstance(change, AddAlias):
            return users.aliases().insert(userKey=change.email, body={"alias": change.alias}, fields="alias")
        if isinstance(change, SetPassword):
            return users.patch(userKey=change.google_id, body=password_body(change.password), fields="id")
        if isinstance(change, (SuspendUser, UnsuspendUser)):
            body = {"suspended": isinstance(change, SuspendUser)}
            return users.patch(userKey=change.google_id, body=body, fields="id")
        if isinstance(change, CreateGroup):
            body = {"email": change.email, "name": change.name, "description": change.description}
            return groups.insert(body=body, fields="id")
        if isinstance(change, (AdoptGroup, UpdateGroup)):
            body = {c.field: c.new for c in change.changes}
            return groups.patch(groupKey=change.google_id, body=body, fields="id") if body else None
        if isinstance(change, AddMember):
            return members.insert(groupKey=change.group_email, body={"email": change.member_email, "role": "MEMBER"}, fields="id")
        if isinstance(change, RemoveMember):
            return members.delete(groupKey=change.group_email, memberKey=change.member_email)
        if isinstance(change, DeleteGroup):
            return groups.delete(groupKey=change.google_id)
        if isinstance(change, CreateOrgUnit):
            body = {"name": change.name, "parentOrgUnitPath": change.parent}
            return self.target.service.orgunits().insert(customerId="my_customer", body=body, fields="orgUnitPath")
        if isinstance(change, SetPostingPolicy):
            return self.target.group_settings.patch(groupUniqueId=change.email, body=POSTING_SETTINGS[change.policy], fields="email")
        raise TypeError(f"no request for {change!r}")

    def _result(self, change: Change, outcome: Outcome | None) -> Result:
        google_id = getattr(change, "google_id", "")
        if outcome is None:  # nothing to send: a link-only adoption
            return Result(change, True, "linked", google_id)
        if outcome.ok:
            return Result(change, True, "", (outcome.response or {}).get("id", google_id))
        error = outcome.error
        if error.status == 409 and isinstance(change, CreateUser):
            return self._adopt_existing_user(change)
        if error.status == 409 and isinstance(change, CreateGroup):
            return self._adopt_existing_group(change)
        if error.status == 409 and isinstance(change, (AddMember, CreateOrgUnit)):
            return Result(change, True, "already there")
        if error.status == 409 and isinstance(change, AddAlias) and error.reason == "duplicate":
            return Result(change, False, f"{change.alias} is already taken by another user or group in Google")
        if error.status == 404 and isinstance(change, RemoveMember):
            return Result(change, True, "already removed")
        return Result(change, False, _explain(change, error), google_id)

    def _adopt_existing_user(self, change: CreateUser) -> Result:
        """The address exists after all (created meanwhile, or suspended and unlisted): take it over."""
        try:
            existing = self.target.call(self.target.users.get(userKey=change.email, fields="id,suspended"))
            body = {**change.body, "suspended": False}
            body.pop("primaryEmail", None)
            if change.password is not None:
                body.update(password_body(change.password))
            self.target.call(self.target.users.patch(userKey=existing["id"], body=body, fields="id"))
        except TargetError as error:
            return Result(change, False, f"exists in Google but could not be adopted: {error}")
        note = "already existed (suspended): adopted and unsuspended" if existing.get("suspended") else "already existed: adopted"
        return Result(change, True, note, existing["id"])

    def _adopt_existing_group(self, change: CreateGroup) -> Result:
        try:
            existing = self.target.call(self.target.groups.get(groupKey=change.email, fields="id"))
            body = {"name": change.name, "description": change.description}
            self.target.call(self.target.groups.patch(groupKey=existing["id"], body=body, fields="id"))
        except TargetError as error:
            return Result(change, False, f"exists in Google but could not be adopted: {error}")
        return Result(change, True, "already existed: adopted", existing["id"])


def _explain(change: Change, error: TargetError) -> str:
    if error.status == 403 and error.reason in ("forbidden", "insufficientPermissions"):
        return f"{error}: the service account lacks a scope or {change.subject} is outside what the administrator may manage; run 'google-sync check'"
    if error.status == 400:
        return f"Google refused the data: {error}"
    return str(error)
