"""Automatic synchronization: one APScheduler 3 job in a SQLAlchemy job store in the state database.

The configuration file says whether it is on and how often (``[sync] automatic``
and ``interval``); the scheduler is made to match it. Exactly one process runs
the scheduler: the web console (``GOOGLE_SYNC_RUN_SCHEDULER = True``, one WSGI
process) or a ``google-sync worker`` (any number of web processes, which then
only write the file). Workers on several servers sharing a PostgreSQL state
elect one active worker; the others stand by. The engine's run lock keeps a
scheduled run from overlapping a manual one in any process, on any server.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy import inspect

from ..core import stopping
from ..core.errors import ConfigError
from ..settings import config, config_file
from ..settings.config import SyncSettings
from ..state import locks
from ..state.store import now as store_now
from . import leadership

if TYPE_CHECKING:
    from .live import LiveSync

log = logging.getLogger(__name__)

JOB_ID = "google_sync.full"
JOB_FUNCTION = "app_google_sync.libraries.runtime.jobs:full_sync"
JOB_NAME = "Google Apps synchronization"
JOBS_TABLE = "apscheduler_jobs"
MISFIRE_GRACE_SECONDS = 300  # APScheduler's default (1 s) silently skips a run that starts a little late
RECONCILE_SECONDS = 15.0


@dataclass(frozen=True)
class ScheduledRun:
    next_run_time: datetime | None  # None: paused
    interval: timedelta | None


def _database(settings) -> str:
    return getattr(settings, "sync", settings).database


def _sqlite_file(url: str) -> str | None:
    return url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else None


def build_scheduler(settings, config_path: str, background: bool = True):
    """A scheduler (not started) whose job store is the state database of ``settings``.

    ``settings`` is a ``config.Settings`` (or its ``SyncSettings``). ``config_path``
    is what the job will load each time it runs; ``reconcile`` adds the job.
    ``background=False`` gives a BlockingScheduler whose ``start()`` does not return.
    """
    database = _database(settings)
    sqlite_file = _sqlite_file(database)
    if sqlite_file:
        os.makedirs(os.path.dirname(sqlite_file), mode=0o700, exist_ok=True)
    kind = BackgroundScheduler if background else BlockingScheduler
    scheduler = kind(
        jobstores={"default": SQLAlchemyJobStore(url=database, tablename=JOBS_TABLE)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE_SECONDS},
    )
    scheduler.google_sync_config_path = os.path.abspath(config_path)
    return scheduler


def reconcile(
    scheduler, schedule: config_file.Schedule, config_path: str | None = None, clock: Callable[[], datetime] = store_now
) -> ScheduledRun | None:
    """Make the scheduler's job match ``schedule``: added, re-timed or removed. Returns the job's next run.

    A job due further ahead than one interval (plus the misfire grace) means the system clock went back since its
    last run: it is re-timed to one interval from now, or the next run would come as late as the clock went back.
    """
    path = os.path.abspath(config_path or scheduler.google_sync_config_path)
    job = scheduler.get_job(JOB_ID)
    if not schedule.enabled:
        if job is not None:
            _remove(scheduler)
            log.info("automatic synchronization switched off")
        return None
    wanted = timedelta(minutes=schedule.interval)
    if job is not None and getattr(job.trigger, "interval", None) == wanted and list(job.args) == [path]:
        moment = clock()
        if job.next_run_time is None or job.next_run_time - moment <= wanted + timedelta(seconds=MISFIRE_GRACE_SECONDS):
            return ScheduledRun(job.next_run_time, wanted)  # unchanged: keep its next run time
        log.warning(
            "the next scheduled synchronization was due %s from now, more than its interval: the system clock went "
            "back; it is now due in %d minutes",
            str(job.next_run_time - moment).split(".")[0],
            schedule.interval,
        )
        scheduler.modify_job(JOB_ID, next_run_time=moment + wanted)
        return ScheduledRun(scheduler.get_job(JOB_ID).next_run_time, wanted)
    job = scheduler.add_job(
        JOB_FUNCTION,
        "interval",
        minutes=schedule.interval,
        args=[path],
        id=JOB_ID,
        name=JOB_NAME,
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=MISFIRE_GRACE_SECONDS,
    )
    log.info("automatic synchronization every %d minutes", schedule.interval)
    return ScheduledRun(getattr(job, "next_run_time", None), wanted)


def _remove(scheduler) -> None:
    with contextlib.suppress(JobLookupError):
        scheduler.remove_job(JOB_ID)


def scheduled_run(database_url: str) -> ScheduledRun | None:
    """The job as stored, read without running a scheduler (for a console whose worker runs it)."""
    sqlite_file = _sqlite_file(database_url)
    if sqlite_file and not os.path.exists(sqlite_file):
        return None
    store = SQLAlchemyJobStore(url=database_url, tablename=JOBS_TABLE)
    try:
        # A reader never creates the table: racing a starting worker's CREATE TABLE would fail one of them.
        job = store.lookup_job(JOB_ID) if inspect(store.engine).has_table(JOBS_TABLE) else None
    finally:
        store.shutdown()
        store.engine.dispose()
    if job is None:
        return None
    return ScheduledRun(job.next_run_time, getattr(job.trigger, "interval", None))


def current_run(scheduler, database_url: str) -> ScheduledRun | None:
    """The job's next run from the running scheduler if this process has one, else from the store."""
    if scheduler is not None and scheduler.running:
        job = scheduler.get_job(JOB_ID)
        return ScheduledRun(job.next_run_time, getattr(job.trigger, "interval", None)) if job else None
    return scheduled_run(database_url)


