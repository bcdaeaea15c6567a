"""The user-manager extension: handlers queue debounced pushes in the background and never fail the host."""

import logging
import threading
import time

import pytest

from app_google_sync.libraries.core import passwords
from app_google_sync.libraries.settings import config_file
from app_google_sync.user_extension import ConsolePushes, GoogleAppsExtension

CLEARTEXT = "Very-Secret-Cleartext-42"


class Recorder:
    def __init__(self, delay=0.0, fail=False):
        self.calls = []
        self.delay = delay
        self.fail = fail
        self.lock = threading.Lock()

    def push_user(self, config_path, uid, uuid=""):
        self._record(("user", uid, uuid) if uuid else ("user", uid))

    def push_password(self, config_path, uid, hash_value, hash_function):
        self._record(("password", uid, hash_value, hash_function))

    def _record(self, call):
        time.sleep(self.delay)
        with self.lock:
            self.calls.append(call)
        if self.fail:
            raise RuntimeError("Google is down")


@pytest.fixture
def recorder():
    return Recorder()


def config(tmp_path):
    """A configuration naming only the state directory: enough for the queue (Google needs no more to queue)."""
    path = tmp_path / "c.conf"
    path.write_text(
        f"[google]\ndomain = example.com\ncredentials_file = /etc/key.json\n\n[sync]\nstate_dir = {tmp_path / 'state'}\n"
    )
    return str(path)


@pytest.fixture
def extension(recorder, tmp_path):
    queue = ConsolePushes(
        config(tmp_path),
        delay=0.2,
        push_user=recorder.push_user,
        push_password=recorder.push_password,
        connected=lambda path: True,
    )
    yield GoogleAppsExtension(queue)
    queue.stop()


def test_a_burst_for_one_user_costs_at_most_two_pushes(extension, recorder):
    """A quiet user is pushed at once; the rest of a burst (arriving while that push waits or runs, or just after
    it) goes together in one more push."""
    for _ in range(5):
        extension.user_updated("alice")
    extension.switch_toggled("alice", True)
    extension.user_added("bob")
    assert extension.queue.wait_idle(5)
    assert 1 <= recorder.calls.count(("user", "alice")) <= 2 and recorder.calls.count(("user", "bob")) == 1
    assert len(recorder.calls) <= 3


def test_a_deleted_user_is_pushed_with_its_entry_uuid(extension, recorder):
    extension.user_deleted("carol", "0f1e2d3c-uuid")
    assert extension.queue.wait_idle(5)
    assert recorder.calls == [("user", "carol", "0f1e2d3c-uuid")]


def test_handlers_return_at_once_while_a_push_is_slow(tmp_path):
    slow = Recorder(delay=1.0)
    queue = ConsolePushes(
        config(tmp_path),
        delay=0,
        push_user=slow.push_user,
        push_password=slow.push_password,
        connected=lambda path: True,
    )
    extension = GoogleAppsExtension(queue)
    started = time.monotonic()
    extension.user_added("alice")
    time.sleep(0.1)
    extension.user_updated("bob")
    extension.user_deleted("carol", "uuid-of-carol")
    assert time.monotonic() - started < 0.5
    assert queue.wait_idle(10)
    assert [call[1] for call in slow.calls] == ["alice", "bob", "carol"]
    queue.stop()


def test_a_password_is_hashed_at_once_and_only_the_hash_is_queued(extension, recorder, caplog):
    caplog.set_level(logging.DEBUG)
    extension.user_updated("alice")
    extension.password_changed("alice", CLEARTEXT)
    assert extension.queue.waiting_passwords() == {"alice"}
    assert CLEARTEXT not in repr(vars(extension.queue))
    assert extension.queue.wait_idle(5)
    [(kind, uid, hash_value, function)] = recorder.calls
    assert (kind, uid, function) == ("password", "alice", "crypt")
    assert (
        hash_value.startswith("$6$") and "rounds=" not in hash_value
    )  # the default 5000 rounds, within Google's 10000
    assert passwords.verify_crypt(CLEARTEXT, hash_value)
    assert CLEARTEXT not in caplog.text


@pytest.mark.parametrize("cleartext", ["Short-1", "x" * 101], ids=["7 characters", "101 characters"])
def test_a_password_google_would_refuse_is_not_pushed_and_the_log_says_why(extension, recorder, caplog, cleartext):
    extension.password_changed("alice", cleartext)
    assert extension.queue.waiting_passwords() == set()
    assert extension.queue.wait_idle(5)
    assert recorder.calls == [("user", "alice")]  # the rest of the user is still pushed
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert record.getMessage().startswith("new password of alice not pushed to Google: it is ")
    assert "8 to 100 characters" in record.getMessage() and cleartext not in caplog.text


