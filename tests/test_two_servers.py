"""Two servers sharing one PostgreSQL state database: runs never overlap, one worker leads, a standby takes over.

Each "server" is a state directory of its own (the run lock of SQLite is a file
there, so only the database can keep them apart) against a real PostgreSQL
server started by the tests.
"""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace

import pytest
from sqlalchemy import create_engine, text
from waiting import wait_for

from app_google_sync import cli
from app_google_sync.libraries.core.errors import ConfigError, RunLocked
from app_google_sync.libraries.runtime.leadership import Leadership
from app_google_sync.libraries.state import locks
from app_google_sync.libraries.state.store import Store
from app_google_sync.libraries.sync.engine import SyncEngine

LOCK_HOLDER = """
import sys, time
from app_google_sync.libraries.state import locks
lock = locks.run_lock(sys.argv[1], sys.argv[2])
assert lock.acquire()
print("held", flush=True)
time.sleep(60)
"""


def server(env, tmp_path, name: str, database_url: str, copied_keys: bool = True):
    """The settings of one server: its own state directory, the shared database, and (as the README says to do)
    the same password keys as the other servers in its secrets/."""
    settings = env.settings
    if copied_keys:
        copy_keys(tmp_path, name)
    return replace(settings, sync=replace(settings.sync, state_dir=str(tmp_path / name), database_url=database_url))


def copy_keys(tmp_path, name: str) -> None:
    """The keys of these servers (made once), copied into ``name``'s secrets/ as an administrator copies them."""
    shared = tmp_path / "keys"
    secrets_dir = tmp_path / name / "secrets"
    secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for key in ("password_salt_key", "password_fingerprint_key"):
        if not (shared / f"{key}.key").exists():
            shared.mkdir(exist_ok=True)
            (shared / f"{key}.key").write_text(secrets.token_hex(32) + "\n")
        (secrets_dir / f"{key}.key").write_text((shared / f"{key}.key").read_text())
        (secrets_dir / f"{key}.key").chmod(0o600)


def test_two_servers_runs_never_overlap(env, tmp_path, postgres_url):
    for number in range(40):
        env.directory.add_user(f"user{number}", "User", f"Number{number}", groups=("google_apps_plugin",))
    env.write_config(batch_size="5")
    env.emulator.latency = 0.01  # each run takes a while: long enough to overlap if the lock let it
    first, second = (server(env, tmp_path, name, postgres_url) for name in ("server-a", "server-b"))
    with (
        SyncEngine(first).lock(),
        pytest.raises(RunLocked, match="PostgreSQL advisory lock"),
        SyncEngine(second).lock(timeout=0),
    ):
        pass
    reports = {}
    threads = [
        threading.Thread(
            target=lambda name, settings: reports.__setitem__(name, SyncEngine(settings).sync()), args=(name, settings)
        )
        for name, settings in (("a", first), ("b", second))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(report.outcome for report in reports.values()) == [
        "applied",
        "in_sync",
    ]  # the second found the work done
    runs = [run for run in Store(postgres_url).runs() if not run.dry_run]
    assert len(runs) == 2 and all(run.finished_at for run in runs)
    earlier, later = sorted(runs, key=lambda run: run.started_at)
    assert earlier.finished_at <= later.started_at
    assert (
        len([user for user in env.emulator.users() if user["primaryEmail"].startswith("user")]) == 40
    )  # each created once


def test_the_run_lock_is_freed_when_the_process_holding_it_is_killed(tmp_path, postgres_url):
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(tmp_path), postgres_url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(RunLocked), locks.holding(locks.run_lock(str(tmp_path / "other"), postgres_url), timeout=0):
            pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with locks.holding(locks.run_lock(str(tmp_path / "other"), postgres_url), timeout=5):
        pass


def test_a_standby_takes_over_when_the_leaders_connection_drops(tmp_path, postgres_url):
    leader = Leadership(locks.leader_lock(str(tmp_path / "a"), postgres_url))
    standby = Leadership(locks.leader_lock(str(tmp_path / "b"), postgres_url))
    try:
        assert leader.check() and not standby.check()
        assert leader.check() and not standby.check()  # the beat after: still so
        holder = standby.holder()
        assert holder is not None and holder.host and holder.since is not None
        admin = create_engine(postgres_url)
        with admin.begin() as connection:  # the leader's connection drops (its server went away)
            ended = connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND classid = :class AND objid = :key AND granted "
                    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                ),
                {"class": locks.LOCK_CLASS, "key": locks.LEADER},
            ).all()
        admin.dispose()
        assert ended == [(True,)]
        assert wait_for(standby.check, timeout=5)
        assert not leader.check()  # the old leader learns it lost, and stands by
        assert not leader.check()
    finally:
        leader.resign()
        standby.resign()
    assert locks.active_worker(str(tmp_path), postgres_url) is None


def test_each_database_on_one_postgresql_server_has_its_own_leader(tmp_path, postgres_server):
    """Two domains, two databases on one server: neither worker waits for, nor shows as, the other's."""
    first_url, second_url = postgres_server.new_database(), postgres_server.new_database()
    first = Leadership(locks.leader_lock(str(tmp_path), first_url))
    try:
        assert first.check()
        assert locks.active_worker(str(tmp_path), second_url) is None
        second = Leadership(locks.leader_lock(str(tmp_path), second_url))
        assert second.check()
        second.resign()
    finally:
        first.resign()


