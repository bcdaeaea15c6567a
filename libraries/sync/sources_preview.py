"""What a change of ``[sources]`` would do, before it is saved: the plan a test synchronization with the new
sources makes (who comes in, who would be suspended, whether a safety limit refuses it). Nothing is written."""

from __future__ import annotations

from dataclasses import dataclass

from ..core.errors import GoogleSyncError
from ..settings.config import Settings
from ..state.store import Store
from .engine import SyncEngine
from .plan import AdoptUser, CreateUser, Plan, SuspendUser, UnsuspendUser

COMING_IN = (CreateUser, AdoptUser, UnsuspendUser)


@dataclass(frozen=True)
class SourcesPreview:
    users: int  # directory users the sources include (and the pilot covers), locked ones left out
    coming_in: tuple[str, ...]  # addresses created, adopted or unsuspended
    suspended: tuple[str, ...]  # addresses that would be suspended
    plan: Plan

    @property
    def refusals(self) -> tuple[str, ...]:
        return self.plan.refusals

    @property
    def checksum(self) -> str:
        return self.plan.checksum


def preview(settings: Settings, store: Store | None = None, source=None, target=None) -> SourcesPreview:
    """The test synchronization ``settings`` would make now, against the same state database (so the suspension
    budget already spent counts). Raises like ``google-sync test`` when a side cannot be read or a source is missing."""
    engine = SyncEngine(settings, source=source, target=target, store=store)
    snapshot = engine.snapshot()
    plan = snapshot.plan
    if snapshot.google_error or plan is None:
        raise snapshot.google_error or GoogleSyncError("Google could not be read")
    return SourcesPreview(
        users=sum(user.in_scope and user.in_pilot and not user.locked for user in snapshot.desired.users),
        coming_in=tuple(sorted(change.email for change in plan.changes if isinstance(change, COMING_IN))),
        suspended=tuple(sorted(change.email for change in plan.changes if isinstance(change, SuspendUser))),
        plan=plan,
    )
