"""The worker's parts under faults an operator meets: the state database briefly unusable, a stop mid-run."""

import logging
import sqlite3
import time

import pytest
from sqlalchemy.exc import OperationalError
from waiting import wait_for

from app_google_sync import cli
from app_google_sync.libraries.runtime.live import LiveSync


def sync(env, *args):
    return cli.main(["--config", str(env.config_path), "sync", *args])


def locked(statement="INSERT INTO push_queue"):
    return OperationalError(statement, {}, sqlite3.OperationalError("database is locked"))


@pytest.fixture
def live(env):
    env.write_config(push_delay="0.2")
    live = LiveSync(str(env.config_path))
    yield live
    live.stop()


def given_name(env, email):
    return env.emulator.get_user(email)["name"]["givenName"]


def test_a_locked_state_database_loses_no_change_and_the_watcher_goes_on(env, live, caplog):
    """Another process holding the SQLite file (a backup, sqlite3 in a shell) must not kill the watcher's thread:
    the change it could not queue is seen again from the last saved cookie, and later changes still arrive."""
    caplog.set_level(logging.INFO, logger="app_google_sync")
    env.directory.add_user("olga", "Olga", "Tester", groups=("google_apps_plugin",))
    env.directory.add_user("paul", "Paul", "Tester", groups=("google_apps_plugin",))
    assert sync(env) == 0
    live.start()
    assert wait_for(lambda: live.watcher.connected)
    time.sleep(0.5)  # the initial refresh

    enqueue, refused = live.store.enqueue_push, []

    def busy_twice(*args, **kwargs):
        if len(refused) < 2:
            refused.append(args)
            raise locked()
        return enqueue(*args, **kwargs)

    live.store.enqueue_push = busy_twice
    env.directory.modify_user("olga", givenName="Olgah")
    assert wait_for(lambda: given_name(env, "olga@example.com") == "Olgah", timeout=20)
    assert len(refused) == 2
    env.directory.modify_user("paul", givenName="Pablo")
    assert wait_for(lambda: given_name(env, "paul@example.com") == "Pablo", timeout=10)
    assert live.watcher._thread.is_alive()
    problems = [
        record
        for record in caplog.records
        if record.levelno >= logging.WARNING and "state database" in record.getMessage()
    ]
    assert problems and not any(record.exc_info for record in problems)
    assert all("database is locked" in record.getMessage() for record in problems)


def test_the_push_queue_and_heartbeat_say_a_busy_database_in_one_line(env, live, caplog):
    caplog.set_level(logging.INFO, logger="app_google_sync")
    env.directory.add_user("quin", "Quin", "Tester", groups=("google_apps_plugin",))
    assert sync(env) == 0
    claim, write = live.store.claim_pushes, live.store.set_value
    state = {"busy": True}

    def claim_busy(*args, **kwargs):
        if state["busy"]:
            raise locked("UPDATE push_queue")
        return claim(*args, **kwargs)

    live.store.claim_pushes = claim_busy
    live.start()
    assert wait_for(lambda: "push queue: cannot use the state database (database is locked)" in caplog.text)
    live.store.set_value = lambda *args: (_ for _ in ()).throw(locked("UPDATE settings"))
    live._beat_once()
    live.store.set_value = write
    state["busy"] = False
    # The watcher's initial refresh done (a first start pushes nothing it sees then): its cookie is saved.
    assert wait_for(lambda: live.store.get_value("watcher_cookie") is not None, timeout=15)
    env.directory.modify_user("quin", givenName="Quentin")
    assert wait_for(lambda: given_name(env, "quin@example.com") == "Quentin", timeout=15)
    problems = [record for record in caplog.records if "state database" in record.getMessage()]
    assert problems and not any(record.exc_info for record in problems)
    assert "heartbeat in the state database (database is locked)" in caplog.text
    assert "[SQL:" not in caplog.text


def test_a_locked_sqlite_file_is_not_called_damaged(env, capsys):
    """'move it aside' is the advice for a damaged file; for a file another process holds it would throw the history away."""
    message = cli._database_advice(str(env.config_path), locked("UPDATE runs"))
    assert "database is locked" in message and "another process" in message and "fuser" in message
    assert "move it aside" not in message and "restore" not in message


