"""Local state through SQLAlchemy (a SQLite file by default; any SQLAlchemy URL works).

It remembers which LDAP entry (entryUUID) is which Google object, which accounts
we suspended, and every run with its per-object results. It never holds a
password, a hash of one, a key or a token: only keyed fingerprints.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine

from .model import Link, LinkState

metadata = MetaData()

links_table = Table(
    "links",
    metadata,
    Column("kind", String(10), primary_key=True),
    Column("uuid", String(64), primary_key=True),
    Column("google_id", String(64), nullable=False, index=True),
    Column("email", String(320), nullable=False),
    Column("suspended_by_us", Boolean, nullable=False, default=False),
    Column("created_by_us", Boolean, nullable=False, default=False),
    Column("password_fingerprint", String(64), nullable=False, default=""),
    Column("posting_policy", String(20), nullable=False, default=""),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

runs_table = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("trigger", String(20), nullable=False),
    Column("dry_run", Boolean, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("outcome", String(20), nullable=False, default="running"),
    Column("plan_checksum", String(32), nullable=False, default=""),
    Column("counts", Text, nullable=False, default="{}"),
    Column("message", Text, nullable=False, default=""),
)

results_table = Table(
    "results",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("action", String(30), nullable=False),
    Column("object", String(700), nullable=False),
    Column("ok", Boolean, nullable=False),
    Column("message", Text, nullable=False, default=""),
)

values_table = Table(
    "values",
    metadata,
    Column("name", String(60), primary_key=True),
    Column("value", Text, nullable=False),
)


def now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class RunRecord:
    id: int
    trigger: str
    dry_run: bool
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    plan_checksum: str
    counts: dict
    message: str

    @property
    def duration(self) -> float | None:
        if self.finished_at is None:
            return None
        return (_aware(self.finished_at) - _aware(self.started_at)).total_seconds()


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)  # SQLite drops the zone


class Store:
    def __init__(self, url: str):
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.engine: Engine = create_engine(url, future=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        metadata.create_all(self.engine)
        if url.startswith("sqlite:///"):
            os.chmod(url.removeprefix("sqlite:///"), 0o600)

    def close(self) -> None:
        self.engine.dispose()

    # -- links -------------------------------------------------------------------

    def links(self) -> LinkState:
        with self.engine.connect() as connection:
            rows = connection.execute(select(links_table)).mappings().all()
        fields = ("kind", "uuid", "google_id", "email", "suspended_by_us", "created_by_us", "password_fingerprint", "posting_policy")
        return LinkState(tuple(Link(**{name: row[name] for name in fields}) for row in rows))

    def save_links(self, links: list[Link]) -> None:
        """Insert or replace links, all in one transaction."""
        with self.engine.begin() as connection:
            for link in links:
                # The same Google object may have been linked to an entry that left the directory.
                for column, value in (("google_id", link.google_id), ("uuid", link.uuid)):
                    connection.execute(delete(links_table).where(links_table.c.kind == link.kind, links_table.c[column] == value))
                connection.execute(insert(links_table).values(**vars(link), updated_at=now()))

    def delete_link(self, link: Link) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(links_table).where(links_table.c.kind == link.kind, links_table.c.uuid == link.uuid))

    # -- runs --------------------------------------------------------------------

    def start_run(self, trigger: str, dry_run: bool) -> int:
        with self.engine.begin() as connection:
            result = connection.execute(insert(runs_table).values(trigger=trigger, dry_run=dry_run, started_at=now()))
            return result.inserted_primary_key[0]

    def finish_run(self, run_id: int, outcome: str, checksum: str = "", counts: dict | None = None, message: str = "") -> None:
        values = dict(finished_at=now(), outcome=outcome, plan_checksum=checksum, counts=json.dumps(counts or {}), message=message)
        with self.engine.begin() as connection:
            connection.execute(update(runs_table).where(runs_table.c.id == run_id).values(**values))

    def add_results(self, run_id: int, results: list[dict]) -> None:
        if not results:
            return
        rows = [dict(run_id=run_id, action=r["action"], object=r["object"], ok=r["ok"], message=r.get("message", "")) for r in results]
        with self.engine.begin() as connection:
            connection.execute(insert(results_table), rows)

    def runs(self, limit: int = 20) -> list[RunRecord]:
        query = select(runs_table).order_by(runs_table.c.id.desc()).limit(limit)
        with self.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [RunRecord(**{**row, "counts": json.loads(row["counts"] or "{}")}) for row in rows]

    def results(self, run_id: int) -> list[dict]:
        query = select(results_table).where(results_table.c.run_id == run_id).order_by(results_table.c.id)
        with self.engine.connect() as connection:
            return [dict(row) for row in connection.execute(query).mappings().all()]

    # -- named values --------------------------------------------------------------

    def secret(self, name: str, make) -> str:
        """A per-installation random value (e.g. the key of password fingerprints), created on first use."""
        with self.engine.begin() as connection:
            value = connection.execute(select(values_table.c.value).where(values_table.c.name == name)).scalar()
            if value is None:
                value = make()
                connection.execute(insert(values_table).values(name=name, value=value))
            return value

    def get_value(self, name: str) -> str | None:
        with self.engine.connect() as connection:
            return connection.execute(select(values_table.c.value).where(values_table.c.name == name)).scalar()

    def set_value(self, name: str, value: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(delete(values_table).where(values_table.c.name == name))
            connection.execute(insert(values_table).values(name=name, value=value))


def _sqlite_pragmas(connection, _record) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # the console reads while a run writes
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
