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
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from googleapiclient.http import HttpRequest

from ..core.model import Link, LinkState
from ..google.answers import ErrorKind, TargetError
from ..google.google_target import GoogleTarget, Outcome, TokenError
from .plan import Adoption, AssignLicense, Change, GroupChange, LinkedUserChange, Plan, ReassignLicense, SuspendUser

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
        return {
            **self.change.data,
            "ok": self.ok,
            "message": self.message,
            "record": self.change.record,
            "google_id": self.google_id,
        }


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
    done: Callable[[dict], Result | _Part]  # what a successful answer means
    proof: dict | None = None  # journaled before sending (None: a read, nothing to journal)
    link: Link | None = None
    attempts: int = 0  # retries after server errors so far
    due: float = 0.0  # not sent again before this moment
    first_sent: float | None = None
    uncertain: bool = False  # an earlier attempt may have been applied though its answer was lost
    failed: Callable[[TargetError], Result] | None = None  # what a final error means, when not the usual (a recheck)

    @property
    def api(self) -> str:
        return self.change.api


def _resource(name: str) -> Any:
    return property(lambda api: getattr(api.target, name))


@dataclass(frozen=True)
class _Api:
    """What changes build their requests from (plan.Api): the target's API resources, and the settings requests
    depend on."""

    target: GoogleTarget
    change_password_at_next_login: bool = False

    users = _resource("users")
    aliases = _resource("aliases")
    photos = _resource("photos")
    groups = _resource("groups")
    members = _resource("members")
    orgunits = _resource("orgunits")
    group_settings = _resource("group_settings")
    licenses = _resource("licenses")
    tokens = _resource("tokens")
    asps = _resource("asps")


