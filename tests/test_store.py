"""The state store behaves the same on SQLite and on a real PostgreSQL server: every test here runs on both."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import inspect

from app_google_sync.libraries.core.model import Link
from app_google_sync.libraries.runtime import scheduler
from app_google_sync.libraries.settings import config_file
from app_google_sync.libraries.settings.config import SyncSettings
from app_google_sync.libraries.state import migrate
from app_google_sync.libraries.state.store import Store, now


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'state.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(database_url):
    store = Store(database_url)
    yield store
    store.close()


def link(uuid: str, google_id: str, email: str, kind: str = "user", **extra) -> Link:
    return Link(kind=kind, uuid=uuid, google_id=google_id, email=email, **extra)


def test_a_new_database_is_created_at_the_newest_schema(store):
    assert migrate.current(store.engine) == migrate.head()
    assert {"links", "runs", "results", "values", "journal", "push_queue"} <= set(
        inspect(store.engine).get_table_names()
    )


def test_links_are_replaced_by_entry_and_by_google_object(store):
    store.save_links(
        [
            link("u1", "g1", "ann@example.com", created_by_us=True, password_fingerprint="f1"),
            link("u2", "g2", "bob@example.com"),
        ]
    )
    store.save_links([link("u3", "g2", "bob@example.com")])  # bob's account now belongs to another entry
    store.save_links([link("u1", "g1", "ann.new@example.com", created_by_us=True, suspended_by_us=True)])
    found = {item.uuid: item for item in store.links().links}
    assert set(found) == {"u1", "u3"}
    assert found["u1"].email == "ann.new@example.com" and found["u1"].suspended_by_us and found["u1"].created_by_us
    store.delete_link(found["u3"])
    assert [item.uuid for item in store.links().links] == ["u1"]


def test_a_run_records_its_results_links_and_counts(store):
    run_id = store.start_run("cli", dry_run=False)
    intents = store.journal_sent(
        run_id,
        [
            {
                "action": "create_user",
                "object": "ann@example.com",
                "proof": {"read": "user", "key": "ann@example.com", "expect": {}},
                "link": link("u1", "", "ann@example.com"),
            }
        ],
    )
    assert [intent.object for intent in store.unanswered()] == ["ann@example.com"]
    assert store.unanswered()[0].link.uuid == "u1"
    store.record_batch(
        run_id,
        [{"action": "create_user", "object": "ann@example.com", "ok": True, "message": "", "extra": "é"}],
        [link("u1", "g1", "ann@example.com")],
        intents,
    )
    store.finish_run(run_id, "applied", "abc123", {"ok": 1, "failed": 0})
    (run,) = store.runs()
    assert (run.id, run.outcome, run.plan_checksum, run.counts, run.dry_run) == (
        run_id,
        "applied",
        "abc123",
        {"ok": 1, "failed": 0},
        False,
    )
    assert run.duration is not None and run.duration >= 0
    (result,) = store.results(run_id)
    assert result["ok"] is True and result["data"]["extra"] == "é"
    assert store.unanswered() == [] and store.links().links[0].google_id == "g1"
    assert store.run(run_id + 1) is None


def test_a_run_left_running_by_a_dead_process_is_marked_interrupted(store):
    dead = store.start_run("scheduler", dry_run=False)
    with store.engine.begin() as connection:  # as if another process of this host had started it and died
        from app_google_sync.libraries.state.store import runs_table

        connection.execute(runs_table.update().where(runs_table.c.id == dead).values(pid=2**22 + 1))
    mine = store.start_run("cli", dry_run=False)
    assert store.mark_interrupted(lock_held=True) == [dead]
    assert store.run(dead).outcome == "interrupted" and store.run(mine).outcome == "running"


def test_the_push_queue_coalesces_claims_and_retries(store):
    due = now() - timedelta(seconds=1)
    store.enqueue_push("user:ann", "user", "ann", "u1", "watch", due)
    store.enqueue_push("user:ann", "user", "ann", "", "password", due, password_hash="$6$hash")
    (queued,) = store.queued_pushes()
    assert queued.version == 1 and queued.uuid == "u1" and queued.password_hash == "$6$hash"
    claimed = store.claim_push("host:1", timedelta(minutes=5))
    assert claimed.key == "user:ann"
    assert store.claim_push("host:2", timedelta(minutes=5)) is None  # leased to the first
    store.push_failed(claimed, "Google said no", now() - timedelta(seconds=1))
    again = store.claim_push("host:2", timedelta(minutes=5))
    assert (again.attempts, again.last_error) == (1, "Google said no")
    store.push_done(again)
    assert store.queued_pushes() == [] and store.next_push_due() is None


def test_values_are_kept(store, database_url):
    store.set_value("watch_cookie", "rid=001,csn=1")
    store.set_value("watch_cookie", "rid=001,csn=2")
    reopened = Store(database_url)
    try:
        assert reopened.get_value("watch_cookie") == "rid=001,csn=2"
    finally:
        reopened.close()


def test_the_suspension_budget_and_held_changes_are_shared(store, database_url):
    results = [{"action": "suspend user", "object": f"u{index}@example.com", "ok": index != 2} for index in range(3)]
    run = store.start_run("watch", dry_run=False)
    store.record_batch(run, results, [], [])
    hour_ago = now() - timedelta(hours=1)
    held = [
        {"scope": "uuid-a", "action": "suspend user", "object": "a@example.com", "reason": "budget spent"},
        {"scope": "uuid-b", "action": "suspend user", "object": "b@example.com", "reason": "budget spent"},
    ]
    store.hold(run, held, {"uuid-a", "uuid-b"})
    reopened = Store(database_url)  # another process
    try:
        assert reopened.count_applied("suspend user", hour_ago) == 2
        assert reopened.count_applied("suspend user", now() + timedelta(seconds=5)) == 0
        assert [change.object for change in reopened.held()] == ["a@example.com", "b@example.com"]
        reopened.hold(run, [], {"uuid-a"})  # a push of a: what it held before is replaced by nothing
        assert [change.object for change in reopened.held()] == ["b@example.com"]
        reopened.hold(run, [], None)  # a full run speaks for every entry
        assert reopened.held() == []
    finally:
        reopened.close()


def test_the_scheduler_job_is_stored_in_the_same_database(database_url, tmp_path):
    sync = SyncSettings(state_dir=str(tmp_path / "state"), database_url=database_url)
    jobs = scheduler.build_scheduler(sync, str(tmp_path / "google_sync.conf"))
    jobs.start(paused=True)
    try:
        scheduler.reconcile(jobs, config_file.Schedule(True, 30))
    finally:
        jobs.shutdown(wait=False)
    stored = scheduler.scheduled_run(database_url)
    assert stored.interval == timedelta(minutes=30) and stored.next_run_time is not None


def test_servers_starting_together_on_an_empty_postgresql_database_upgrade_it_once(postgres_url):
    """Each opens the store (which upgrades the schema) at the same moment: one creates it, the others wait and find it done."""
    import threading

    errors, barrier = [], threading.Barrier(4)

    def start() -> None:
        barrier.wait()
        try:
            Store(postgres_url).close()
        except Exception as error:  # noqa: BLE001  (collected, asserted below)
            errors.append(error)

    threads = [threading.Thread(target=start, daemon=True) for _ in range(4)]  # a hung one must not hang the suite
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == [] and not any(thread.is_alive() for thread in threads)
    store = Store(postgres_url)
    assert migrate.current(store.engine) == migrate.head()
    store.close()
