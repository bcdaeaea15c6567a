"""Prometheus metrics, scraped over HTTP from the real endpoint (in process, and from a `google-sync worker`)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families
from waiting import wait_for

from app_google_sync.libraries.core.errors import ConfigError, GoogleSyncError
from app_google_sync.libraries.google import calls
from app_google_sync.libraries.ops import metrics
from app_google_sync.libraries.ops.monitoring import write_heartbeat
from app_google_sync.libraries.settings import config
from app_google_sync.libraries.state.store import Store, now
from app_google_sync.libraries.sync.engine import SyncEngine


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def scrape(address: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} from http://address/metrics."""
    text = urllib.request.urlopen(f"http://{address}/metrics", timeout=10).read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def settings_for(env, **sync):
    path = env.write_config(max_retries="0", **sync)
    path.write_text(path.read_text().replace("[google]\n", "[google]\nretry_deadline = 0\n"))
    return config.load(str(path))


def test_the_endpoint_counts_runs_changes_calls_the_queue_and_the_watcher(env):
    env.directory.add_user("alice", "Alice", "Tester", groups=("google_apps_plugin",))
    env.directory.add_user("bob", "Bob", "Tester", groups=("google_apps_plugin",))
    settings = settings_for(env)
    store = Store(settings.sync.database)
    calls_before = calls.API_CALLS._value.get()
    assert SyncEngine(settings).sync(trigger="scheduler").outcome == "applied"
    env.emulator.outage = True
    with pytest.raises(GoogleSyncError):
        SyncEngine(settings).sync(trigger="scheduler")
    env.emulator.outage = False
    store.enqueue_push("user:alice", "user", "alice", "", "watch", now())
    write_heartbeat(store, now(), "syncrepl", True, now(), 0.8)
    address = f"127.0.0.1:{free_port()}"
    server = metrics.serve(address, store)
    try:
        figures = scrape(address)
        assert figures[("google_sync_runs_total", (("kind", "full"), ("outcome", "applied")))] == 1
        assert figures[("google_sync_runs_total", (("kind", "full"), ("outcome", "failed")))] == 1
        assert figures[("google_sync_changes_total", (("action", "create user"), ("result", "applied")))] == 2
        assert figures[("google_sync_api_calls_total", ())] > calls_before
        assert figures[("google_sync_api_rejected_calls_total", (("reason", "backendError"),))] >= 1
        assert figures[("google_sync_push_queue_length", ())] == 1
        assert 0 <= figures[("google_sync_push_queue_oldest_age_seconds", ())] < 60
        assert abs(figures[("google_sync_last_success_timestamp_seconds", ())] - time.time()) < 60
        assert figures[("google_sync_watcher_up", ())] == 1 and figures[("google_sync_watcher_lag_seconds", ())] == 0.8
        # Changes are added up as results arrive, never counted twice.
        env.directory.add_user("cy", "Cy", "Tester", groups=("google_apps_plugin",))
        SyncEngine(settings).sync(trigger="scheduler")
        again = scrape(address)
        assert again[("google_sync_changes_total", (("action", "create user"), ("result", "applied")))] == 3
        assert again[("google_sync_runs_total", (("kind", "full"), ("outcome", "applied")))] == 2
    finally:
        server.shutdown()


def test_a_taken_port_is_one_line_naming_the_key(env):
    store = Store(settings_for(env).sync.database)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(ConfigError, match=r"^\[worker\] metrics_address = '127\.0\.0\.1:\d+': cannot listen there"):
            metrics.serve(address, store)


def test_the_worker_serves_metrics_and_the_watcher_lag(env):
    env.directory.add_user("nora", "Nora", "Tester", groups=("google_apps_plugin",))
    address = f"127.0.0.1:{free_port()}"
    settings = settings_for(env, push_delay="0.2")
    SyncEngine(settings).sync()
    env.config_path.write_text(env.config_path.read_text() + f"\n[worker]\nmetrics_address = {address}\n")
    worker = subprocess.Popen(
        [sys.executable, "-m", "app_google_sync.cli", "--config", str(env.config_path), "worker"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        figures = {}
        while figures.get(("google_sync_watcher_up", ())) != 1:
            assert time.monotonic() < deadline, "the worker's endpoint never showed a running watcher"
            time.sleep(0.3)
            try:
                figures = scrape(address)
            except OSError:
                continue
        env.directory.modify_user("nora", givenName="Eleanor")
        pushed = ("google_sync_runs_total", (("kind", "push"), ("outcome", "applied")))
        while (
            "google_sync_watcher_lag_seconds",
            (),
        ) not in figures or pushed not in figures:  # the push follows the lag
            assert time.monotonic() < deadline + 20, "no watcher lag or push after a change"
            time.sleep(0.5)
            figures = scrape(address)
        assert 0 <= figures[("google_sync_watcher_lag_seconds", ())] < 20
        # The lag is written as soon as the change is seen; its push ends a moment later (push_delay, then the run).
        pushed = ("google_sync_runs_total", (("kind", "push"), ("outcome", "applied")))
        assert wait_for(lambda: scrape(address).get(pushed, 0) >= 1, timeout=30, step=0.3)
    finally:
        worker.send_signal(signal.SIGTERM)
        output = worker.communicate(timeout=30)[0].decode()
    assert worker.returncode == 0, output
    assert f"Metrics on http://{address}/metrics" in output


def test_while_postgresql_is_down_the_endpoint_still_answers_with_state_db_up_0(env, postgres_server, postgres_url):
    env.directory.add_user("alice", "Alice", "Tester", groups=("google_apps_plugin",))
    settings = settings_for(env, database_url=postgres_url)
    store = Store(settings.sync.database)
    assert SyncEngine(settings, store=store).sync(trigger="scheduler").outcome == "applied"
    write_heartbeat(store, now(), "syncrepl", True, now(), 0.5)
    address = f"127.0.0.1:{free_port()}"
    server = metrics.serve(address, store)
    try:
        before = scrape(address)
        assert before[("google_sync_state_db_up", ())] == 1 and before[("google_sync_watcher_up", ())] == 1
        postgres_server.pause()
        try:
            down = scrape(address)  # was a 500: an alert on watcher_up == 0 never fired
        finally:
            postgres_server.resume()
        assert down[("google_sync_state_db_up", ())] == 0 and down[("google_sync_watcher_up", ())] == 0
        assert (
            down[("google_sync_api_calls_total", ())] >= before[("google_sync_api_calls_total", ())]
        )  # in-process figures
        assert not any(
            name == "google_sync_runs_total" for name, _ in down
        )  # no figure read from a database that is down
        again = scrape(address)
        assert again[("google_sync_state_db_up", ())] == 1
        assert again[("google_sync_runs_total", (("kind", "full"), ("outcome", "applied")))] == 1
    finally:
        server.shutdown()
        store.close()