def test_a_stop_during_a_google_outage_ends_the_push_at_once_recorded_and_still_queued(env):
    """systemd stops the worker (SIGTERM) while a push waits through an outage: the stop must not wait for the
    push's retries (nor leave the run 'running' for a SIGKILL), and the change must still arrive after."""
    import threading

    from app_google_sync.libraries.runtime.scheduler import run_worker
    from app_google_sync.libraries.state.store import Store

    env.directory.add_user("rita", "Rita", "Tester", groups=("google_apps_plugin",))
    assert sync(env) == 0
    env.write_config(push_delay="0.2")
    store = Store(env.settings.sync.database)
    stop = threading.Event()
    worker = threading.Thread(
        target=run_worker, args=(str(env.config_path),), kwargs={"stop": stop, "check_every": 0.2, "watch": True}
    )
    worker.start()
    try:
        time.sleep(1.5)  # the watcher's initial refresh
        env.emulator.outage = True
        env.directory.modify_user("rita", givenName="Margarita")
        # A push meets the outage, goes back to the queue at once, and waits there for Google (no run waits for it).
        assert wait_for(
            lambda: (
                env.emulator.stats()["rejected_outage"] >= 2 and any(push.attempts for push in store.queued_pushes())
            ),
            timeout=20,
        )
    finally:
        started = time.monotonic()
        stop.set()
        worker.join(30)
    took = time.monotonic() - started
    assert not worker.is_alive()
    assert took < 5, f"the worker took {took:.1f}s to stop"
    run = store.runs(1)[
        0
    ]  # stopped mid-run (interrupted) or between the queue's attempts (the last one failed): never 'running'
    assert run.outcome == "failed" or (run.outcome == "interrupted" and "asked to stop" in run.message), run
    assert [push.name for push in store.queued_pushes()] == ["rita"]

    env.emulator.outage = False
    live = LiveSync(str(env.config_path))
    live.start()
    try:
        assert wait_for(lambda: given_name(env, "rita@example.com") == "Margarita", timeout=20)
    finally:
        live.stop()


def test_health_says_critical_in_one_nagios_line_when_the_state_database_is_down(env, capsys):
    """Nagios reads stdout and the exit code: exit 1 with nothing on stdout was shown as a WARNING with no text."""
    import socket

    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    env.write_config(database_url=f"postgresql+psycopg://google_sync:Pg-Secret-9@127.0.0.1:{port}/google_sync")
    status = cli.main(["--config", str(env.config_path), "health"])
    out, err = capsys.readouterr()
    assert status == 2
    assert out.startswith("GOOGLE-SYNC CRITICAL - cannot use the state database") and out.count("\n") == 1
    assert "database_url" in out and "Pg-Secret-9" not in out + err


def test_pushes_queued_before_the_clock_goes_back_an_hour_still_go_at_once(tmp_path, monkeypatch):
    """An NTP step or a manual `date` moving the clock back: a push due a second after the change must not wait
    an hour. The clock is injected (the store's and the queue's now), moved back while the push waits its delay."""
    from datetime import timedelta

    from app_google_sync.libraries.runtime import push_queue
    from app_google_sync.libraries.runtime.push_queue import PushQueue
    from app_google_sync.libraries.state import store as store_module
    from app_google_sync.libraries.state.store import Store

    shift = {"by": timedelta(0)}
    real_now = store_module.now

    def clock():
        return real_now() + shift["by"]

    monkeypatch.setattr(store_module, "now", clock)
    monkeypatch.setattr(push_queue, "now", clock)
    store = Store(f"sqlite:///{tmp_path}/state.db")
    handled = []
    queue = PushQueue(store, lambda push: handled.append(push.name), delay=0.5, retry_max=600)
    try:
        queue.put("user", "alice")
        shift["by"] = -timedelta(hours=1)
        assert wait_for(lambda: handled == ["alice"], timeout=8), store.queued_pushes()
        queue.put("user", "bob")  # and what is queued after the jump goes as usual
        assert wait_for(lambda: handled == ["alice", "bob"], timeout=8)
    finally:
        queue.stop()
    assert store.queued_pushes() == []


