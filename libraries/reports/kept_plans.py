"""Plans and views the console computed, kept by checksum in the state directory so paging, filtering and
downloading them never read the directory and Google again, in whichever of the console's processes the
next request lands.

A plan is kept as gzip'd JSON (what ``Change.data`` and ``Notice.data`` hold: no secret, no password), written
to a temporary file and renamed, so a reader never sees half of one. Only the newest few are kept.
*Synchronize now* still plans again and applies only when the checksum is the same (engine.sync).
"""

from __future__ import annotations

import gzip
import json
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..sync.plan import Plan

PLANS_DIR = "plans"
KEEP = 8
_CHECKSUM = re.compile(r"^[0-9a-f]{16}$")


@dataclass(frozen=True)
class KeptPlan:
    """A plan as the console shows it: rows of plain data, in the plan's order."""

    checksum: str
    computed_at: datetime
    in_sync: bool
    counts: dict
    refusals: tuple
    changes: list  # dicts: Change.data + "detail" (Change.describe())
    notices: list  # dicts: Notice.data

    @property
    def warnings(self) -> list:
        return [notice for notice in self.notices if notice["level"] == "warning"]


def plan_rows(plan: Plan) -> list[dict]:
    return [{**change.data, "detail": change.describe()} for change in plan.changes]


def kept(plan: Plan, computed_at: datetime | None = None) -> KeptPlan:
    return KeptPlan(
        checksum=plan.checksum,
        computed_at=computed_at or datetime.now(UTC),
        in_sync=plan.in_sync,
        counts=plan.counts(),
        refusals=tuple(plan.refusals),
        changes=plan_rows(plan),
        notices=[notice.data for notice in plan.notices],
    )


def _folder(state_dir: str) -> Path:
    return Path(state_dir) / PLANS_DIR


