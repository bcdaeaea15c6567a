"""A throwaway real PostgreSQL server for the tests, in a temporary directory, on 127.0.0.1 and a free port.

Debian's `postgresql` package (`make setup` installs it) provides the binaries.
initdb and postgres refuse to run as root, so as root they run as the package's
`postgres` system user in a directory it owns. The package's own cluster on 5432
is left alone.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

USER = "gsync"


def _bin_dir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda path: int(path.split("/")[4]))
    if not found:
        raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql (make setup does it)")
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    def __init__(self):
        self.bin = _bin_dir()
        self.dir = Path(tempfile.mkdtemp(prefix="google-sync-pg-"))
        self.port = _free_port()
        self._names = itertools.count(1)
        self._as_owner = []
        if os.geteuid() == 0:  # PostgreSQL refuses root: run it as its own system user, in a directory it owns
            shutil.chown(self.dir, "postgres", "postgres")
            self._as_owner = ["runuser", "-u", "postgres", "--"]

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self._as_owner, str(self.bin / tool), *args], check=True, capture_output=True, text=True)

    def start(self) -> PostgresServer:
        data = str(self.dir / "data")
        self._run("initdb", "-D", data, "-A", "trust", "-U", USER, "-E", "UTF8", "--no-sync")
        self.resume()
        return self

    def resume(self) -> None:
        """Start the server (again, after ``pause``), on the same port with the same data."""
        # fsync off: a test database need not survive a power loss, and the tests run faster without it.
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-o", options, "-l", str(self.dir / "log"), "-w", "start")

    def pause(self) -> None:
        """Stop the server as an administrator restarting it would (clients' connections are cut), data kept."""
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{USER}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """An empty database of its own (for one test); returns its SQLAlchemy URL."""
        import psycopg  # noqa: PLC0415  (the postgresql extra: only these tests need it)

        name = f"test_{os.getpid()}_{next(self._names)}"
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=USER, dbname="postgres", autocommit=True
        ) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
