"""Every file in state_dir is 0600 from the moment it exists, under the console's 0022 umask; a pushed password's
hash does not stay on disk; a state_dir others may list is reported in one line."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from datetime import timedelta

import pytest
from sqlalchemy import create_engine

from app_google_sync import cli
from app_google_sync.libraries.google import pacing
from app_google_sync.libraries.state import locks, migrate
from app_google_sync.libraries.state.store import Store, now

HASH = "$6$rounds=5000$Pushed0salt$" + "Q" * 86


@pytest.fixture
def console_umask():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_database_its_wal_shm_locks_and_pacer_file_are_private_from_the_start(tmp_path, console_umask, caplog):
    state_dir = tmp_path / "state"
    state_dir.mkdir(mode=0o755)
    state_dir.chmod(0o755)
    with caplog.at_level(logging.WARNING):
        store = Store(f"sqlite:///{state_dir / 'state.db'}")
    store.set_value("anything", "x")  # the WAL and shared-memory files exist while a connection is open
    with store.engine.connect():
        files = {name: mode(state_dir / name) for name in ("state.db", "state.db-wal", "state.db-shm")}
    lock = locks.FileLock(state_dir / "sync.lock", "run lock")
    assert lock.acquire()
    lock.release()
    pacer = pacing.Pacer(600, state_file=state_dir / "pacer.json")
    pacer.acquire(1)
    files |= {"sync.lock": mode(state_dir / "sync.lock"), "pacer.json": mode(state_dir / "pacer.json")}
    store.close()
    assert files == dict.fromkeys(files, 0o600)
    warnings = [record.getMessage() for record in caplog.records if "state_dir" in record.getMessage()]
    assert warnings == [
        f"[sync] state_dir {state_dir} is 0755: other users can list it (its files stay 0600); tighten it with: chmod 700 {state_dir}"
    ]


def test_the_upgrade_backup_is_private_from_its_first_byte(tmp_path, console_umask, monkeypatch):
    database = tmp_path / "state.db"
    engine = create_engine(f"sqlite:///{database}")
    with engine.begin() as connection:
        from alembic import command

        command.upgrade(migrate._config(connection), migrate.FIRST_REVISION)
    engine.dispose()
    database.chmod(0o600)
    seen = {}
    connect = sqlite3.connect

    def watching(path, *args, **kwargs):
        connection = connect(path, *args, **kwargs)
        if ".bak-" in str(path):
            seen[str(path)] = mode(path)  # the moment it exists, before any page is copied into it
        return connection

    monkeypatch.setattr(migrate.sqlite3, "connect", watching)
    Store(f"sqlite:///{database}").close()
    backup = str(tmp_path / f"state.db.bak-{migrate.FIRST_REVISION}")
    assert seen == {backup: 0o600} and mode(backup) == 0o600


def test_a_pushed_password_hash_is_gone_from_the_database_and_its_wal(tmp_path):
    database = tmp_path / "state.db"
    store = Store(f"sqlite:///{database}")
    store.enqueue_push(
        "user:ann", "user", "ann", "uuid-ann", "watcher", now() - timedelta(seconds=1), password_hash=HASH
    )
    push = store.claim_push("test:1", timedelta(minutes=1))
    assert push.password_hash == HASH
    store.push_done(push)
    left = {
        path.name: HASH.encode() in path.read_bytes() for path in tmp_path.iterdir() if path.name.startswith("state.db")
    }
    store.close()
    assert left and not any(left.values()), left


def test_check_warns_about_a_state_dir_others_can_list(env, capsys):
    env.write_config()
    state_dir = env.state_dir / "state"
    state_dir.mkdir(exist_ok=True)
    state_dir.chmod(0o755)
    cli.main(["--config", str(env.config_path), "check"])
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("WARN  state_dir:")]
    assert lines == [
        f"WARN  state_dir: [sync] state_dir {state_dir} is 0755: other users can list it (its files stay 0600); tighten it with: chmod 700 {state_dir}"
    ]
