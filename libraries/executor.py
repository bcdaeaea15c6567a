"""Applies a Plan to Google: phase by phase, each phase in paced, retried batches.

Google runs the parts of a batch in any order, so nothing in one batch depends
on another part of it: users first, then groups, then memberships.
Applying is idempotent: a create that meets an existing object adopts it, a
member already there or already gone counts as done.

Nothing a run did is ever lost: before a batch goes out its intents are
journaled, and as soon as it answers its results and the links they change are
recorded together (see Journal). Parts are retried, one by one, until they have
a final answer or the run's retry deadline passes: quota answers are left to the
pacer, server errors back off exponentially, and Google's eventual consistency
(a new account not yet known to the groups service) gets a bounded wait.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Callable, Protocol

from googleapiclient.http import HttpRequest

from .errors import TargetError
from .google_target import GoogleTarget, Outcome, TokenError, is_quota, is_retriable
from .model import Link, LinkState
from .plan import Change, CreateGroup, CreateUser, GroupChange, Plan, SuspendUser, password_body

log = logging.getLogger(__name__)

# Google's eventual consistency: a new account or group can be unknown to member and alias calls for
# a while after it was created. Such a 404 is retried (steps of at most CONSISTENCY_STEP seconds) for
# CONSISTENCY_WINDOW seconds before it counts as a failure.
CONSISTENCY_WINDOW = 60.0
CONSISTENCY_STEP = 8.0


@dataclass(frozen=True)
class Result:
    change: Change
    ok: bool
    message: str = ""
    google_id: str = ""
    link: Link | None = field(default=None, compare=False)  # the object's link once this change applied
    transient: bool = field(default=False, compare=False)  # failed for a reason that may pass: worth trying again later
    unavailable: bool = field(default=False, compare=False)  # failed because Google did not answer (unreachable, 5xx)

    @property
    def data(self) -> dict:
        """As shown and stored; ``record`` and ``google_id`` let the run be undone later."""
        return {**self.change.data, "ok": self.ok, "message": self.message, "record": self.change.record, "google_id": self.google_id}


Progress = Callable[[int, int], None]


class Journal(Protocol):
    """Where the executor records, durably, what it is about to send and what each batch did."""

    def sending(self, intents: list[dict]) -> list[int]: ...

    def answered(self, results: list[Result], intents: list[int]) -> None: ...


class NoJournal:
    def sending(self, intents: list[dict]) -> list[int]:
        return []

    def answered(self, results: list[Result], intents: list[int]) -> None:
        pass


@dataclass(eq=False)
class _Part:
    """One request on its way: sent, retried, or followed by the next step (reading, then patching, an account to adopt)."""

    change: Change
    request: HttpRequest
    done: Callable[[dict], "Result | _Part"]  # what a successful answer means
    proof: dict | None = None  # journaled before sending (None: a read, nothing to journal)
    link: Link | None = None
    attempts: int = 0  # retries after server errors so far
    due: float = 0.0  # not sent again before this moment
    first_sent: float | None = None
    uncertain: bool = False  # an earlier attempt may have been applied though its answer was lost
    failed: Callable[[TargetError], "Result"] | None = None  # what a final error means, when not the usual (a recheck)

    @property
    def api(self) -> str:
        return self.change.api


@dataclass(frozen=True)
class _Api:
    """What changes build their requests from: the target's API resources, and the settings requests depend on."""

    target: GoogleTarget
    change_password_at_next_login: bool = False

    def __getattr__(self, name: str):
        return getattr(self.target, name)


