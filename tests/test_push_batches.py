"""Pushes drain in batches, each with its own outcome; while Google does not answer the queue backs off as a whole.

Real slapd, the emulator over HTTP, the real job functions and the live synchronization.
"""

from __future__ import annotations

import time

from waiting import wait_for

from app_google_sync import cli
from app_google_sync.libraries.runtime import jobs
from app_google_sync.libraries.runtime.live import LiveSync
from app_google_sync.libraries.runtime.push_queue import GoogleUnavailable, push_key
from app_google_sync.libraries.state.store import QueuedPush, Store, now


def sync(env):
    assert cli.main(["--config", str(env.config_path), "sync"]) == 0


def queued(uid: str, attempts: int = 0) -> QueuedPush:
    return QueuedPush(push_key("user", uid), "user", uid, "", "", "watch", now(), now(), attempts, "", 0)


def given_name(env, uid):
    return env.emulator.get_user(f"{uid}@example.com")["name"]["givenName"]


def test_one_users_failure_fails_nobody_else_in_the_batch(env):
    for uid in ("ann", "bob", "cyd"):
        env.directory.add_user(uid, uid.capitalize(), "Tester", groups=("google_apps_plugin",))
    sync(env)
    for uid in ("ann", "bob", "cyd"):
        env.directory.modify_user(uid, givenName=f"New{uid}")
    bob_id = env.emulator.get_user("bob@example.com")["id"]
    env.emulator.fail_calls_about("bob@example.com", bob_id)  # Google's trouble with bob's account only
    env.emulator.reset_calls()

    run = jobs.run_pushes(str(env.config_path), [queued("ann"), queued("bob"), queued("cyd")])

    assert run.outcomes[push_key("user", "ann")] is None and run.outcomes[push_key("user", "cyd")] is None
    assert isinstance(run.outcomes[push_key("user", "bob")], GoogleUnavailable)
    assert (given_name(env, "ann"), given_name(env, "cyd")) == ("Newann", "Newcyd")
    assert given_name(env, "bob") == "Bob"
    writes = env.emulator.write_calls()
    assert len(writes) == 2 and all(write["batch"] for write in writes)  # the others' changes, in one batch request
    assert env.emulator.batches[-1]["parts"] == 2


def test_a_backlog_queued_during_an_outage_drains_at_once_when_google_answers_again(env):
    """During the outage the queue probes with one push every few seconds instead of retrying every push in turn;
    the first answer sends everything waiting, in batches."""
    uids = [f"u{number:02}" for number in range(40)]
    for uid in uids:
        env.directory.add_user(uid, "User", uid, groups=("google_apps_plugin",))
    env.write_config(push_delay="0.3")
    sync(env)
    live = LiveSync(str(env.config_path))
    live.start()
    try:
        assert wait_for(lambda: live.store.get_value("watcher_cookie") is not None, timeout=20)
        env.emulator.outage = True
        for uid in uids:
            env.directory.modify_user(uid, givenName="Edited")
        store = Store(env.settings.sync.database)
        assert wait_for(lambda: len(store.queued_pushes()) == len(uids) and live.queue.google.active, timeout=30)
        before = env.emulator.stats()["calls"]
        time.sleep(4.0)
        probes = env.emulator.stats()["calls"] - before
        # One push at a time as a probe, at least a second apart (a new edit's push may make up to three calls)
        assert probes <= 12, f"{probes} calls in 4 s of outage: the queue should only probe"
        assert sum(push.attempts == 0 for push in store.queued_pushes()) >= len(uids) - 8  # the rest waits untried
        env.emulator.outage = False
        recovered = time.monotonic()
        assert wait_for(lambda: all(given_name(env, uid) == "Edited" for uid in uids), timeout=20)
        took = time.monotonic() - recovered
        assert wait_for(lambda: store.queued_pushes() == [], timeout=10)
        assert took < 12, f"the backlog took {took:.1f}s to drain after the recovery"
    finally:
        live.stop()


def test_a_batch_whose_outcome_could_not_be_recorded_runs_again_soon_not_after_the_lease(tmp_path):
    """The database refused the completion (locked for a moment): the claim is let go, so the push runs again
    within seconds instead of waiting out its 15-minute lease."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from app_google_sync.libraries.runtime.push_queue import PushQueue

    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    record, refusals = store.push_done, [1]

    def push_done(push):
        if refusals:
            refusals.pop()
            raise OperationalError("DELETE FROM push_queue", {}, sqlite3.OperationalError("database is locked"))
        return record(push)

    store.push_done = push_done
    handled = []
    queue = PushQueue(store, lambda push: handled.append(push.name), delay=0.2)
    try:
        queue.put("user", "alice")
        assert wait_for(lambda: store.queued_pushes() == [], timeout=10)
    finally:
        queue.stop()
    assert handled == ["alice", "alice"]