def test_the_schedule_follows_the_clock_going_back_an_hour(tmp_path):
    """After the clock went back an hour the next scheduled run would come an hour late (and health, reading the same
    clock, would not see it): the worker's periodic look re-times a job due further ahead than one interval."""
    from datetime import timedelta

    from app_google_sync.libraries.runtime import scheduler
    from app_google_sync.libraries.settings import config_file
    from app_google_sync.libraries.settings.config import SyncSettings
    from app_google_sync.libraries.state.store import now

    sync_settings = SyncSettings(state_dir=str(tmp_path / "state"))
    jobs = scheduler.build_scheduler(sync_settings, str(tmp_path / "google_sync.conf"))
    jobs.start(paused=True)
    try:
        schedule = config_file.Schedule(True, 30)
        first = scheduler.reconcile(jobs, schedule)
        assert timedelta(minutes=29) < first.next_run_time - now() <= timedelta(minutes=30)
        assert scheduler.reconcile(jobs, schedule).next_run_time == first.next_run_time  # unchanged: kept
        # As scheduled before the clock went back an hour: due an hour and a half ahead of the (injected) clock.
        later = first.next_run_time + timedelta(hours=1)
        again = scheduler.reconcile(jobs, schedule, clock=lambda: later - timedelta(minutes=90))
        assert again.next_run_time == later - timedelta(minutes=60)
    finally:
        jobs.shutdown(wait=False)


def test_the_worker_stands_by_while_postgresql_restarts_and_leads_again_after(env, tmp_path):
    """The leader losing its database must stand by (as leadership.py says), not exit: a worker run by hand, or
    every worker of a domain at once, would otherwise be gone until someone restarts it."""
    import threading

    from postgres_server import PostgresServer

    from app_google_sync.libraries.runtime.scheduler import run_worker
    from app_google_sync.libraries.state import locks

    server = PostgresServer().start()
    try:
        database_url = server.new_database()
        env.write_config(push_delay="0.2", database_url=database_url)
        env.directory.add_user("sven", "Sven", "Tester", groups=("google_apps_plugin",))
        assert sync(env) == 0
        state_dir = env.settings.sync.state_dir
        ended = []
        stop = threading.Event()

        def worker():
            try:
                run_worker(str(env.config_path), stop=stop, check_every=0.2, watch=True)
            except BaseException as error:  # noqa: BLE001  (what the test looks for)
                ended.append(error)
                raise

        thread = threading.Thread(target=worker)
        thread.start()
        try:
            assert wait_for(lambda: locks.active_worker(state_dir, database_url) is not None, timeout=20)
            time.sleep(1.0)  # the watcher's first refresh
            server.pause()
            time.sleep(2.0)  # several beats without the database
            assert thread.is_alive(), ended
            server.resume()
            assert wait_for(lambda: locks.active_worker(state_dir, database_url) is not None, timeout=30)
            env.directory.modify_user("sven", givenName="Svenja")
            assert wait_for(lambda: given_name(env, "sven@example.com") == "Svenja", timeout=30)
        finally:
            stop.set()
            thread.join(30)
        assert not ended
    finally:
        server.stop()


def test_sigterm_to_google_sync_watch_during_an_outage_stops_at_once_and_records_the_push_interrupted(env):
    import signal
    import subprocess
    import sys

    from app_google_sync.libraries.directory.watcher import COOKIE_KEY
    from app_google_sync.libraries.state.store import Store

    env.directory.add_user("tess", "Tess", "Tester", groups=("google_apps_plugin",))
    assert sync(env) == 0
    env.write_config(push_delay="0.2")
    store = Store(env.settings.sync.database)
    command = [sys.executable, "-m", "app_google_sync.cli", "--config", str(env.config_path), "watch"]
    watcher = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        # Started and through its initial refresh (the cookie is saved then): a fixed wait is too short on a busy machine.
        assert wait_for(lambda: store.get_value(COOKIE_KEY), timeout=30)
        env.emulator.outage = True
        env.directory.modify_user("tess", givenName="Theresa")
        # A push meets the outage, goes back to the queue at once, and waits there for Google (no run waits for it).
        assert wait_for(
            lambda: (
                env.emulator.stats()["rejected_outage"] >= 2 and any(push.attempts for push in store.queued_pushes())
            ),
            timeout=20,
        )
    finally:
        started = time.monotonic()
        watcher.send_signal(signal.SIGTERM)
        output = watcher.communicate(timeout=40)[0].decode()
    took = time.monotonic() - started
    assert watcher.returncode == 0, output
    assert took < 5, f"google-sync watch took {took:.1f}s to stop"
    assert store.runs(1)[0].outcome in ("partial", "failed", "interrupted")  # never left 'running'
    assert [push.name for push in store.queued_pushes()] == ["tess"]
    assert "Traceback" not in output
