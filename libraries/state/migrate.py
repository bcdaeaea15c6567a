"""Keeps the state database's schema current with Alembic, whatever version wrote it.

A database written by 0.1.0 (before migrations) has the tables but no
``alembic_version``: it is stamped as revision 0001 first, then upgraded. A
SQLite file is copied to ``state.db.bak-<revision>`` before any upgrade, so a
failed upgrade loses nothing. A database written by a newer release is refused
rather than misread.
"""

from __future__ import annotations

import logging
import sqlite3
from contextlib import closing
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from ..core.errors import DatabaseTooNew
from . import locks, state_files

log = logging.getLogger(__name__)

SCRIPTS = str(Path(__file__).with_name("migrations"))
FIRST_REVISION = "0001"  # the schema released with 0.1.0


def _config(connection=None) -> Config:
    config = Config()
    config.set_main_option("script_location", SCRIPTS)
    config.attributes["connection"] = connection
    return config


def head() -> str:
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    if revision is None:  # the package always ships its migrations; None means an incomplete install
        raise RuntimeError(f"no migration found in {SCRIPTS}: reinstall app-google-sync")
    return revision


def current(engine: Engine) -> str | None:
    """The database's revision; FIRST_REVISION for a 0.1.0 database; None for an empty one."""
    with engine.connect() as connection:
        return _current(connection)


def _current(connection) -> str | None:
    revision = MigrationContext.configure(connection).get_current_revision()
    if revision is None and inspect(connection).has_table("links"):
        return FIRST_REVISION
    return revision


def upgrade(engine: Engine) -> str:
    """Bring the schema to the newest revision; returns it. Refuses a database newer than this code."""
    found, newest = current(engine), head()
    if found == newest:
        return newest
    refuse_newer(engine, found)
    if found is not None:
        _back_up(engine, found)
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Servers starting together on one database: one upgrades, the others wait for it, then find it done.
            connection.execute(text(f"SELECT pg_advisory_xact_lock({locks.LOCK_CLASS}, {locks.MIGRATE})"))
            if _current(connection) == newest:
                return newest
        config = _config(connection)
        if found == FIRST_REVISION and MigrationContext.configure(connection).get_current_revision() is None:
            command.stamp(config, FIRST_REVISION)
        command.upgrade(config, "head")
    log.info("state database schema: %s → %s", found or "new", newest)
    return newest


def refuse_newer(engine: Engine, found: str | None) -> None:
    """DatabaseTooNew when the database's revision is one this code does not know: a newer release wrote it."""
    known = {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}
    if found is not None and found not in known:
        raise DatabaseTooNew(
            f"the state database {engine.url.render_as_string(hide_password=True)} was written by a newer app-google-sync "
            f"(schema {found}, this release knows up to {head()}): upgrade app-google-sync, or point [sync] database_url elsewhere"
        )


def backup_path(engine: Engine, revision: str) -> Path | None:
    """Where a SQLite file is copied before it is upgraded from ``revision``; None for another database."""
    if engine.dialect.name != "sqlite" or not engine.url.database:
        return None
    path = Path(engine.url.database)
    return path.with_name(f"{path.name}.bak-{revision}")


def _back_up(engine: Engine, revision: str) -> None:
    backup, database = backup_path(engine, revision), engine.url.database
    if backup is None or not database:
        return
    path = Path(database)
    state_files.prepare_sqlite(backup)  # private from the start: it holds what the database holds
    with closing(sqlite3.connect(path)) as source, closing(sqlite3.connect(backup)) as copy:
        source.backup(copy)  # SQLite's own copy: consistent even with a write-ahead log beside the file
    log.info("state database copied to %s before upgrading", backup)
