"""The locks that keep work from overlapping: the run lock, and the worker's leadership.

With a SQLite state database everything runs on one server, and an ``fcntl``
lock on a file in ``state_dir`` covers every process there. With PostgreSQL
several servers share the state, so the lock lives in the database: a
session-level advisory lock, held on a connection of its own for as long as the
work lasts. PostgreSQL releases it when that connection ends, however it ends:
the process stopped or was killed, the server or the network went away.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from ..core.errors import RunLocked
from . import state_files
from .processes import process_alive

log = logging.getLogger(__name__)

# Advisory locks are keyed by two integers: this application's class, then which lock.
LOCK_CLASS = 0x67737963  # "gsyc"
RUN, LEADER, MIGRATE = 1, 2, 3  # MIGRATE: held by libraries/state/migrate.py for one transaction
POLL_SECONDS = 0.2

# A lock connection whose peer vanished without closing it (power loss, network cut) is noticed by both
# sides within about 20 s: keepalives every 5 s, 3 unanswered ones end it. So a standby takes over within 30 s.
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 20000,
}
SERVER_KEEPALIVES = (
    "-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3 -c tcp_user_timeout=20000"
)

KEY = "CAST(:class AS integer), CAST(:key AS integer)"
TRY = f"SELECT pg_try_advisory_lock({KEY})"
UNLOCK = f"SELECT pg_advisory_unlock({KEY})"
# A lock on two integer keys shows in pg_locks as classid, objid and objsubid 2; advisory locks belong to one database.
GRANTED = """l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
AND l.classid = CAST(CAST(:class AS integer) AS oid) AND l.objid = CAST(CAST(:key AS integer) AS oid)
AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"""
HELD_BY_ME = f"SELECT count(*) FROM pg_locks l WHERE {GRANTED} AND l.pid = pg_backend_pid()"
HOLDER = f"SELECT a.application_name, a.backend_start FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE {GRANTED}"


def identity() -> str:
    """This process, as other servers see it: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Holder:
    """Who holds a lock: which server and process, since when."""

    host: str
    pid: int
    since: datetime | None

    @property
    def data(self) -> dict:
        return {"host": self.host, "pid": self.pid, "since": self.since.isoformat() if self.since else None}


class FileLock:
    """An exclusive ``fcntl`` lock on a file: every process of this server, none of another."""

    def __init__(self, path: Path, what: str):
        self.path, self.what = Path(path), what
        self._handle: TextIO | None = None

    def acquire(self) -> bool:
        """Take the lock if it is free; never waits."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Kept open while held (closing it would release the lock); private like every file in state_dir.
        handle = os.fdopen(state_files.open_private(self.path, os.O_RDWR | os.O_APPEND), "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        handle.seek(0), handle.truncate()
        handle.write(f"{socket.gethostname()} {os.getpid()} {datetime.now(UTC).isoformat()}\n")
        handle.flush()
        self._handle = handle
        return True

    def held(self) -> bool:
        return self._handle is not None  # a local lock is not lost while its file stays open

    def release(self) -> None:
        if self._handle is None:
            return
        handle, self._handle = self._handle, None
        handle.truncate(0)  # no holder named once it is released
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()

    def holder(self) -> Holder | None:
        """The process that holds it, from what it wrote in the file; None when free or when that process is gone."""
        try:
            host, pid, since = self.path.read_text().split()
        except (OSError, ValueError):
            return None
        if not process_alive(int(pid), host):
            return None
        return Holder(host, int(pid), datetime.fromisoformat(since))

    def describe(self) -> str:
        return f"lock {self.path}"

    def dispose(self) -> None:
        self.release()


class AdvisoryLock:
    """A PostgreSQL session-level advisory lock on a connection of its own, shared by every server using the database."""

    def __init__(self, database: str | URL, key: int, what: str):
        self.key, self.what = key, what
        # One connection per hold, not from the store's pool: closing it is what releases the lock for certain.
        self._engine = create_engine(
            database,
            poolclass=NullPool,
            connect_args={
                **KEEPALIVES,
                "application_name": f"google-sync {identity()}"[:63],
                "options": SERVER_KEEPALIVES,
            },
        )
        self._connection: Connection | None = None

    def acquire(self) -> bool:
        connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            taken = connection.execute(text(TRY), {"class": LOCK_CLASS, "key": self.key}).scalar()
        except BaseException:
            connection.close()
            raise
        if not taken:
            connection.close()
            return False
        self._connection = connection
        return True

    def held(self) -> bool:
        """Whether the lock is still ours: False once its connection broke (PostgreSQL has then released it)."""
        if self._connection is None:
            return False
        try:
            if self._connection.execute(text(HELD_BY_ME), {"class": LOCK_CLASS, "key": self.key}).scalar():
                return True
        except DBAPIError:
            log.warning("lost the connection holding the %s", self.what)
        self._discard()
        return False

    def release(self) -> None:
        if self._connection is None:
            return
        try:
            self._connection.execute(text(UNLOCK), {"class": LOCK_CLASS, "key": self.key})
        except DBAPIError:
            pass  # the connection is gone, and the lock with it
        self._discard()

    def _discard(self) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            connection.close()
        except DBAPIError:
            connection.invalidate()

    def holder(self) -> Holder | None:
        """The server and process holding the lock now, as PostgreSQL knows it; None when nobody does."""
        with self._engine.connect() as connection:
            row = connection.execute(text(HOLDER), {"class": LOCK_CLASS, "key": self.key}).first()
        if row is None:
            return None
        host, _, pid = row.application_name.removeprefix("google-sync ").rpartition(":")
        return Holder(host or row.application_name, int(pid) if pid.isdigit() else 0, row.backend_start)

    def describe(self) -> str:
        return f"PostgreSQL advisory lock ({LOCK_CLASS}, {self.key}) in {self._engine.url.render_as_string(hide_password=True)}"

    def dispose(self) -> None:
        self.release()
        self._engine.dispose()


def _lock(state_dir: str, database: str | URL, key: int, name: str, what: str):
    if make_url(database).get_backend_name() == "postgresql":
        return AdvisoryLock(database, key, what)
    return FileLock(Path(state_dir) / name, what)


def run_lock(state_dir: str, database: str | URL):
    """The lock every applying run holds: manual, scheduled and pushed runs never overlap, on any server."""
    return _lock(state_dir, database, RUN, "sync.lock", "run lock")


def leader_lock(state_dir: str, database: str | URL):
    """The lock the active worker holds: only its holder runs the scheduler and the directory watcher."""
    return _lock(state_dir, database, LEADER, "worker.lock", "worker leadership")


def active_worker(state_dir: str, database: str | URL) -> Holder | None:
    """The server and process running the scheduler and the watcher now; None when no worker is active."""
    lock = leader_lock(state_dir, database)
    try:
        return lock.holder()
    finally:
        lock.dispose()


@contextmanager
def holding(lock, timeout: float, poll: float = POLL_SECONDS):
    """Hold ``lock`` for the block (which gets it, to ask ``held()``), waiting up to ``timeout`` seconds for it;
    RunLocked if it stays taken."""
    deadline = time.monotonic() + timeout
    while not lock.acquire():
        if time.monotonic() >= deadline:
            raise RunLocked(f"another synchronization is still running ({lock.describe()}); try again later")
        time.sleep(poll)
    try:
        yield lock
    finally:
        lock.dispose()
