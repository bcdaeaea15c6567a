"""A request recorded while the same object's push runs always runs again after it, whatever the interleaving.

The push queue's steps (a request joining the row, a claim, a push's completion or failure) are database
statements run by different threads or processes. These tests stop one step after each of its statements and
run another step right there (in another thread, on another connection: it either goes through at once or
waits for the first one's transaction), then check that the queue still holds what must run again. On SQLite
and on a real PostgreSQL (READ COMMITTED), as the worker and the console use them.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import event

from app_google_sync.libraries.runtime.push_queue import push_key
from app_google_sync.libraries.state import store as store_module
from app_google_sync.libraries.state.store import Store, now

KEY = push_key("user", "alice")
LEASE = timedelta(minutes=5)


@pytest.fixture(params=["sqlite", "postgresql", "portable"])
def database_url(request, tmp_path, monkeypatch):
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_url")
    if request.param == "portable":  # a database without an upsert: insert, then update
        monkeypatch.setattr(store_module, "UPSERTS", {})
    return f"sqlite:///{tmp_path / 'state.db'}"


class Interleaving:
    """Runs ``competitor`` on another thread right after the ``at``-th push-queue statement of ``step``."""

    def __init__(self, store: Store, at: int, competitor):
        self.store, self.at, self.competitor = store, at, competitor
        self.count, self.thread, self.errors = 0, None, []
        self.owner = None

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        if threading.get_ident() != self.owner or "push_queue" not in statement or self.thread is not None:
            return
        self.count += 1
        if self.count == self.at:
            self.thread = threading.Thread(target=self._compete)
            self.thread.start()
            self.thread.join(0.3)  # done at once, or waiting for this step's transaction (it ends after)

    def _compete(self):
        try:
            self.competitor()
        except Exception as error:  # noqa: BLE001  (reported by run())
            self.errors.append(error)

    def run(self, step) -> bool:
        """Run ``step``; whether the competitor ran inside it (False: ``step`` has fewer statements)."""
        self.owner = threading.get_ident()
        event.listen(self.store.engine, "after_cursor_execute", self._after)
        try:
            step()
        finally:
            event.remove(self.store.engine, "after_cursor_execute", self._after)
        if self.thread is None:
            return False
        self.thread.join(30)
        assert not self.thread.is_alive() and not self.errors, self.errors
        return True


def request(store: Store, password_hash: str = "") -> None:
    store.enqueue_push(KEY, "user", "alice", "", "watch", now(), password_hash)


def every_statement(store: Store, step, competitor, check) -> int:
    """Interleave ``competitor`` after each statement of ``step`` in turn (a fresh queue each time); returns how many."""
    at = 1
    while True:
        with store.engine.begin() as connection:
            connection.exec_driver_sql("DELETE FROM push_queue")
        running = prepare(store)
        if not Interleaving(store, at, lambda running=running: competitor(running)).run(
            lambda running=running: step(running)
        ):
            return at - 1
        check(running)
        at += 1


def prepare(store: Store):
    """A first request for alice, claimed: her push is running."""
    request(store)
    running = store.claim_push("worker", LEASE)
    assert running is not None and running.version == 0
    return running


def still_queued_for_another_push(store: Store) -> None:
    [row] = store.queued_pushes()  # the same row moved on, or a new one if the push's removal came first
    assert store.claim_push("worker", LEASE) is not None, (
        "the row is left claimed: it would wait for the lease to lapse"
    )


@pytest.fixture
def store(database_url):
    state = Store(database_url)
    yield state
    state.close()


def test_a_request_landing_inside_a_push_completion_runs_again(store):
    """The issue's window: the push ends (push_done) while the watcher records the next edit (enqueue_push).
    Before, enqueue read the row, push_done deleted it, and enqueue's UPDATE then touched nothing."""
    steps = every_statement(
        store,
        step=lambda running: request(store),
        competitor=lambda running: store.push_done(running),
        check=lambda running: still_queued_for_another_push(store),
    )
    assert steps >= 1
    steps = every_statement(
        store,
        step=lambda running: store.push_done(running),
        competitor=lambda running: request(store),
        check=lambda running: still_queued_for_another_push(store),
    )
    assert steps >= 1


