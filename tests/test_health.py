"""`google-sync health`: a Nagios-style verdict from the real state database, slapd and the emulator's token endpoint."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from sqlalchemy import update

from app_google_sync import cli
from app_google_sync.libraries.core.errors import GoogleSyncError
from app_google_sync.libraries.ops import health
from app_google_sync.libraries.ops.monitoring import read_heartbeat, write_heartbeat
from app_google_sync.libraries.runtime.live import LiveSync
from app_google_sync.libraries.settings import config
from app_google_sync.libraries.state.store import Store, now, push_queue_table
from app_google_sync.libraries.sync.engine import SyncEngine


@pytest.fixture
def synced(env):
    """A directory with one user, synchronized once; Google errors not retried."""
    env.directory.add_user("alice", "Alice", "Tester", groups=("google_apps_plugin",))
    path = env.write_config(max_retries="0")
    path.write_text(path.read_text().replace("[google]\n", "[google]\nretry_deadline = 0\n"))
    settings = config.load(str(path))
    assert SyncEngine(settings).sync().outcome == "applied"
    return settings


def beat(store, moment, connected=True, mode="syncrepl", stopped=False):
    write_heartbeat(store, moment, mode, connected, moment if connected else None, 0.4, stopped)


def verdict(settings, moment=None, checks=health.CHECKS):
    return health.evaluate(settings, Store(settings.sync.database), moment or now(), checks)


def by_name(result):
    return {finding.name: finding for finding in result.findings}


def test_all_well_is_ok_with_one_line(synced, capsys):
    beat(Store(synced.sync.database), now())
    assert cli.main(["--config", str(synced.path), "health"]) == 0
    line = capsys.readouterr().out
    assert line.startswith("GOOGLE-SYNC OK - last synchronization #1 applied") and line.count("\n") == 1
    assert "Google grants a token" in line and "the directory watcher follows the directory" in line


def test_a_failed_last_run_is_critical_and_json_lists_every_check(synced, env, capsys):
    beat(Store(synced.sync.database), now())
    env.emulator.outage = True
    with pytest.raises(GoogleSyncError):
        SyncEngine(synced).sync(trigger="scheduler")
    env.emulator.outage = False
    assert cli.main(["--config", str(synced.path), "health"]) == 2
    line = capsys.readouterr().out.strip()
    assert (
        line.startswith("GOOGLE-SYNC CRITICAL - last synchronization #2 failed: ")
        and "google-sync status --run 2" in line
    )
    assert cli.main(["--config", str(synced.path), "health", "--json"]) == 2
    data = json.loads(capsys.readouterr().out)
    assert data["status"] == "CRITICAL" and data["code"] == 2
    assert {check["check"]: check["status"] for check in data["checks"]} == {
        "last_run": "CRITICAL",
        "push_queue": "OK",
        "held": "OK",
        "watcher": "OK",
        "credentials": "OK",
    }


def test_pushes_queued_for_ten_minutes_warn_and_for_an_hour_are_critical(synced):
    store = Store(synced.sync.database)
    beat(store, now())
    store.enqueue_push("user:alice", "user", "alice", "", "watch", now())
    (push,) = store.queued_pushes()
    store.push_failed(push, "503 backendError", now())
    later = now() + dt.timedelta(minutes=11)
    beat(store, later)
    result = verdict(synced, later, checks=(health.push_queue, health.watcher))
    assert result.status == health.WARNING
    assert (
        result.line == "GOOGLE-SYNC WARNING - 1 push(es) queued, the oldest (user alice) for 11 min: 503 backendError"
    )
    much_later = now() + dt.timedelta(minutes=61)
    beat(store, much_later)
    assert verdict(synced, much_later, checks=(health.push_queue,)).status == health.CRITICAL


def test_an_old_last_success_is_critical_only_with_automatic_synchronization(synced, env):
    store = Store(synced.sync.database)
    with store.engine.begin() as connection:  # nothing queued: a clean slate for the other checks
        connection.execute(update(push_queue_table).values(first_seen_at=now()))
    moment = now() + dt.timedelta(minutes=11)
    assert health.success_age(synced, store, moment) is None  # automatic off: no interval to hold it to
    automatic = config.load(str(env.write_config(max_retries="0", automatic="yes", interval="5")))
    finding = health.success_age(automatic, store, moment)
    assert finding.status == health.CRITICAL and "more than twice the interval (5 min)" in finding.text
    assert health.success_age(automatic, store, now() + dt.timedelta(minutes=9)) is None


def test_the_watcher_not_running_stopped_or_cut_off_is_critical(synced):
    store = Store(synced.sync.database)
    checks = (health.watcher,)
    assert "has never run" in verdict(synced, checks=checks).line
    beat(store, now() - dt.timedelta(minutes=3))
    assert "has not been heard of for 3 min" in verdict(synced, checks=checks).line
    beat(store, now(), connected=False)
    assert "cannot reach ldap://" in verdict(synced, checks=checks).line
    beat(store, now(), stopped=True)
    assert verdict(synced, checks=checks).status == health.CRITICAL and "stopped" in verdict(synced, checks=checks).line
    beat(store, now(), mode="poll")
    assert verdict(synced, checks=checks).status == health.WARNING


def test_a_running_watcher_beats_and_says_stopped_when_it_stops(synced):
    live = LiveSync(str(synced.path))
    live.start()
    try:
        deadline = time.monotonic() + 10
        while not (live.watcher.connected and read_heartbeat(live.store) and read_heartbeat(live.store).connected):
            assert time.monotonic() < deadline, "no heartbeat from the watcher"
            time.sleep(0.2)
            live.heartbeat()
        assert verdict(synced, checks=(health.watcher,)).status == health.OK
    finally:
        live.stop()
    assert read_heartbeat(live.store).stopped
    assert verdict(synced, checks=(health.watcher,)).status == health.CRITICAL


def test_credentials_that_google_refuses_are_critical(synced, env):
    env.emulator.fail_tokens = True
    finding = health.credentials(synced, Store(synced.sync.database), now())
    assert finding.status == health.CRITICAL and "token" in finding.text


def test_a_broken_configuration_is_unknown(tmp_path, capsys):
    path = tmp_path / "bad.conf"
    path.write_text("[sync]\ninterval = often\n")
    assert cli.main(["--config", str(path), "health"]) == 3
    assert capsys.readouterr().out.startswith("GOOGLE-SYNC UNKNOWN - configuration error: ")


def test_one_more_check_is_one_function(synced):
    def held_changes(settings, store, moment):
        return health.Finding("held_changes", health.WARNING, "2 changes held for review")

    result = verdict(synced, checks=(health.push_queue, held_changes))
    assert result.status == health.WARNING and result.line == "GOOGLE-SYNC WARNING - 2 changes held for review"


def test_changes_held_for_approval_warn_until_released(synced, env):
    env.write_config(max_suspend="0", max_retries="0")
    settings = config.load(str(env.config_path))
    beat(Store(settings.sync.database), now())
    env.directory.remove_from_group("google_apps_plugin", "alice")
    assert SyncEngine(settings).push_user("alice").outcome == "held"
    finding = by_name(verdict(settings))["held"]
    assert (
        finding.status == health.WARNING
        and "1 change(s) held for approval, the oldest (suspend user alice@example.com)" in finding.text
    )
    assert SyncEngine(settings).sync(force=True).outcome == "applied"
    assert by_name(verdict(settings))["held"].status == health.OK