def test_a_later_user_event_keeps_the_queued_password(extension, recorder):
    extension.password_changed("alice", CLEARTEXT)
    extension.user_updated("alice")
    assert extension.queue.wait_idle(5)
    assert recorder.calls[0][0] == "password"


def test_a_failing_push_never_reaches_the_host_and_stays_queued(tmp_path, caplog):
    failing = Recorder(fail=True)
    queue = ConsolePushes(
        config(tmp_path),
        delay=0,
        push_user=failing.push_user,
        push_password=failing.push_password,
        connected=lambda path: True,
    )
    extension = GoogleAppsExtension(queue)
    extension.user_added("alice")
    assert queue.wait_idle(5)
    extension.user_added("bob")  # the worker thread survived
    assert queue.wait_idle(5)
    assert [call[1] for call in failing.calls] == ["alice", "bob"]
    assert "push of user alice failed (attempt 1)" in caplog.text
    waiting = {push.name: push for push in queue.queued()}
    assert set(waiting) == {"alice", "bob"}  # kept, to be tried again
    assert waiting["alice"].attempts == 1 and waiting["alice"].last_error == "Google is down"
    queue.stop()


def test_a_failed_push_is_retried_until_it_is_applied(tmp_path):
    flaky = Recorder(fail=True)
    queue = ConsolePushes(
        config(tmp_path),
        delay=0,
        push_user=flaky.push_user,
        push_password=flaky.push_password,
        connected=lambda path: True,
        retry_base=0.2,
    )
    GoogleAppsExtension(queue).user_added("alice")
    deadline = time.monotonic() + 10
    while len(flaky.calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    flaky.fail = False  # Google is back
    while queue.queued() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(flaky.calls) >= 3 and queue.queued() == []
    queue.stop()


def test_a_queued_password_survives_a_restart_of_the_console(tmp_path):
    down = Recorder(fail=True)
    path = config(tmp_path)
    first = ConsolePushes(
        path, delay=0, push_user=down.push_user, push_password=down.push_password, connected=lambda p: True
    )
    GoogleAppsExtension(first).password_changed("alice", CLEARTEXT)
    assert first.wait_idle(5)
    first.stop()
    up = Recorder()
    second = ConsolePushes(
        path, delay=0, push_user=up.push_user, push_password=up.push_password, connected=lambda p: True, retry_base=0.1
    )
    assert second.waiting_passwords() == {"alice"}
    deadline = time.monotonic() + 10
    while second.queued() and time.monotonic() < deadline:
        time.sleep(0.05)
    [(kind, uid, hash_value, function)] = up.calls
    assert (kind, uid, function) == ("password", "alice", "crypt") and passwords.verify_crypt(CLEARTEXT, hash_value)
    second.stop()


def test_a_broken_queue_never_reaches_the_host(caplog):
    class Broken:
        def submit(self, uid, password_hash=""):
            raise RuntimeError("queue broken")

    extension = GoogleAppsExtension(Broken())
    extension.user_added("alice")
    extension.password_changed("alice", CLEARTEXT)
    assert "cannot queue a push for alice" in caplog.text
    assert CLEARTEXT not in caplog.text


def test_nothing_is_pushed_while_disconnected(tmp_path, recorder):
    path = tmp_path / "c.conf"
    path.write_text(f"[google]\ndomain = example.com\n\n[sync]\nstate_dir = {tmp_path}\n")
    queue = ConsolePushes(str(path), delay=0, push_user=recorder.push_user, push_password=recorder.push_password)
    GoogleAppsExtension(queue).user_added("alice")
    assert queue.wait_idle(5)
    assert recorder.calls == []
    config_file.update(str(path), "google", {"credentials_file": "/etc/key.json"})
    GoogleAppsExtension(queue).user_added("alice")
    assert queue.wait_idle(5)
    assert recorder.calls == [("user", "alice")]
    queue.stop()


def test_pushes_reach_google_through_the_engine(env, app):
    """The plugin's own extension, the real job functions, slapd and the emulator."""
    extension = app.extensions["test_plugin"].user_extension
    env.directory.add_user(
        "alice", "Alice", "Tester", password="Old-Password-1", mail="alice@example.com", groups=("google_apps_plugin",)
    )
    extension.user_added("alice")
    assert extension.queue.wait_idle(30)
    assert env.emulator.get_user("alice@example.com")["name"]["givenName"] == "Alice"
    extension.password_changed("alice", CLEARTEXT)
    assert extension.queue.wait_idle(30)
    assert env.emulator.check_password("alice@example.com", CLEARTEXT)
    env.directory.remove_from_group("google_apps_plugin", "alice")
    extension.switch_toggled("alice", False)
    assert extension.queue.wait_idle(30)
    assert env.emulator.get_user("alice@example.com")["suspended"] is True
