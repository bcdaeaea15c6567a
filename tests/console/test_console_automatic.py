"""Automatic synchronization: the INI setting, the APScheduler job in the state database, the worker."""

import os
import socket
import threading
import time
from datetime import timedelta

import pytest
from console_helpers import Console, text_of

from app_google_sync.libraries.runtime import scheduler
from app_google_sync.libraries.settings import config_file
from app_google_sync.libraries.state.store import Store


def stored_job(env):
    return scheduler.scheduled_run(env.settings.sync.database)


def test_switching_on_adds_the_job_with_its_next_run_time(env, console):
    response = console.post("/automatic", {"automatic": "yes", "interval": "30"})
    assert response.status_code == 302
    assert config_file.schedule(config_file.read(str(env.config_path))) == config_file.Schedule(True, 30)
    run = stored_job(env)
    assert run is not None and run.interval == timedelta(minutes=30)
    job = console.state.scheduler.get_job(scheduler.JOB_ID)
    assert job.func_ref == "app_google_sync.libraries.runtime.jobs:full_sync"
    assert job.args == (str(env.config_path),)
    assert (job.coalesce, job.max_instances, job.misfire_grace_time) == (True, 1, scheduler.MISFIRE_GRACE_SECONDS)
    text = text_of(console.get("/automatic"))
    assert "Automatic synchronization is on: every 30 minutes." in text
    assert f"Next run {job.next_run_time.astimezone():%Y-%m-%d %H:%M:%S}" in text
    assert f"{job.next_run_time.astimezone():%Y-%m-%d %H:%M}" in text_of(console.get("/"))


def test_switching_off_removes_the_job(env, console):
    console.post("/automatic", {"automatic": "yes", "interval": "60"})
    console.post("/automatic", {"interval": "60"})  # an unticked switch sends nothing
    assert stored_job(env) is None
    assert config_file.schedule(config_file.read(str(env.config_path))).enabled is False
    assert "Automatic synchronization is off" in text_of(console.get("/automatic"))


def test_saving_the_same_schedule_keeps_the_next_run_time(env, console):
    console.post("/automatic", {"automatic": "yes", "interval": "60"})
    first = stored_job(env).next_run_time
    time.sleep(0.05)
    console.post("/automatic", {"automatic": "yes", "interval": "60"})
    assert stored_job(env).next_run_time == first


def test_the_schedule_survives_a_restart_of_the_console(env, console, host_factory):
    console.post("/automatic", {"automatic": "yes", "interval": "120"})
    before = stored_job(env).next_run_time
    console.state.shutdown()
    restarted = Console(host_factory(env.config_path))
    job = restarted.state.scheduler.get_job(scheduler.JOB_ID)
    assert job is not None and job.next_run_time == before


@pytest.mark.parametrize("interval", ["0", "2", "abc", "99999"])
def test_a_bad_interval_is_refused(env, console, interval):
    response = console.post("/automatic", {"automatic": "yes", "interval": interval})
    assert response.status_code == 400
    assert "interval" in text_of(response)
    assert stored_job(env) is None


def test_automatic_needs_a_connection(fresh_console):
    response = fresh_console.post("/automatic", {"automatic": "yes", "interval": "60"})
    assert response.status_code == 400
    assert "Connect to Google first" in text_of(response)


def test_with_a_separate_worker_the_console_only_writes_the_file(env, host_factory):
    console = Console(host_factory(env.config_path, GOOGLE_SYNC_RUN_SCHEDULER=False))
    assert console.state.scheduler is None
    assert "Active worker None" in text_of(console.get("/"))
    console.post("/automatic", {"automatic": "yes", "interval": "15"})
    assert stored_job(env) is None
    assert "set by the synchronization worker within 15 seconds" in text_of(console.get("/automatic"))
    stop = threading.Event()
    worker = threading.Thread(
        target=scheduler.run_worker, args=(str(env.config_path),), kwargs={"stop": stop, "reconcile_every": 0.1}
    )
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while stored_job(env) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stored_job(env).interval == timedelta(minutes=15)
        assert f"Active worker {socket.gethostname()} pid {os.getpid()}" in text_of(console.get("/"))
        assert "Next run" in text_of(console.get("/automatic")) and "worker" in text_of(console.get("/automatic"))
        console.post("/automatic", {"interval": "15"})
        deadline = time.monotonic() + 10
        while stored_job(env) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stored_job(env) is None
    finally:
        stop.set()
        worker.join(10)
    assert not worker.is_alive()


def test_the_scheduled_job_runs_a_full_synchronization(env):
    """The job function by its textual reference, run as APScheduler runs it."""
    from apscheduler.util import ref_to_obj

    env.directory.add_user("alice", "Alice", "Tester", password="Pass-word-1", groups=("google_apps_plugin",))
    report = ref_to_obj(scheduler.JOB_FUNCTION)(str(env.config_path))
    assert report.outcome == "applied"
    assert env.emulator.get_user("alice@example.com")
    assert Store(env.settings.sync.database).runs()[0].trigger == "scheduler"


def test_with_a_shared_postgresql_state_only_the_elected_worker_schedules(env, host_factory, postgres_url, caplog):
    env.write_config(database_url=postgres_url, automatic="yes", interval="30")
    console = Console(host_factory(env.config_path))  # GOOGLE_SYNC_RUN_SCHEDULER left True
    assert console.state.scheduler is None
    assert "ignored with a shared [sync] database_url" in caplog.text
    assert "Active worker None no google-sync worker is running: start one on each server" in text_of(console.get("/"))
    stop = threading.Event()
    worker = threading.Thread(
        target=scheduler.run_worker, args=(str(env.config_path),), kwargs={"stop": stop, "check_every": 0.1}
    )
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while stored_job(env) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stored_job(env).interval == timedelta(minutes=30)  # in PostgreSQL, where every server's console reads it
        assert f"Active worker {socket.gethostname()} pid {os.getpid()}" in text_of(console.get("/"))
    finally:
        stop.set()
        worker.join(10)
