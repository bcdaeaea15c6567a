"""A run's per-object results at a real size: counted, filtered and paged in the database, failures first,
and read a batch at a time for a download.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import func, select

from ..state.store import Store, results_table
from .listing import PER_PAGE, Filters, Page

EXPORT_FIELDS = ["action", "object", "ok", "message", "recorded_at"]
STREAM_BATCH = 1000


@dataclass(frozen=True)
class ResultCounts:
    by_action: dict  # action → {"ok": n, "failed": n}
    ok: int
    failed: int

    @property
    def total(self) -> int:
        return self.ok + self.failed


def counts(store: Store, run_id: int) -> ResultCounts:
    """Applied and failed results per action, from one grouped query."""
    query = (
        select(results_table.c.action, results_table.c.ok, func.count())
        .where(results_table.c.run_id == run_id)
        .group_by(results_table.c.action, results_table.c.ok)
    )
    by_action: dict[str, dict[str, int]] = {}
    with store.engine.connect() as connection:
        for action, ok, count in connection.execute(query):
            by_action.setdefault(action, {"ok": 0, "failed": 0})["ok" if ok else "failed"] += count
    ok = sum(values["ok"] for values in by_action.values())
    failed = sum(values["failed"] for values in by_action.values())
    return ResultCounts(dict(sorted(by_action.items())), ok, failed)


def _where(query, run_id: int, filters: Filters):
    query = query.where(results_table.c.run_id == run_id)
    if filters.action:
        query = query.where(results_table.c.action == filters.action)
    if filters.outcome in ("ok", "failed"):
        query = query.where(results_table.c.ok.is_(filters.outcome == "ok"))
    if filters.q:
        needle = filters.q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(func.lower(results_table.c.object).like(f"%{needle}%", escape="\\"))
    return query


def page(store: Store, run_id: int, filters: Filters, per_page: int = PER_PAGE) -> Page:
    """One page of the run's results matching ``filters``: failures first, then in the order they were applied."""
    with store.engine.connect() as connection:
        total = (
            connection.execute(_where(select(func.count()).select_from(results_table), run_id, filters)).scalar() or 0
        )
        pages = max(1, -(-total // per_page))
        number = min(filters.page, pages)
        query = (
            _where(
                select(results_table.c.action, results_table.c.object, results_table.c.ok, results_table.c.message),
                run_id,
                filters,
            )
            .order_by(results_table.c.ok, results_table.c.id)
            .limit(per_page)
            .offset((number - 1) * per_page)
        )
        rows = [dict(row) for row in connection.execute(query).mappings()]
    return Page(rows, total, number, per_page)


def stream(store: Store, run_id: int, filters: Filters) -> Iterator[dict]:
    """Every result matching ``filters``, failures first, read from the database a batch at a time."""
    query = _where(select(*(results_table.c[name] for name in EXPORT_FIELDS)), run_id, filters).order_by(
        results_table.c.ok, results_table.c.id
    )
    with store.engine.connect() as connection:
        result = connection.execution_options(stream_results=True, yield_per=STREAM_BATCH).execute(query)
        for row in result.mappings():
            values = dict(row)
            values["recorded_at"] = values["recorded_at"].isoformat() if values["recorded_at"] else ""
            yield values


def json_safe(values: dict) -> str:
    return json.dumps(values, ensure_ascii=False, default=str)
