"""Nothing a run did is ever lost: SIGKILL, a token that stops coming, an answer lost in flight.

Real slapd, the emulator over HTTP, the real client; `google-sync sync` runs as its own process where it is killed.
"""

import json
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from sqlalchemy import update
from waiting import wait_for

from app_google_sync import cli
from app_google_sync.libraries.runtime.push_queue import push_key
from app_google_sync.libraries.state.store import Store, now, runs_table
from app_google_sync.libraries.sync.engine import SyncEngine


def run_cli(env, *args) -> int:
    return cli.main(["--config", str(env.config_path), *args])


def sync_process(env) -> subprocess.Popen:
    command = [sys.executable, "-m", "app_google_sync.cli", "--config", str(env.config_path), "sync"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def store(env) -> Store:
    return Store(env.settings.sync.database)


def add_people(env, count: int, groups: int = 3) -> list[str]:
    uids = [f"user{index:03d}" for index in range(count)]
    for uid in uids:
        env.directory.add_user(uid, "Given", uid.capitalize(), password="Pass-word-1", groups=("google_apps_plugin",))
    for number in range(groups):
        env.directory.add_group(
            f"team{number}", members=tuple(uid for index, uid in enumerate(uids) if index % groups == number)
        )
    return uids


def accounts(env) -> dict[str, list[dict]]:
    by_email: dict[str, list[dict]] = {}
    for user in env.emulator.users():
        by_email.setdefault(user["primaryEmail"], []).append(user)
    return by_email


def test_sigkill_at_random_points_then_rerun_converges_exactly(env):
    """Ten runs killed at random points, each picking up what the one before left, then one to the end."""
    uids = add_people(env, 300, groups=6)
    env.write_config(batch_size="10")
    env.emulator.latency = 0.01
    rng = random.Random(8)

    def writes() -> int:
        return sum(call["method"] != "GET" for call in env.emulator.calls)

    for _ in range(10):  # each killed once Google has taken a random number of its writes
        goal = writes() + rng.randint(5, 60)
        process = sync_process(env)
        wait_for(lambda: writes() >= goal or process.poll() is not None, timeout=30)  # noqa: B023  (called within this iteration)
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert run_cli(env, "sync") == 0
    interrupted = [run for run in store(env).runs(limit=100) if run.outcome == "interrupted"]
    assert len(interrupted) >= 8  # the kills did land mid-run
    env.emulator.latency = 0
    assert run_cli(env, "test") == 0
    found = accounts(env)
    assert all(len(found[f"{uid}@example.com"]) == 1 for uid in uids)  # no duplicate
    assert len(found) == len(uids) + 1  # and nothing else but the administrator
    for number in range(6):
        expected = {f"{uid}@example.com" for index, uid in enumerate(uids) if index % 6 == number}
        assert set(env.emulator.members(f"team{number}@example.com")) == expected
    state = store(env)
    assert [run.id for run in state.runs(limit=100) if run.outcome == "running"] == []
    links = state.links().links
    assert all(link.created_by_us for link in links)  # created by our runs, killed or not
    assert all(link.password_fingerprint for link in links if link.kind == "user")
    assert state.unanswered() == []


def test_killed_right_after_the_suspension_batch_the_tool_still_knows_it_suspended(env):
    uids = add_people(env, 60, groups=2)
    assert run_cli(env, "sync") == 0
    leaving = uids[:20]
    for uid in leaving:
        env.directory.remove_from_group("google_apps_plugin", uid)
    env.write_config(max_suspend="50")
    env.emulator.delay_only_writes = True
    env.emulator.answer_delay = 30  # Google applies the batch; its answer never reaches the killed process
    process = sync_process(env)
    assert wait_for(lambda: all(env.emulator.get_user(f"{uid}@example.com")["suspended"] for uid in leaving))
    process.send_signal(signal.SIGKILL)
    process.wait()
    env.emulator.answer_delay = 0
    assert run_cli(env, "status") == 0
    runs = store(env).runs()
    assert runs[0].outcome == "interrupted" and runs[0].last_seen_at is not None
    for uid in leaving:
        env.directory.add_to_group("google_apps_plugin", uid)
    assert run_cli(env, "sync") == 0
    assert not any(env.emulator.get_user(f"{uid}@example.com")["suspended"] for uid in leaving)
    assert {f"{uid}@example.com" for uid in leaving[::2]} <= set(env.emulator.members("team0@example.com"))
    assert run_cli(env, "test") == 0


def test_a_token_endpoint_failing_mid_run_ends_it_partial_and_loses_nothing(env, capsys):
    uids = add_people(env, 60, groups=2)
    assert run_cli(env, "sync") == 0
    leaving = uids[:30]
    for uid in leaving:
        env.directory.remove_from_group("google_apps_plugin", uid)
    env.write_config(max_suspend="100", batch_size="10")
    engine = SyncEngine(env.settings)
    batches = []

    def after_each_batch(done, total):
        batches.append(done)
        if len(batches) == 1:  # the first batch is in: from now on no token is to be had
            env.emulator.fail_tokens = True
            env.emulator.expire_tokens()

    report = engine.sync(progress=after_each_batch)
    assert report.outcome == "partial" and "token" in report.message.lower()
    applied = [result.change.email for result in report.results if result.ok]
    assert len(applied) == 10
    assert all("not applied" in result.message for result in report.failures)
    linked = {link.email: link for link in engine.store.links().links}
    assert all(linked[email].suspended_by_us for email in applied)
    assert engine.store.runs()[0].outcome == "partial"
    env.emulator.fail_tokens = False
    for uid in leaving:
        env.directory.add_to_group("google_apps_plugin", uid)
    assert run_cli(env, "sync") == 0
    assert not any(env.emulator.get_user(f"{uid}@example.com")["suspended"] for uid in uids)
    assert {f"{uid}@example.com" for uid in uids[::2]} == set(env.emulator.members("team0@example.com"))


def test_an_answer_lost_after_google_applied_the_batch_is_reconciled(env):
    uids = add_people(env, 12, groups=1)
    env.emulator.delay_only_writes = True
    env.emulator.answer_delay = 30
    process = sync_process(env)
    assert wait_for(lambda: len(env.emulator.users()) == 13)
    process.send_signal(signal.SIGKILL)
    process.wait()
    env.emulator.answer_delay = 0
    env.emulator.reset_calls()
    assert run_cli(env, "sync") == 0
    writes = [
        call for call in env.emulator.calls if call["method"] in ("POST", "PATCH", "PUT") and "/users" in call["path"]
    ]
    assert writes == []  # nothing created twice, no password pushed again
    state = store(env)
    links = {link.email: link for link in state.links().links if link.kind == "user"}
    assert set(links) == {f"{uid}@example.com" for uid in uids}
    assert all(link.created_by_us and link.password_fingerprint for link in links.values())
    interrupted = state.runs()[1]
    assert interrupted.outcome == "interrupted"
    confirmed = [
        row for row in state.results(interrupted.id) if "confirmed after the run was interrupted" in row["message"]
    ]
    assert len(confirmed) == 12
    assert set(env.emulator.members("team0@example.com")) == set(links)
    assert run_cli(env, "test") == 0


def test_status_json_carries_interrupted_runs_and_the_push_queue(env, capsys):
    state = store(env)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run_id = state.start_run("cli", dry_run=False)
    with state.engine.begin() as connection:  # a run started by a process that has since died
        connection.execute(update(runs_table).where(runs_table.c.id == run_id).values(pid=dead.pid))
    state.enqueue_push(push_key("user", "alice"), "user", "alice", "", "watch", now(), password_hash="$6$secret$hash")
    capsys.readouterr()
    assert run_cli(env, "status", "--json") == 0
    output = capsys.readouterr().out
    status = json.loads(output)
    assert status["runs"][0]["outcome"] == "interrupted" and status["runs"][0]["last_seen_at"]
    assert status["push_queue"][0]["object"] == "user alice" and status["push_queue"][0]["new_password"] is True
    assert "$6$" not in output


def test_a_request_arriving_during_a_push_runs_again_and_keeps_a_newer_password(tmp_path):
    state = Store(f"sqlite:///{tmp_path / 'state.db'}")
    key = push_key("user", "alice")
    state.enqueue_push(key, "user", "alice", "", "console", now(), password_hash="$6$first$hash")
    running = state.claim_push("me", timedelta(minutes=1))
    state.enqueue_push(key, "user", "alice", "", "console", now(), password_hash="$6$second$hash")
    state.push_done(running)
    [waiting] = state.queued_pushes()
    assert waiting.password_hash == "$6$second$hash"
    again = state.claim_push("me", timedelta(minutes=1))
    state.enqueue_push(key, "user", "alice", "", "watch", now())  # an edit without a new password
    state.push_done(again)
    [waiting] = state.queued_pushes()
    assert waiting.password_hash == ""  # the second password went with that push: not pushed twice
    state.push_done(state.claim_push("me", timedelta(minutes=1)))
    assert state.queued_pushes() == []


# -- the push queue under outages (google-sync watch) -----------------------------------------------


@pytest.fixture
def live(env):
    from app_google_sync.libraries.runtime import push_queue
    from app_google_sync.libraries.runtime.live import LiveSync

    env.write_config(push_delay="0.2")
    env.directory.add_user("hank", "Hank", "Tester", groups=("google_apps_plugin",))
    assert run_cli(env, "sync") == 0
    original = push_queue.RETRY_BASE
    push_queue.RETRY_BASE = 0.5  # the first retries come quickly; production waits 5 s, doubling up to push_retry_max
    live = LiveSync(str(env.config_path))
    live.start()
    time.sleep(1.0)  # the watcher's first refresh
    yield live
    live.stop()
    push_queue.RETRY_BASE = original


def given_name(env, uid="hank") -> str:
    return env.emulator.get_user(f"{uid}@example.com")["name"]["givenName"]


def test_a_change_made_while_google_is_down_arrives_after_it_recovers(env, live):
    env.emulator.outage = True
    env.directory.modify_user("hank", givenName="Henry")
    assert wait_for(
        lambda: (
            any(push.last_error for push in store(env).queued_pushes()) or env.emulator.stats()["rejected_outage"] > 2
        )
    )
    env.emulator.outage = False
    assert wait_for(lambda: given_name(env) == "Henry", timeout=60)
    assert wait_for(lambda: store(env).queued_pushes() == [])


def test_a_change_whose_push_finds_slapd_down_arrives_when_it_is_back(env, live):
    env.directory.modify_user("hank", givenName="Henry")
    env.directory.stop_server()  # before the push reads the entry (push_delay)
    try:
        assert wait_for(lambda: any(push.attempts for push in store(env).queued_pushes()), timeout=20)
    finally:
        env.directory.restart_server()
    assert wait_for(lambda: given_name(env) == "Henry", timeout=60)
    assert wait_for(lambda: store(env).queued_pushes() == [])


def test_a_push_waits_behind_a_long_run_then_arrives(env, live):
    engine = SyncEngine(env.settings)
    with engine.lock():
        env.directory.modify_user("hank", givenName="Henry")
        assert wait_for(
            lambda: any(
                "waiting for a running synchronization" in push.last_error for push in store(env).queued_pushes()
            )
        )
        assert given_name(env) == "Hank"
        [push] = store(env).queued_pushes()
        assert push.attempts == 0  # waiting is not failing
    assert wait_for(lambda: given_name(env) == "Henry", timeout=30)