class Executor:
    """Applies a plan phase by phase; within a phase, ready parts go out in paced batches until each has a final answer."""

    def __init__(self, target: GoogleTarget, progress: Progress | None = None, change_password_at_next_login: bool = False,
                 journal: Journal | None = None, links: LinkState | None = None, consistency_window: float = CONSISTENCY_WINDOW,
                 confirm_suspension: Callable[[SuspendUser], str] | None = None):
        self.target = target
        self.progress = progress or (lambda done, total: None)
        self.api = _Api(target, change_password_at_next_login)
        self.journal = journal or NoJournal()
        self.links = {(link.kind, link.uuid): link for link in (links.links if links else ())}
        self.consistency_window = consistency_window
        self.confirm_suspension = confirm_suspension or (lambda change: "")  # why not to suspend after all, or ""
        self.clock, self.sleep = target.backoff.clock, target.backoff.sleep
        self.started = self.clock()
        self.stopped = ""  # why nothing more can be sent (no token), once that happened
        self.new_addresses: set[str] = set()  # created or renamed in this run: Google may not know them everywhere yet
        self._done = self._total = 0

    def apply(self, plan: Plan) -> list[Result]:
        results: list[Result] = []
        self._done, self._total = 0, len(plan.changes)
        failed: set[str] = set()  # addresses whose creation failed: their memberships cannot work
        for phase in sorted({change.phase for change in plan.changes}):
            changes = [change for change in plan.changes if change.phase == phase]
            blocked = [c for c in changes if c.awaits & failed]
            skipped = [Result(c, False, "skipped: the user or group could not be created") for c in blocked]
            self._finish(skipped, [])
            results.extend(skipped)
            results.extend(self._apply_phase([c for c in changes if c not in blocked]))
            failed.update(r.change.introduces for r in results if not r.ok and r.change.introduces)
        return results

    # -- the send loop -------------------------------------------------------------

    def _apply_phase(self, changes: list[Change]) -> list[Result]:
        results, waiting = [], []
        for change in changes:
            if isinstance(change, SuspendUser) and (doubt := self.confirm_suspension(change)):
                results.append(Result(change, False, f"not suspended: {doubt}"))
                continue
            request = change.request(self.api)
            if request is None:  # nothing to send: a link-only adoption
                results.append(self._applied(change, getattr(change, "google_id", ""), "linked"))
            else:
                waiting.append(self._part(change, request))
        self._finish(results, [])
        while waiting:
            if self.stopped:
                unsent = [Result(part.change, False, f"not applied: {self.stopped}", transient=True) for part in waiting]
                self._finish(unsent, [])
                return results + unsent
            ready = [part for part in waiting if part.due <= self.clock()]
            if not ready:
                self.sleep(max(0.0, min(part.due for part in waiting) - self.clock()))
                continue
            chunk = [part for part in ready if part.api == ready[0].api][: self.target.chunk_size]  # a batch never mixes APIs
            sent = set(map(id, chunk))
            waiting = [part for part in waiting if id(part) not in sent]
            finished, again = self._send(chunk)
            results.extend(finished)
            waiting.extend(again)
        return results

    def _send(self, chunk: list[_Part]) -> tuple[list[Result], list[_Part]]:
        intents = self.journal.sending([_intent(part) for part in chunk if part.proof is not None])
        try:
            outcomes = self.target.send({str(index): part.request for index, part in enumerate(chunk)}, chunk[0].api)
        except TokenError as error:
            self.stopped = str(error)
            log.error("stopping the run: %s", error)
            unsent = [Result(part.change, False, f"not applied: {error}", transient=True) for part in chunk]
            self._finish(unsent, intents)
            return unsent, []
        now = self.clock()
        finished, again = [], []
        for index, part in enumerate(chunk):
            part.first_sent = part.first_sent if part.first_sent is not None else now
            step = self._settle(part, outcomes[str(index)], now)
            (finished if isinstance(step, Result) else again).append(step)
        self._finish(finished, intents)  # parts sent again are journaled again then
        return finished, again

    def _finish(self, results: list[Result], intents: list[int]) -> None:
        """Record what is final, keep the in-memory links current, move the progress bar."""
        for result in results:
            if result.link is not None:
                self.links[result.link.kind, result.link.uuid] = result.link
            log.log(logging.INFO if result.ok else logging.ERROR, "%s %s: %s", result.change.action, result.change.subject, result.message or "done")
        self.journal.answered(results, intents)
        if results:
            self._done = min(self._done + len(results), self._total)
            self.progress(self._done, self._total)

    def _settle(self, part: _Part, outcome: Outcome, now: float) -> "Result | _Part":
        """A final Result, or the part again (to retry) or its next step."""
        if outcome.ok:
            return part.done(outcome.response or {})
        error = outcome.error
        if part.failed is not None and not is_retriable(error, part.attempts):
            return part.failed(error)
        if part.failed is None and (read := part.change.recheck(self.api, error)) is not None:
            return self._recheck(part, read, error)
        if refusal := part.change.refused(error):  # final: no retry can cure it
            return Result(part.change, False, refusal, getattr(part.change, "google_id", ""))
        if is_retriable(error, part.attempts):
            delay = self.target.backoff.retry_after(error, part.attempts, self.started)
            if delay is not None:
                part.attempts += not is_quota(error)
                part.uncertain = part.uncertain or error.status == 0 or error.status >= 500
                return self._again(part, now, delay)
        elif self._not_visible_yet(part, error):
            delay = min(self.target.backoff.delay(part.attempts), CONSISTENCY_STEP)
            if now + delay <= part.first_sent + self.consistency_window:
                part.attempts += 1
                return self._again(part, now, delay)
        return self._failed(part, error)

    @staticmethod
    def _again(part: _Part, now: float, delay: float) -> _Part:
        part.due = now + delay
        return part

    def _not_visible_yet(self, part: _Part, error: TargetError) -> bool:
        """Google's eventual consistency: a user or group created (or renamed) in this run is briefly unknown to other calls."""
        return error.status == 404 and bool(part.change.awaits & self.new_addresses)

    # -- what answers mean ---------------------------------------------------------

    def _part(self, change: Change, request: HttpRequest, **overrides) -> _Part:
        expected = change.linked(self._previous(change), "")
        part = _Part(change, request, done=lambda response: self._applied(change, response.get("id", getattr(change, "google_id", ""))),
                     proof=change.proof, link=expected)
        return replace(part, **overrides)

    def _previous(self, change: Change) -> Link | None:
        uuid = getattr(change, "uuid", "")
        kind = "group" if isinstance(change, GroupChange) else "user"
        return self.links.get((kind, uuid)) if uuid else None

    def _applied(self, change: Change, google_id: str, message: str = "", link: Link | None = None) -> Result:
        if change.introduces:
            self.new_addresses.add(change.introduces)
        link = link or change.linked(self._previous(change), google_id)
        return Result(change, True, message, google_id, link)

    def _failed(self, part: _Part, error: TargetError) -> "Result | _Part":
        change = part.change
        if error.status == 409 and isinstance(change, CreateUser):
            return self._adopt_user(part)
        if error.status == 409 and isinstance(change, CreateGroup):
            return self._adopt_group(part)
        if done := change.already_done(error):
            return self._applied(change, getattr(change, "google_id", ""), done)
        transient = is_retriable(error) or self._not_visible_yet(part, error)
        return Result(change, False, _explain(change, error), getattr(change, "google_id", ""), transient=transient,
                      unavailable=unavailable(error))

    def _recheck(self, part: _Part, read: HttpRequest, error: TargetError) -> _Part:
        """An error that may mean the change holds already: the read the change names decides."""
        change, google_id = part.change, getattr(part.change, "google_id", "")

        def stands(_: TargetError) -> Result:
            return Result(change, False, change.refused(error) or _explain(change, error), google_id)

        return self._part(change, read, proof=None, failed=stands,
                          done=lambda response: self._applied(change, google_id, "already held in Google"))

    def _adopt_user(self, part: _Part) -> _Part:
        """The address exists after all (created meanwhile, by an earlier attempt whose answer was lost, or
        suspended and unlisted): read it, then take it over. Both steps go in batches like everything else."""
        change = part.change
        created_here = part.uncertain  # our own earlier attempt may be what created it

        def patch(existing: dict) -> _Part:
            body = {**change.account_body(), "suspended": False}
            body.pop("primaryEmail", None)
            if change.password is not None:
                body.update(password_body(change.password))
            note = "already existed (suspended): adopted and unsuspended" if existing.get("suspended") else "already existed: adopted"
            if created_here:
                note = "created (the first answer was lost on the way)"
            link = replace(change.linked(self._previous(change), existing["id"]), created_by_us=created_here)
            return self._part(change, self.target.users.patch(userKey=existing["id"], body=body, fields="id"), link=link,
                              proof={"read": "user", "key": existing["id"], "expect": {"suspended": False}},
                              done=lambda response: self._applied(change, existing["id"], note, link))

        return self._part(change, self.target.users.get(userKey=change.email, fields="id,suspended"), proof=None, done=patch)

    def _adopt_group(self, part: _Part) -> _Part:
        change = part.change
        created_here = part.uncertain

        def patch(existing: dict) -> _Part:
            link = replace(change.linked(self._previous(change), existing["id"]), created_by_us=created_here)
            note = "created (the first answer was lost on the way)" if created_here else "already existed: adopted"
            body = {"name": change.name, "description": change.description}
            return self._part(change, self.target.groups.patch(groupKey=existing["id"], body=body, fields="id"), link=link,
                              proof={"read": "group", "key": existing["id"], "expect": {}},
                              done=lambda response: self._applied(change, existing["id"], note, link))

        return self._part(change, self.target.groups.get(groupKey=change.email, fields="id"), proof=None, done=patch)


def unavailable(error: TargetError) -> bool:
    """Google did not answer: unreachable, or a server error (not a refusal, not a quota)."""
    return error.status == 0 or error.status >= 500


def _intent(part: _Part) -> dict:
    return {"action": part.change.action, "object": part.change.subject, "proof": part.proof, "link": part.link}


def _explain(change: Change, error: TargetError) -> str:
    if error.status == 403 and error.reason in ("forbidden", "insufficientPermissions"):
        return f"{error}: the service account lacks a scope or {change.subject} is outside what the administrator may manage; run 'google-sync check'"
    if error.status == 400:
        return f"Google refused the data: {error}"
    return str(error)