def _read_sync_settings(config_path: str) -> tuple[SyncSettings, config_file.Schedule]:
    sync = config.load_sync(config_path)
    return sync, config_file.Schedule(sync.automatic, sync.interval)


def run_worker(
    config_path: str,
    stop: threading.Event | None = None,
    reconcile_every: float = RECONCILE_SECONDS,
    check_every: float = leadership.CHECK_SECONDS,
    watch: bool = False,
    tick: Callable[[], None] | None = None,
) -> int:
    """Run the automatic synchronization in the foreground until SIGTERM or SIGINT (or ``stop`` is set).

    For ``google-sync --config FILE worker`` under systemd, when the web console runs
    with ``GOOGLE_SYNC_RUN_SCHEDULER = False``. The console only edits the file;
    every ``reconcile_every`` seconds the worker re-reads ``[sync] automatic`` and
    ``interval`` and adjusts the job, so a change made in the console takes effect
    within that delay. Only the active worker (the holder of the leader lock, see
    ``libraries/runtime/leadership.py``) runs the scheduler and, with ``watch``, the
    directory watcher; another stands by and checks every ``check_every`` seconds.
    ``tick`` runs at each look while this worker is the active one (the caller sends due notifications
    there); it must not raise. Returns the process exit code (0 on a clean stop).
    """
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
    sync = config.load_sync(config_path)
    leader = leadership.Leadership(locks.leader_lock(sync.state_dir, sync.database))
    duties = _Duties(config_path, watch)
    log.info("worker started for %s; standing by until it is the active worker", config_path)
    last_reconcile = None
    try:
        while not stop.is_set():
            if not leader.check():
                duties.stop(wait=False)  # another worker leads now: its scheduler and watcher take over
            elif last_reconcile is None or time.monotonic() - last_reconcile >= reconcile_every or not duties.running:
                duties.start_and_reconcile()
                last_reconcile = time.monotonic()
            if duties.running and tick is not None:
                tick()
            stop.wait(min(check_every, reconcile_every))
    finally:
        # A run waiting on Google (an outage retried up to retry_deadline) ends at once, recorded as interrupted,
        # rather than outlive systemd's TimeoutStopSec and be killed 'running'.
        stopping.request()
        try:
            duties.stop(wait=True)
        finally:
            stopping.clear()
        leader.resign()
        log.info("worker stopped")
    return 0


class _Duties:
    """What only the active worker runs: the scheduler (made to match the file) and, for ``worker``, the watcher."""

    def __init__(self, config_path: str, watch: bool):
        self.config_path, self.watch = config_path, watch
        self.scheduler: BaseScheduler | None = None
        self.live: LiveSync | None = None
        self.applied: config_file.Schedule | None = (
            None  # compared by content: two edits within one mtime tick must not be missed
        )

    @property
    def running(self) -> bool:
        return self.scheduler is not None

    def start_and_reconcile(self) -> None:
        try:
            sync, schedule = _read_sync_settings(self.config_path)
            if self.scheduler is None:
                self._start(sync)
            if schedule != self.applied:
                run = reconcile(self.scheduler, schedule, self.config_path)
                self.applied = schedule
                log.info(
                    "schedule: %s",
                    f"next run {run.next_run_time:%Y-%m-%d %H:%M:%S %Z}" if run and run.next_run_time else "off",
                )
        except ConfigError as error:  # a bad edit must not kill the worker: the schedule stays as it was
            log.error("%s; the schedule is unchanged, retrying soon", error)
        except Exception:  # noqa: BLE001  (nor must anything else; it logs and retries)
            log.exception("cannot apply the schedule from %s; retrying soon", self.config_path)

    def _start(self, sync: SyncSettings) -> None:
        scheduler = build_scheduler(sync, self.config_path)
        scheduler.start()
        self.scheduler, self.applied = scheduler, None
        log.info("scheduler started (job store %s)", JOBS_TABLE)
        if self.watch:
            from ..runtime.live import LiveSync  # noqa: PLC0415  (python-ldap's watcher only where it runs)

            self.live = live = LiveSync(self.config_path)
            live.start()

    def stop(self, wait: bool) -> None:
        # Often called because the database went away: each part is let go even if another could not say so there,
        # and the worker stands by rather than exit (leadership.py).
        try:
            if self.live is not None:
                live, self.live = self.live, None
                live.stop()
        finally:
            if self.scheduler is not None:
                scheduler, self.scheduler = self.scheduler, None
                scheduler.shutdown(wait=wait)
                log.info("scheduler stopped")