class Executor:
    """Applies a plan phase by phase; within a phase, ready parts go out in paced batches until each has a final answer."""

    def __init__(
        self,
        target: GoogleTarget,
        progress: Progress | None = None,
        change_password_at_next_login: bool = False,
        journal: Journal | None = None,
        links: LinkState | None = None,
        consistency_window: float = CONSISTENCY_WINDOW,
        confirm_suspension: Callable[[LinkedUserChange], str] | None = None,
    ):
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
        self._licences_elsewhere: dict[str, str] | None = (
            None  # email → another SKU of the product, read when first needed
        )
        self._doubts: dict[str, str] = {}  # entryUUID -> why not to suspend it (""): asked once per leaver and run
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
        results: list[Result] = []
        waiting: list[_Part] = []
        for change in changes:
            if (
                isinstance(change, LinkedUserChange)
                and (isinstance(change, SuspendUser) or change.follows_suspension)
                and (doubt := self._doubt(change))
            ):
                results.append(
                    Result(
                        change, False, f"not {'suspended' if isinstance(change, SuspendUser) else 'applied'}: {doubt}"
                    )
                )
                continue
            request = change.request(self.api)
            if request is None:  # nothing to send: a link-only adoption
                results.append(self._applied(change, getattr(change, "google_id", ""), change.unsent_note))
            else:
                waiting.append(self._part(change, request))
        self._finish(results, [])
        while waiting:
            if self.stopped:
                unsent = [
                    Result(part.change, False, f"not applied: {self.stopped}", transient=True) for part in waiting
                ]
                self._finish(unsent, [])
                return results + unsent
            ready = [part for part in waiting if part.due <= self.clock()]
            if not ready:
                self.sleep(max(0.0, min(part.due for part in waiting) - self.clock()))
                continue
            chunk = [part for part in ready if part.api == ready[0].api][
                : self.target.chunk_size
            ]  # a batch never mixes APIs
            sent = set(map(id, chunk))
            waiting = [part for part in waiting if id(part) not in sent]
            finished, again = self._send(chunk)
            results.extend(finished)
            waiting.extend(again)
        return results

    def _doubt(self, change: LinkedUserChange) -> str:
        """Why not to suspend (nor offboard) this leaver after all: the directory is read again once per leaver."""
        uuid = getattr(change, "uuid", "")
        if not uuid:
            return self.confirm_suspension(change)
        if uuid not in self._doubts:
            self._doubts[uuid] = self.confirm_suspension(change)
        return self._doubts[uuid]

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
        finished: list[Result] = []
        again: list[_Part] = []
        for index, part in enumerate(chunk):
            part.first_sent = part.first_sent if part.first_sent is not None else now
            step = self._settle(part, outcomes[str(index)], now)
            if isinstance(step, Result):
                finished.append(step)
            else:
                again.append(step)
        self._finish(finished, intents)  # parts sent again are journaled again then
        return finished, again

    def _finish(self, results: list[Result], intents: list[int]) -> None:
        """Record what is final, keep the in-memory links current, move the progress bar."""
        for result in results:
            if result.link is not None:
                self.links[result.link.kind, result.link.uuid] = result.link
            log.log(
                logging.INFO if result.ok else logging.ERROR,
                "%s %s: %s",
                result.change.action,
                result.change.subject,
                result.message or "done",
            )
        self.journal.answered(results, intents)
        if results:
            self._done = min(self._done + len(results), self._total)
            self.progress(self._done, self._total)

    def _settle(self, part: _Part, outcome: Outcome, now: float) -> Result | _Part:
        """A final Result, or the part again (to retry) or its next step."""
        error = outcome.error
        if error is None:
            return part.done(outcome.response or {})
        if part.failed is not None and not error.retriable(part.attempts):
            return part.failed(error)
        if part.failed is None and (read := part.change.recheck(self.api, error)) is not None:
            return self._recheck(part, read, error)
        if refusal := part.change.refused(error):  # final: no retry can cure it
            return Result(part.change, False, refusal, getattr(part.change, "google_id", ""))
        if error.retriable(part.attempts):
            delay = self.target.backoff.retry_after(error, part.attempts, self.started)
            if delay is not None:
                part.attempts += not error.quota
                part.uncertain = part.uncertain or error.maybe_applied
                return self._again(part, now, delay)
        elif self._not_visible_yet(part, error):
            delay = min(self.target.backoff.delay(part.attempts), CONSISTENCY_STEP)
            if now + delay <= (part.first_sent or now) + self.consistency_window:
                part.attempts += 1
                return self._again(part, now, delay)
        return self._failed(part, error)

    @staticmethod
    def _again(part: _Part, now: float, delay: float) -> _Part:
        part.due = now + delay
        return part

    def _not_visible_yet(self, part: _Part, error: TargetError) -> bool:
        """Google's eventual consistency: a user or group created (or renamed) in this run is briefly unknown to other calls."""
        return error.kind is ErrorKind.NOT_FOUND and bool(part.change.awaits & self.new_addresses)

    # -- what answers mean ---------------------------------------------------------

    def _part(self, change: Change, request: HttpRequest, **overrides) -> _Part:
        expected = change.linked(self._previous(change), "")
        part = _Part(
            change,
            request,
            done=lambda response: self._applied(change, response.get("id", getattr(change, "google_id", ""))),
            proof=change.proof,
            link=expected,
        )
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

    def _failed(self, part: _Part, error: TargetError) -> Result | _Part:
        change = part.change
        if error.kind is ErrorKind.CONFLICT and (adoption := change.on_conflict(self.api, ours=part.uncertain)):
            return self._adopt(part, adoption)
        if done := change.already_done(error):
            return self._applied(change, getattr(change, "google_id", ""), done)
        transient = error.retriable() or self._not_visible_yet(part, error)
        return Result(
            change,
            False,
            _explain(change, error),
            getattr(change, "google_id", ""),
            transient=transient,
            unavailable=error.unavailable,
        )

    def _recheck(self, part: _Part, read: HttpRequest, error: TargetError) -> _Part:
        """An error that may mean the change holds already: the read the change names decides."""
        change, google_id = part.change, getattr(part.change, "google_id", "")

        def stands(_: TargetError) -> Result | _Part:
            if isinstance(change, AssignLicense) and (held := self._other_sku_held(change)):
                return self._reassign(change, held)
            return Result(change, False, change.refused(error) or _explain(change, error), google_id)

        return self._part(
            change,
            read,
            proof=None,
            failed=stands,
            done=lambda response: self._applied(change, google_id, "already held in Google"),
        )

    def _other_sku_held(self, change: AssignLicense) -> str:
        """The other SKU of the product the user holds (Google's automatic licensing gives new accounts one), or "".
        The product's assignments are read once per run, when the first licence is refused: by then the accounts
        this run created have theirs."""
        if self._licences_elsewhere is None:
            try:
                self._licences_elsewhere = dict(self.target.read_licences("")["licensed_elsewhere"])
            except TargetError as error:
                log.warning(
                    "cannot read who holds which licence of %s (%s): licences refused stay refused",
                    change.product,
                    error,
                )
                self._licences_elsewhere = {}
        return self._licences_elsewhere.get(change.email.lower(), "")

    def _reassign(self, change: AssignLicense, held: str) -> _Part:
        """Move the licence held to the SKU wanted, within this run (licenseAssignments.patch)."""
        move = ReassignLicense(
            uuid=change.uuid, email=change.email, product=change.product, sku=change.sku, held_sku=held
        )

        def refused(error: TargetError) -> Result:
            return Result(change, False, move.refused(error) or _explain(move, error))

        return self._part(
            change,
            move.request(self.api),
            proof=None,
            failed=refused,
            done=lambda response: self._applied(
                change, "", f"reassigned from {change.product} {held} (Google's automatic licensing had given it)"
            ),
        )

    def _adopt(self, part: _Part, adoption: Adoption) -> _Part:
        """Read the object that exists, then take it over; both steps go in batches like everything else."""
        change = part.change

        def take_over(existing: dict) -> _Part:
            request, proof, note = adoption.take_over(existing)
            linked = change.linked(self._previous(change), existing["id"])
            link = replace(linked, created_by_us=part.uncertain) if linked else None
            return self._part(
                change,
                request,
                link=link,
                proof=proof,
                done=lambda response: self._applied(change, existing["id"], note, link),
            )

        return self._part(change, adoption.read, proof=None, done=take_over)


def _intent(part: _Part) -> dict:
    return {"action": part.change.action, "object": part.change.subject, "proof": part.proof, "link": part.link}


def _explain(change: Change, error: TargetError) -> str:
    if error.denied_access:
        return f"{error}: the service account lacks a scope or {change.subject} is outside what the administrator may manage; run 'google-sync check'"
    if error.kind is ErrorKind.INVALID:
        return f"Google refused the data: {error}"
    return str(error)