def save(state_dir: str, plan: Plan) -> KeptPlan:
    """Keep ``plan`` (replacing one of the same checksum) and forget all but the newest few; returns what was kept."""
    value = kept(plan)
    folder = _folder(state_dir)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    payload = {
        "checksum": value.checksum,
        "computed_at": value.computed_at.isoformat(),
        "in_sync": value.in_sync,
        "counts": value.counts,
        "refusals": list(value.refusals),
        "changes": value.changes,
        "notices": value.notices,
    }
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".plan-")
    try:
        # compresslevel 1: a 20,000-change plan is written in a few tens of milliseconds and still ten times smaller
        with os.fdopen(handle, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) as out:
            out.write(json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8"))
        path = folder / f"{value.checksum}.json.gz"
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _remember((str(path), path.stat().st_mtime_ns), value)  # the page that follows reads it from memory
    _prune(folder)
    return value


def load(state_dir: str, checksum: str) -> KeptPlan | None:
    """The kept plan of that checksum; None when it is not (or no longer) kept.

    The last few read stay in this process's memory (a page of 20,000 changes is then a few milliseconds):
    the file's path and modification time say whether the copy is still the one kept."""
    if not _CHECKSUM.match(checksum or ""):
        return None
    path = _folder(state_dir) / f"{checksum}.json.gz"
    try:
        key = (str(path), path.stat().st_mtime_ns)
    except OSError:
        return None
    if key in _recent:
        return _recent[key]
    try:
        with gzip.open(path, "rb") as source:
            payload = json.loads(source.read())
    except (OSError, ValueError):
        return None
    value = _from_payload(payload)
    _remember(key, value)
    return value


RECENT = 3  # two plans and a view
_recent: dict[tuple[str | int, ...], Any] = {}  # kept plans and the kept view, by path and modification time


def _remember(key: tuple, value) -> None:
    _recent[key] = value
    for old in list(_recent)[:-RECENT]:
        _recent.pop(old, None)


def _from_payload(payload: dict) -> KeptPlan:
    return KeptPlan(
        checksum=payload["checksum"],
        computed_at=datetime.fromisoformat(payload["computed_at"]),
        in_sync=payload["in_sync"],
        counts=payload["counts"],
        refusals=tuple(payload["refusals"]),
        changes=payload["changes"],
        notices=payload["notices"],
    )


def _prune(folder: Path) -> None:
    files = sorted(folder.glob("*.json.gz"), key=lambda path: path.stat().st_mtime, reverse=True)
    for old in files[KEEP:]:
        old.unlink(missing_ok=True)


# -- the Users and groups view -----------------------------------------------------------------------

VIEW_FILE = "overview.json.gz"


def save_view(state_dir: str, view, google_problem: str) -> datetime:
    """Keep the last computed Users and groups view (overview.Overview); returns when it was computed."""
    computed_at = datetime.now(UTC)
    folder = Path(state_dir)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    payload = {
        "computed_at": computed_at.isoformat(),
        "google_problem": google_problem,
        "view": {
            "users": [vars(user) for user in view.users],
            "groups": [vars(group) for group in view.groups],  # flat: no deep copy
            "google_known": view.google_known,
            "counts": view.counts,
        },
    }
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".overview-")
    try:
        with os.fdopen(handle, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1) as out:
            out.write(json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8"))
        os.replace(temporary, folder / VIEW_FILE)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return computed_at


def load_view(state_dir: str):
    """(Overview, Google's problem then, when it was computed), or None when none is kept (or it cannot be read)."""
    from .overview import GroupStatus, Overview, UserStatus  # noqa: PLC0415  (overview imports the planner)

    path = Path(state_dir) / VIEW_FILE
    try:
        key = ("view", str(path), path.stat().st_mtime_ns)
    except OSError:
        return None
    if key in _recent:  # the same file as last read in this process: no 10,000 users parsed again
        return _recent[key]
    try:
        with gzip.open(path, "rb") as source:
            payload = json.loads(source.read())
        view = payload["view"]
        users = tuple(UserStatus(**{**user, "last_pushed": _moment(user["last_pushed"])}) for user in view["users"])
        groups = tuple(
            GroupStatus(**{**group, "last_pushed": _moment(group["last_pushed"])}) for group in view["groups"]
        )
        overview = Overview(users=users, groups=groups, google_known=view["google_known"], counts=view["counts"])
        kept = overview, payload["google_problem"], datetime.fromisoformat(payload["computed_at"])
        _remember(key, kept)
        return kept
    except (OSError, ValueError, KeyError, TypeError):
        return None  # none yet, or written by another version: computed again


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


# -- narrowing them down ----------------------------------------------------------------------------


def changes_matching(plan: KeptPlan, filters) -> list[dict]:
    """The plan's changes of ``filters.action`` whose object (address, or "group ← member") holds ``filters.q``."""
    needle = filters.q.lower()
    return [
        change
        for change in plan.changes
        if (not filters.action or change["action"] == filters.action)
        and (not needle or needle in change["object"].lower())
    ]


def notices_matching(notices: list[dict], filters) -> list[dict]:
    """Notices of ``filters.code`` whose object or message holds ``filters.q``."""
    needle = filters.q.lower()
    return [
        notice
        for notice in notices
        if (not filters.code or notice["code"] == filters.code)
        and (not needle or needle in notice["object"].lower() or needle in notice["message"].lower())
    ]


def users_matching(view, filters) -> list:
    """Users and groups: the users in ``filters.state`` whose uid, name or address holds ``filters.q``."""
    needle = filters.q.lower()
    return [
        user
        for user in view.users
        if (not filters.state or user.state == filters.state)
        and (not needle or needle in user.uid.lower() or needle in user.email.lower() or needle in user.name.lower())
    ]


def groups_matching(view, filters) -> list:
    needle = filters.q.lower()
    return [
        group
        for group in view.groups
        if (not filters.state or group.state == filters.state)
        and (not needle or needle in group.name.lower() or needle in group.email.lower())
    ]


_computing = threading.Lock()


def refresh_view(engine):
    """Read both sides, build the Users and groups view and keep it; returns (Overview, Google's problem, when).

    One computation at a time in a process: a request that arrives while another (or the refresh after a console
    synchronization) computes it waits for that one's result instead of reading LDAP and Google a second time."""
    from .overview import read_overview  # noqa: PLC0415  (overview imports the planner)

    state_dir = engine.settings.sync.state_dir
    if not _computing.acquire(blocking=False):
        started = datetime.now(UTC)
        with _computing:
            pass
        kept = load_view(state_dir)
        if kept is not None and kept[2] >= started - timedelta(minutes=1):
            return kept
        _computing.acquire()
    try:
        view, google_problem = read_overview(engine)
        return view, google_problem, save_view(state_dir, view, google_problem)
    finally:
        _computing.release()
