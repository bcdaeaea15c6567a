"""The state database of a 0.1.0 installation, as a SQL script (tests/fixtures/state-0.1.0.sql), and how it was made.

0.1.0 wrote the schema of migration 0001 with no ``alembic_version`` table. The
script holds that schema and the rows a real synchronization of ``populate()``'s
directory wrote: links, runs, results and the installation's secrets (the keys of
the password fingerprints). Its entryUUIDs and Google ids are placeholders,
``{user:ann:uuid}`` and ``{user:ann:google_id}``: slapd and the emulator assign new
ones each time a test builds that world, and the test fills them in.

Regenerate (with today's code, kept at revision 0001): ``.venv/bin/python tests/state_0_1_0.py``
"""

from __future__ import annotations

import re
import sqlite3
import sys
import tempfile
from pathlib import Path

FIXTURE = Path(__file__).with_name("fixtures") / "state-0.1.0.sql"
PASSWORD = "Fixture-Password-1"
USERS = (
    ("ann", "Ann", "Archer", ("sales",)),
    ("bob", "Bob", "Baker", ("sales", "engineering")),
    ("carol", "Carol", "Cruz", ("engineering",)),
)
GROUPS = (("sales", "Sales team"), ("engineering", "Engineering"))
SECRETS = ("password_fingerprint_key", "password_salt_key")


def populate(directory) -> None:
    """The directory the fixture's state belongs to (the ``google_apps_plugin`` group exists already)."""
    for name, description in GROUPS:
        directory.add_group(name, description=description, group_of_names=True)
    for uid, given, family, groups in USERS:
        directory.add_user(uid, given, family, password=PASSWORD, groups=("google_apps_plugin", *groups))


def placeholders(engine) -> dict[str, str]:
    """``{kind:name:uuid}`` and ``{kind:name:google_id}`` → their values in the world ``engine`` synchronized."""
    desired = engine.source.read_state()
    names = {("user", user.uuid): user.uid for user in desired.users} | {
        ("group", group.uuid): group.name for group in desired.groups
    }
    values = {}
    for link in engine.store.links().links:
        name = names[(link.kind, link.uuid)]
        values[f"{{{link.kind}:{name}:uuid}}"] = link.uuid
        values[f"{{{link.kind}:{name}:google_id}}"] = link.google_id
    return values


def fill(script: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(user|group):\w+:(uuid|google_id)\}", lambda found: values[found.group(0)], script)


def main() -> int:
    from alembic import command
    from sqlalchemy import create_engine

    from app_google_sync.demo.directory import DemoDirectory
    from app_google_sync.demo.environment import DemoEnvironment
    from app_google_sync.libraries.state import migrate
    from app_google_sync.libraries.sync.engine import SyncEngine

    with tempfile.TemporaryDirectory() as workdir, DemoDirectory() as directory:
        directory.add_group("google_apps_plugin")
        populate(directory)
        with DemoEnvironment(state_dir=workdir, directory=directory) as env:
            engine = SyncEngine(env.settings)
            engine.test()
            engine.sync()
            old = Path(workdir) / "0.1.0.db"
            old_engine = create_engine(f"sqlite:///{old}")
            with old_engine.begin() as connection:
                command.upgrade(migrate._config(connection), migrate.FIRST_REVISION)
            copy_as_0_1_0(engine.store.engine, old)
            script = "\n".join(sqlite3.connect(old).iterdump())
            for placeholder, value in placeholders(engine).items():
                script = script.replace(value, placeholder)
    FIXTURE.parent.mkdir(exist_ok=True)
    FIXTURE.write_text(
        f"-- The state database of app-google-sync 0.1.0 (schema 0001, no alembic_version); made by tests/state_0_1_0.py\n{script}\n"
    )
    print(f"wrote {FIXTURE}")
    return 0


def copy_as_0_1_0(source, path: Path) -> None:
    """The rows of a current database, in the columns 0.1.0 had; then 0.1.0's lack of an alembic_version table."""
    with sqlite3.connect(path) as target, source.connect() as connection:
        for table in ("links", "runs", "results", "values"):
            columns = [row[1] for row in target.execute(f'PRAGMA table_info("{table}")')]
            quoted = ", ".join(f'"{column}"' for column in columns)
            rows = connection.exec_driver_sql(f'SELECT {quoted} FROM "{table}" ORDER BY 1').all()
            target.executemany(
                f'INSERT INTO "{table}" ({quoted}) VALUES ({", ".join("?" * len(columns))})',
                [tuple(row) for row in rows],
            )
        target.execute("DROP TABLE alembic_version")


if __name__ == "__main__":
    sys.exit(main())
