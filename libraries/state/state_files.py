"""Files in ``state_dir`` are the owner's alone, from the moment they exist.

A file created with the process's umask (0022 under the console) and chmodded afterwards is
readable by everyone in between, and SQLite creates its ``-wal`` and ``-shm`` files with the
mode of the database file as it is at that moment: so every state file is created 0600, and a
database file is created (0600) before SQLite first opens it. A ``state_dir`` that others may
list is reported, not changed (it may be a directory the administrator shares on purpose).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE = 0o600
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")
_reported: set[str] = set()


def open_private(path: str | Path, flags: int = os.O_RDWR) -> int:
    """A descriptor on ``path``, created 0600 if it is new, whatever the umask."""
    handle = os.open(path, flags | os.O_CREAT, PRIVATE)
    try:
        os.fchmod(handle, PRIVATE)  # a file left by an older release with a looser mode is tightened too
    except PermissionError:
        pass  # another user's file that this one may write: its owner's mode stands
    return handle


def prepare_sqlite(database: str | Path) -> None:
    """The database file and its companions (WAL, shared memory) private before SQLite opens them."""
    database = Path(database)
    database.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.close(open_private(database))
    for suffix in SQLITE_COMPANIONS:
        companion = database.with_name(database.name + suffix)
        if companion.exists():
            companion.chmod(PRIVATE)
    report_loose_dir(database.parent)


def loose_dir_problem(directory: str | Path) -> str | None:
    """One line when group or others may enter ``directory`` (they see which files it holds), else None."""
    try:
        mode = stat.S_IMODE(os.stat(directory).st_mode)
    except OSError:
        return None
    if not mode & 0o077:
        return None
    return (
        f"[sync] state_dir {directory} is {mode:04o}: other users can list it (its files stay 0600); "
        f"tighten it with: chmod 700 {directory}"
    )


def report_loose_dir(directory: str | Path) -> None:
    """Log ``loose_dir_problem`` once per directory and process."""
    problem = loose_dir_problem(directory)
    if problem and str(directory) not in _reported:
        _reported.add(str(directory))
        log.warning("%s", problem)
