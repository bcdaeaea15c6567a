"""One synchronization, start to end: read both sides, plan, check safety, apply, record.

Every trigger (command line, console, scheduler, background push) comes through
here, and one lock makes sure two runs never overlap, even across processes.
"""
from __future__ import annotations

import fcntl
import logging
import os
import secrets
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .config import Settings
from .errors import GoogleSyncError, RunLocked, UnsafePlan
from .executor import Executor, Progress, Result
from .google_target import GoogleTarget
from .ldap_source import LdapSource
from .model import Link
from .plan import AdoptGroup, AdoptUser, CreateGroup, CreateUser, Plan, SuspendUser, UnsuspendUser, UpdateGroup
from .planner import build_plan, group_email, selected_groups
from .store import Store

log = logging.getLogger(__name__)


@dataclass
class Report:
    """What a run did, for the command line, the console and the history."""

    plan: Plan | None = None
    results: list[Result] = field(default_factory=list)
    run_id: int = 0
    outcome: str = ""  # in_sync, pending, refused, applied, partial, failed, changed
    message: str = ""

    @property
    def failures(self) -> list[Result]:
        return [result for result in self.results if not result.ok]

    @property
    def data(self) -> dict:
        return {
            "run_id": self.run_id,
            "outcome": self.outcome,
            "message": self.message,
            "plan": self.plan.data if self.plan else None,
            "results": [result.data for result in self.results],
        }


class SyncEngine:
    def __init__(self, settings: Settings, source=None, target=None, store: Store | None = None):
        self.settings = settings
        self.store = store or Store(settings.sync.database)
        # Cleartext userPassword values are hashed with a salt derived from this key, so the hash is stable between runs.
        salt_key = bytes.fromhex(self.store.secret("password_salt_key", lambda: secrets.token_hex(32)))
        self.source = source or LdapSource(settings.ldap, cleartext_salt_key=salt_key)
        self.target = target or GoogleTarget(settings.google, settings.sync)

    # -- planning ----------------------------------------------------------------

    def compute_plan(self) -> Plan:
        """Read the directory (fails whole or not at all), then Google, then plan."""
        desired = self.source.read_state()
        links = self.store.links()
        managed_ids = {link.google_id for link in links.links if link.kind == "group"}
        wanted_emails = {group_email(group, self.settings.google.domain) for group in selected_groups(desired.groups, self.settings)}
        existing = self.target.read_state(member_groups=lambda group: group["email"].lower() in wanted_emails or group["id"] in managed_ids)
        return build_plan(desired, existing, links, self.settings)

    def test(self, trigger: str = "cli") -> Report:
        """A dry run: the plan and its warnings, no write to Google."""
        run_id = self.store.start_run(trigger, dry_run=True)
        try:
            plan = self.compute_plan()
        except GoogleSyncError as error:
            self.store.finish_run(run_id, "failed", message=str(error))
            raise
        outcome = "refused" if plan.refusals else ("in_sync" if plan.in_sync else "pending")
        self.store.finish_run(run_id, outcome, plan.checksum, plan.counts(), "; ".join(plan.refusals))
        return Report(plan=plan, run_id=run_id, outcome=outcome, message="; ".join(plan.refusals))

    # -- applying ----------------------------------------------------------------

    def sync(self, trigger: str = "cli", force: bool = False, expected_checksum: str = "", progress: Progress | None = None) -> Report:
        with self.lock():
            run_id = self.store.start_run(trigger, dry_run=False)
            try:
                report = self._sync(run_id, force, expected_checksum, progress)
            except GoogleSyncError as error:
                outcome = "refused" if isinstance(error, UnsafePlan) else "failed"
                self.store.finish_run(run_id, outcome, message=str(error))
                raise
            plan = report.plan
            self.store.finish_run(run_id, report.outcome, plan.checksum if plan else "", _result_counts(report.results), report.message)
            return report

    def _sync(self, run_id: int, force: bool, expected_checksum: str, progress: Progress | None) -> Report:
        plan = self.compute_plan()
        if expected_checksum and plan.checksum != expected_checksum:
            message = f"the plan changed since it was previewed ({expected_checksum} → {plan.checksum}); run the test synchronization again"
            return Report(plan=plan, run_id=run_id, outcome="changed", message=message)
        plan.raise_if_unsafe(force)
        if plan.in_sync:
            return Report(plan=plan, run_id=run_id, outcome="in_sync")
        log.info("applying plan %s: %s", plan.checksum, plan.counts())
        results = Executor(self.target, progress).apply(plan)
        self._remember(results)
        self.store.add_results(run_id, [result.data for result in results])
        failures = sum(not result.ok for result in results)
        outcome = "partial" if failures else "applied"
        message = f"{failures} of {len(results)} changes failed" if failures else ""
        return Report(plan=plan, results=results, run_id=run_id, outcome=outcome, message=message)

    def _remember(self, results: list[Result]) -> None:
        """Record in the links what Google now holds, so the next run plans from it."""
        known = self.store.links()
        current = {"user": known.by_uuid("user"), "group": known.by_uuid("group")}
        self.store.save_links([link for result in results if (link := _link_after(result, current))])

    @contextmanager
    def lock(self, timeout: float = 300.0):
        """An exclusive lock on the state directory: manual, scheduled and pushed runs never overlap."""
        path = Path(self.settings.sync.state_dir) / "sync.lock"
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(path, "a+") as handle:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise RunLocked(f"another synchronization is still running (lock {path}); try again later") from None
                    time.sleep(0.2)
            try:
                handle.seek(0), handle.truncate(), handle.write(str(os.getpid())), handle.flush()
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _link_after(result: Result, current: dict[str, dict[str, Link]]) -> Link | None:
    change = result.change
    if not result.ok or not getattr(change, "uuid", ""):
        return None
    kind = "group" if isinstance(change, (CreateGroup, AdoptGroup, UpdateGroup)) else "user"
    previous = current[kind].get(change.uuid)
    return Link(
        kind=kind,
        uuid=change.uuid,
        google_id=result.google_id,
        email=change.email,
        suspended_by_us=isinstance(change, SuspendUser) or _still_suspended_by_us(change, previous),
        created_by_us=isinstance(change, (CreateUser, CreateGroup)) or bool(previous and previous.created_by_us),
        password_fingerprint=previous.password_fingerprint if previous else "",
    )


def _still_suspended_by_us(change, previous: Link | None) -> bool:
    return bool(previous and previous.suspended_by_us) and not isinstance(change, (UnsuspendUser, AdoptUser))


def _result_counts(results: list[Result]) -> dict[str, int]:
    counts = {"ok": 0, "failed": 0}
    for result in results:
        counts["ok" if result.ok else "failed"] += 1
    return counts

