"""Prometheus metrics of the worker (``[worker] metrics_address``), with prometheus_client.

Most figures are read from the state database when Prometheus scrapes, so they count
what every process did (the worker, the console, ``google-sync sync`` from cron) and
survive restarts: runs by kind and outcome, changes by action and result, the push
queue, the last success, the watcher's heartbeat. API calls are counted as they are
answered, in the process that makes them; the endpoint shows the worker's own.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from ..core.codes import RunOutcome
from ..core.errors import ConfigError
from ..google.calls import API_REGISTRY
from ..state.store import Store, database_problem, now, results_table, runs_table
from .monitoring import aware, kind_of, last_full_run, read_heartbeat

log = logging.getLogger(__name__)

WATCHER_UP_HELP = "1 while the directory watcher runs and reaches slapd (0 also while the state database is down)"


class StoreCollector:
    """Figures read from the state database at each scrape (changes are added up as new results arrive)."""

    def __init__(self, store: Store, clock=now):
        self.store, self.clock = store, clock
        self._lock = threading.Lock()
        self._results_seen = 0  # results are counted once: only those after this id are read again
        self._changes: dict[tuple[str, str], int] = {}

    def collect(self):
        yield self._runs()
        yield self._changes_applied()
        yield from self._push_queue()
        yield from self._last_success()
        yield from self._watcher()

    def _runs(self) -> CounterMetricFamily:
        family = CounterMetricFamily(
            "google_sync_runs", "Finished runs by kind (full, push, test) and outcome", labels=["kind", "outcome"]
        )
        query = (
            select(runs_table.c.trigger, runs_table.c.dry_run, runs_table.c.outcome, func.count())
            .where(runs_table.c.outcome != RunOutcome.RUNNING)
            .group_by(runs_table.c.trigger, runs_table.c.dry_run, runs_table.c.outcome)
        )
        totals: dict[tuple[str, str], int] = {}
        with self.store.engine.connect() as connection:
            for trigger, dry_run, outcome, count in connection.execute(query):
                kind = kind_of(trigger, bool(dry_run))
                totals[(kind, outcome)] = totals.get((kind, outcome), 0) + count
        for labels, count in sorted(totals.items()):
            family.add_metric(list(labels), count)
        return family

    def _changes_applied(self) -> CounterMetricFamily:
        with self._lock, self.store.engine.connect() as connection:
            upper = connection.execute(select(func.max(results_table.c.id))).scalar() or 0
            query = (
                select(results_table.c.action, results_table.c.ok, func.count())
                .where(results_table.c.id > self._results_seen, results_table.c.id <= upper)
                .group_by(results_table.c.action, results_table.c.ok)
            )
            for action, ok, count in connection.execute(query):
                key = (action, "applied" if ok else "failed")
                self._changes[key] = self._changes.get(key, 0) + count
            self._results_seen = upper
            changes = sorted(self._changes.items())
        family = CounterMetricFamily(
            "google_sync_changes",
            "Changes sent to Google by action and result (applied or failed)",
            labels=["action", "result"],
        )
        for labels, count in changes:
            family.add_metric(list(labels), count)
        return family

    def _push_queue(self):
        pushes = self.store.queued_pushes()
        yield GaugeMetricFamily("google_sync_push_queue_length", "Pushes waiting to be applied", value=len(pushes))
        oldest = min((aware(push.first_seen_at) for push in pushes), default=None)
        age = (self.clock() - oldest).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily(
            "google_sync_push_queue_oldest_age_seconds",
            "How long the oldest waiting push has waited (0: none)",
            value=age,
        )
        yield GaugeMetricFamily(
            "google_sync_held_changes",
            "Changes held for the administrator's approval by a safety limit",
            value=len(self.store.held()),
        )

    def _last_success(self):
        run = last_full_run(self.store, successful=True)
        if run is not None:
            moment: datetime = aware(run.finished_at or run.started_at)
            yield GaugeMetricFamily(
                "google_sync_last_success_timestamp_seconds",
                "When the last successful full synchronization ended (Unix time)",
                value=moment.timestamp(),
            )

    def _watcher(self):
        beat = read_heartbeat(self.store)
        yield GaugeMetricFamily(
            "google_sync_watcher_up", WATCHER_UP_HELP, value=1 if beat and beat.connected and not beat.stopped else 0
        )
        if beat is None:
            return
        yield GaugeMetricFamily(
            "google_sync_watcher_heartbeat_timestamp_seconds",
            "When the watcher last said it runs (Unix time)",
            value=beat.written.timestamp(),
        )
        if beat.lag is not None:
            yield GaugeMetricFamily(
                "google_sync_watcher_lag_seconds",
                "Seconds between the last directory change (its modifyTimestamp) and the watcher seeing it",
                value=beat.lag,
            )


class _Exposed:
    """What the endpoint shows: the API counters of this process and the store's figures.

    While the state database cannot be read, the endpoint still answers, with this process's own figures,
    ``google_sync_state_db_up 0`` and ``google_sync_watcher_up 0`` (a watcher that cannot queue the pushes it
    sees does not do its job), so alerts on either fire during a database outage."""

    def __init__(self, store_collector: StoreCollector):
        self.store_collector = store_collector
        self._down_since: float | None = None

    def collect(self):
        yield from API_REGISTRY.collect()
        try:
            figures = list(self.store_collector.collect())  # read whole first: a scrape never shows half of them
        except SQLAlchemyError as error:
            self._report_down(error)
            figures = [GaugeMetricFamily("google_sync_watcher_up", WATCHER_UP_HELP, value=0)]
        else:
            self._down_since = None
        yield GaugeMetricFamily(
            "google_sync_state_db_up",
            "1 when the state database answered this scrape",
            value=0 if self._down_since is not None else 1,
        )
        yield from figures

    def _report_down(self, error: Exception) -> None:
        if self._down_since is None:
            log.warning(
                "metrics: the state database cannot be read (%s); serving this process's figures only",
                database_problem(error),
            )
            self._down_since = time.monotonic()


def registry_for(store: Store, clock=now) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(_Exposed(StoreCollector(store, clock)))
    return registry


def split_address(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host.strip("[]"), int(port)


def serve(address: str, store: Store):
    """Serve ``/metrics`` on ``address`` (host:port) in a background thread; returns the server (``.shutdown()`` stops it)."""
    host, port = split_address(address)
    try:
        server, _thread = start_http_server(port, addr=host, registry=registry_for(store))
    except OSError as error:
        raise ConfigError(
            f"[worker] metrics_address = {address!r}: cannot listen there ({error.strerror or error}): "
            "give a free port on an address of this server"
        ) from None
    return server
