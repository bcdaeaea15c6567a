"""Edits made just as the same object's push ends all reach Google (real slapd with syncprov, the emulator).

The issue's pattern: edit a user, and edit it again as its push ends (during the push, right at its end before
the queue records it done, or up to a second after), again and again, on a few users at once. Each push's end
triggers the next edits of that object at a random offset, so the edits land around the ends of real pushes.
Every final value must be in Google within a few seconds. Seeded; GOOGLE_SYNC_PUSH_SEEDS=50 runs fifty.
"""

from __future__ import annotations

import os
import random
import threading

import pytest
from waiting import wait_for

from app_google_sync import cli
from app_google_sync.libraries.runtime.live import LiveSync
from app_google_sync.user_extension import ConsolePushes, GoogleAppsExtension

SEEDS = range(int(os.environ.get("GOOGLE_SYNC_PUSH_SEEDS", "2")))
USERS = ("amy", "ben", "cal")
SETTLED = 6.0  # seconds the last values have to reach Google


class AroundPushEnds:
    """Wraps a push queue's handler: as each push of a watched object ends, the next burst of edits of that object
    is made during the push, right at its end (before the queue records it), or 0 to 1 s after."""

    def __init__(self, queue, rng: random.Random, edit, edits_each: int):
        self.queue, self.rng, self.edit = queue, rng, edit
        self.left: dict[str, int] = {}
        self.edits_each = edits_each
        self.lock = threading.Lock()
        self.timers: list[threading.Timer] = []
        self.handler = queue.batch_handler
        queue.batch_handler = self._handle

    def start(self, names) -> None:
        for name in names:
            self.left[name] = self.edits_each
            self._burst(name)

    def _burst(self, name: str) -> None:
        with self.lock:
            count = min(self.left.get(name, 0), self.rng.choice((1, 1, 2, 3)))
            self.left[name] = self.left.get(name, 0) - count
        for _ in range(count):
            self.edit(name)

    def _handle(self, pushes):
        offsets = {}
        with self.lock:
            for push in pushes:
                if self.left.get(push.name, 0) > 0:
                    offsets[push.name] = self.rng.choice((-1.0, 0.0, 0.0, self.rng.uniform(0.0, 1.0)))
        for name, offset in offsets.items():
            if offset < 0:  # while the push runs (it may or may not read it)
                self._burst(name)
        outcomes = self.handler(pushes)
        for name, offset in offsets.items():
            if offset == 0:  # the push is over, the queue has not recorded it yet: the window
                self._burst(name)
            elif offset > 0:
                timer = threading.Timer(offset, self._burst, args=(name,))
                self.timers.append(timer)
                timer.start()
        return outcomes

    def finished(self) -> bool:
        with self.lock:
            spent = all(left <= 0 for left in self.left.values())
        return spent and not any(timer.is_alive() for timer in self.timers)


def given_name(env, uid):
    return env.emulator.get_user(f"{uid}@example.com")["name"]["givenName"]


def sync(env):
    assert cli.main(["--config", str(env.config_path), "sync"]) == 0


@pytest.fixture
def live(env):
    env.write_config(push_delay="0.3")
    for uid in USERS:
        env.directory.add_user(uid, uid.capitalize(), "Tester", groups=("google_apps_plugin",))
    env.directory.add_group("team", members=USERS[:1])
    sync(env)
    live = LiveSync(str(env.config_path))
    live.start()
    assert wait_for(
        lambda: live.store.get_value("watcher_cookie") is not None, timeout=20
    )  # the initial refresh is done
    yield live
    live.stop()


@pytest.mark.parametrize("seed", SEEDS)
def test_edits_around_the_end_of_their_pushes_all_reach_google(env, live, seed):
    rng = random.Random(seed)
    latest, lock = {}, threading.Lock()
    counter = iter(range(10**6))

    def edit(uid):
        with lock:  # one edit at a time: the last one made is the value Google must end with
            value = f"V{seed}x{next(counter)}"
            env.directory.modify_user(uid, givenName=value)
            latest[uid] = value

    chains = AroundPushEnds(live.queue, rng, edit, edits_each=6)
    chains.start(USERS)
    wait_for(
        chains.finished, timeout=30
    )  # a chain stops early only when an edit was never pushed: the check below says which
    assert wait_for(lambda: all(given_name(env, uid) == value for uid, value in latest.items()), timeout=SETTLED), {
        uid: (value, given_name(env, uid)) for uid, value in latest.items()
    }


@pytest.mark.parametrize("seed", SEEDS)
def test_a_groups_membership_edited_again_as_its_push_ends_reaches_google(env, live, seed):
    rng = random.Random(seed)
    lock = threading.Lock()
    members = {USERS[0]}

    def edit(_group):
        with lock:
            uid = rng.choice(USERS)
            if uid in members and len(members) > 1:
                env.directory.remove_from_group("team", uid)
                members.discard(uid)
            elif uid not in members:
                env.directory.add_to_group("team", uid)
                members.add(uid)

    def in_google():
        return {address.split("@")[0] for address in env.emulator.members("team@example.com")}

    assert wait_for(lambda: in_google() == members, timeout=10)
    chains = AroundPushEnds(live.queue, rng, edit, edits_each=6)
    chains.start(["team"])
    wait_for(chains.finished, timeout=30)
    assert wait_for(lambda: in_google() == members, timeout=SETTLED), (members, in_google())


@pytest.mark.parametrize("seed", SEEDS)
def test_the_user_managers_save_then_password_around_push_ends_all_reach_google(env, seed):
    """The console's hooks: a save (attributes written, then user_updated) followed at once by a password change."""
    for uid in USERS:
        env.directory.add_user(uid, uid.capitalize(), "Tester", groups=("google_apps_plugin",))
    sync(env)
    queue = ConsolePushes(str(env.config_path), delay=0.3)
    extension = GoogleAppsExtension(queue)
    rng = random.Random(seed)
    latest, lock = {}, threading.Lock()
    counter = iter(range(10**6))

    def save(uid):
        with lock:
            number = next(counter)
            name, password = f"S{seed}x{number}", f"Password-{seed}-{number}-long"
            env.directory.modify_user(uid, givenName=name)
            extension.user_updated(uid)
            extension.password_changed(uid, password)
            latest[uid] = (name, password)

    try:
        chains = AroundPushEnds(queue.queue, rng, save, edits_each=4)
        chains.start(USERS)
        wait_for(chains.finished, timeout=30)

        def arrived(uid):
            name, password = latest[uid]
            return given_name(env, uid) == name and env.emulator.check_password(f"{uid}@example.com", password)

        assert wait_for(lambda: all(arrived(uid) for uid in USERS), timeout=SETTLED), {
            uid: (latest[uid][0], given_name(env, uid)) for uid in USERS
        }
    finally:
        queue.stop()