def test_with_sqlite_a_second_worker_of_the_same_state_directory_stands_by(tmp_path):
    database = f"sqlite:///{tmp_path / 'state.db'}"
    first, second = (Leadership(locks.leader_lock(str(tmp_path), database)) for _ in range(2))
    try:
        assert first.check() and not second.check()
        holder = locks.active_worker(str(tmp_path), database)
        assert holder is not None and holder.pid == locks.os.getpid()
        first.resign()
        assert second.check()
    finally:
        first.resign()
        second.resign()
    assert locks.active_worker(str(tmp_path), database) is None


def worker(env, config_path, *options) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "app_google_sync.cli",
        "-v",
        "--config",
        str(config_path),
        "worker",
        "--check-every",
        "0.2",
        *options,
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def status(config_path) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "app_google_sync.cli", "--config", str(config_path), "status", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout)


def test_a_killed_active_worker_is_replaced_by_the_standby(env, tmp_path, postgres_url, capsys):
    """Two worker processes (two servers: two state directories, one database); the active one is killed."""
    from app_google_sync.libraries.runtime.scheduler import scheduled_run

    configs = []
    for name in ("server-a", "server-b"):
        copy_keys(tmp_path, name)
        env.write_config(state_dir=str(tmp_path / name), database_url=postgres_url, automatic="yes", interval="60")
        configs.append(tmp_path / f"{name}.conf")
        configs[-1].write_text(env.config_path.read_text())
    first = worker(env, configs[0])
    second = None
    try:
        assert wait_for(lambda: (status(configs[1])["worker"] or {}).get("pid") == first.pid, timeout=20), (
            first.poll() and first.communicate()[0]
        )
        assert wait_for(lambda: scheduled_run(postgres_url) is not None)
        second = worker(env, configs[1])
        time.sleep(1.0)  # five of its beats: it stands by
        assert status(configs[1])["worker"]["pid"] == first.pid
        first.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        first.wait()
        assert wait_for(lambda: (status(configs[0])["worker"] or {}).get("pid") == second.pid, timeout=30)
        assert time.monotonic() - killed_at < 30
        assert cli.main(["--config", str(configs[0]), "status"]) == 0
        assert f"(pid {second.pid})" in capsys.readouterr().out
    finally:
        for process in (first, second):
            if process and process.poll() is None:
                process.send_signal(signal.SIGTERM)
        output = second.communicate(timeout=30)[0] if second else ""
        first.communicate(timeout=30)
    assert second.returncode == 0, output
    assert "is now the active one" in output and "scheduler started" in output
    assert scheduled_run(postgres_url) is not None  # the job survived the takeover, in the shared job store


def test_a_run_whose_lock_connection_drops_stops_before_its_next_batch(env, tmp_path, postgres_url):
    for number in range(12):
        env.directory.add_user(f"user{number}", "User", f"Number{number}", groups=("google_apps_plugin",))
    env.write_config(batch_size="3")
    settings = server(env, tmp_path, "server-a", postgres_url)
    admin = create_engine(postgres_url)
    batches = []

    def drop_the_lock_connection(
        done, total
    ):  # after the first batch, the server holding the lock loses its connection
        batches.append(done)
        if len(batches) == 1:
            with admin.begin() as connection:
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND classid = :class AND objid = :key AND granted "
                        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                    ),
                    {"class": locks.LOCK_CLASS, "key": locks.RUN},
                )

    with pytest.raises(RunLocked, match="lost its lock"):
        SyncEngine(settings).sync(progress=drop_the_lock_connection)
    admin.dispose()
    store = Store(postgres_url)
    [run] = store.runs(limit=1)
    assert run.outcome == "failed" and "lost its lock" in run.message
    applied = sum(result["ok"] for result in store.results(run.id))
    assert 0 < applied < 12  # what it applied before is recorded; nothing after the lock was lost
    other = server(env, tmp_path, "server-b", postgres_url)
    assert SyncEngine(other).sync().outcome == "applied"  # the other server finishes the job
    assert len([user for user in env.emulator.users() if user["primaryEmail"].startswith("user")]) == 12


def test_servers_of_one_database_share_the_password_keys_or_refuse_naming_the_file_to_copy(
    env, tmp_path, postgres_url, capsys
):
    env.directory.add_user("keyed", "Keyed", "User", password="Keyed-Password-1", groups=("google_apps_plugin",))
    env.write_config()
    first, second = (server(env, tmp_path, name, postgres_url, copied_keys=False) for name in ("server-a", "server-b"))
    assert SyncEngine(first).sync().outcome == "applied"
    missing = tmp_path / "server-b" / "secrets" / "password_salt_key.key"
    with pytest.raises(ConfigError) as refused:
        SyncEngine(second)  # its own new keys would make every fingerprint differ: every password pushed again
    assert str(refused.value).startswith(
        f"{missing} is missing: the shared state database's fingerprints were made with another server's"
    )
    assert "copy password_salt_key.key from a server of this database" in str(refused.value) and not missing.exists()
    (tmp_path / "server-b" / "secrets" / "password_fingerprint_key.key").parent.mkdir(parents=True, exist_ok=True)
    stranger = tmp_path / "server-b" / "secrets" / "password_fingerprint_key.key"
    for name in ("password_salt_key.key", "password_fingerprint_key.key"):
        (tmp_path / "server-b" / "secrets" / name).write_bytes((tmp_path / "server-a" / "secrets" / name).read_bytes())
    stranger.write_text("00" * 32 + "\n")  # a key of its own: refused too
    with pytest.raises(ConfigError, match="password_fingerprint_key.key differs from the key"):
        SyncEngine(second)
    stranger.write_bytes((tmp_path / "server-a" / "secrets" / "password_fingerprint_key.key").read_bytes())
    assert SyncEngine(second).compute_plan().changes == ()  # the password pushed by server A is not pushed again