def test_a_request_landing_inside_a_push_failure_goes_soon_not_at_the_retry(store):
    retry_at = now() + timedelta(hours=1)

    def check(running):
        [row] = store.queued_pushes()
        assert row.due_at.replace(tzinfo=None) < retry_at.replace(tzinfo=None)
        assert store.claim_push("worker", LEASE) is not None

    assert (
        every_statement(
            store,
            step=lambda running: request(store),
            competitor=lambda running: store.push_failed(running, "503", retry_at),
            check=check,
        )
        >= 1
    )
    assert (
        every_statement(
            store,
            step=lambda running: store.push_failed(running, "503", retry_at),
            competitor=lambda running: request(store),
            check=check,
        )
        >= 1
    )


def test_a_request_landing_inside_a_claim_is_either_seen_by_that_push_or_kept_for_the_next(store):
    """A claim that raced a request: the push it returns saw that request (its version), or the row outlives it."""
    claimed = {}

    def step(_running):
        with store.engine.begin() as connection:  # alice's first push is over; a second request waits
            connection.exec_driver_sql("DELETE FROM push_queue")
        request(store)
        claimed["push"] = store.claim_push("worker-2", LEASE)

    def check(_running):
        push = claimed["push"]
        if push is None:  # the request moved the version under the claim: the claim let go, the row waits
            [row] = store.queued_pushes()
            assert row.version == 1 and store.claim_push("worker-3", LEASE) is not None
            return
        latest = max(row.version for row in store.queued_pushes())
        store.push_done(push)
        remaining = store.queued_pushes()
        assert remaining == [] if push.version == latest else len(remaining) == 1

    assert every_statement(store, step=step, competitor=lambda running: request(store), check=check) >= 1


def test_a_password_arriving_inside_a_completion_is_kept_and_pushed_next(store):
    """The console's save followed at once by a password change: the new hash must outlive the push that ran."""

    def check(running):
        [row] = store.queued_pushes()
        assert row.password_hash == "$6$new$hash"

    every_statement(
        store,
        step=lambda running: store.push_done(running),
        competitor=lambda running: request(store, "$6$new$hash"),
        check=check,
    )
    every_statement(
        store,
        step=lambda running: request(store, "$6$new$hash"),
        competitor=lambda running: store.push_done(running),
        check=check,
    )


def test_a_lapsed_claim_taken_over_leaves_the_row_to_its_new_holder(store):
    """A push slower than its lease: another queue took the row over. The first one's completion must neither
    remove the row (the second push may not have run yet) nor release the second one's claim."""
    request(store)
    first = store.claim_push("slow", timedelta(seconds=-1))  # a lease that has already lapsed
    second = store.claim_push("other", LEASE)
    assert second is not None and second.version == first.version
    store.push_done(first)
    [row] = store.queued_pushes()
    assert store.claim_push("third", LEASE) is None  # still the other's
    store.push_done(second)
    assert store.queued_pushes() == []


def test_concurrent_first_requests_make_one_row_and_lose_none(store):
    """Two processes asking for the same object at the same moment (the console's hook and the watcher): before,
    both read 'no row', the second INSERT failed, and the console's request (with its password) was lost."""
    barrier = threading.Barrier(8)
    errors = []

    def ask(index):
        barrier.wait()
        try:
            request(store, f"$6$p{index}$hash" if index == 7 else "")
        except Exception as error:  # noqa: BLE001
            errors.append(error)

    threads = [threading.Thread(target=ask, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    [row] = store.queued_pushes()
    assert row.version == 7 and row.password_hash == "$6$p7$hash"
