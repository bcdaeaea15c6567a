"""Google as it really behaves: renames keep memberships, new accounts take a moment, quota is paced to.

Real slapd, the emulator over HTTP (which runs batch parts in a shuffled order, as Google may), the real client.
"""

import random
import sys
from pathlib import Path

import pytest

from app_google_sync import cli
from app_google_sync.libraries.google.pacing import Pacer
from app_google_sync.libraries.sync.engine import SyncEngine
from app_google_sync.libraries.sync.plan import RemoveMember

sys.path.insert(0, str(Path(__file__).with_name("bench")))
import bench_pacing  # noqa: E402  (the pacing scenarios, measured on an injected clock)


def run_cli(env, *args) -> int:
    return cli.main(["--config", str(env.config_path), *args])


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_a_renamed_member_of_two_groups_stays_in_both(env, seed):
    random.seed(seed)  # the order the emulator runs batch parts in (random, as Google's)
    env.directory.add_user("dora", "Dora", "Tester", mail="dora@example.com", groups=("google_apps_plugin",))
    env.directory.add_user("eli", "Eli", "Tester", groups=("google_apps_plugin",))
    env.directory.add_group("sales", members=("dora", "eli"))
    env.directory.add_group("support", members=("dora",))
    assert run_cli(env, "sync") == 0
    env.directory.rename_user("dora", "theodora")
    env.directory.modify_user("theodora", mail="theodora@example.com")
    report = SyncEngine(env.settings).sync()
    assert report.outcome == "applied"
    assert not [change for change in report.plan.changes if change.action in ("add member", "remove member")]
    assert "theodora@example.com" in env.emulator.members("sales@example.com")
    assert "theodora@example.com" in env.emulator.members("support@example.com")
    assert run_cli(env, "test") == 0


def test_a_member_removed_after_a_rename_is_removed_by_id(env):
    env.directory.add_user("fay", "Fay", "Tester", mail="fay@example.com", groups=("google_apps_plugin",))
    env.directory.add_user("gus", "Gus", "Tester", groups=("google_apps_plugin",))
    env.directory.add_group("sales", members=("fay", "gus"))
    assert run_cli(env, "sync") == 0
    env.directory.rename_user("fay", "faye")
    env.directory.modify_user("faye", mail="faye@example.com")
    env.directory.remove_from_group("sales", "faye")
    report = SyncEngine(env.settings).sync()
    [removal] = report.plan.of_type(RemoveMember)
    assert removal.member_id == env.emulator.get_user("faye@example.com")["id"]
    assert set(env.emulator.members("sales@example.com")) == {"gus@example.com"}


def test_a_first_sync_waits_out_googles_propagation_delay(env):
    env.emulator.propagation_delay = 2.0  # new accounts and groups refuse member calls this long
    uids = [f"new{index:02d}" for index in range(30)]
    for uid in uids:
        env.directory.add_user(uid, "New", uid.capitalize(), groups=("google_apps_plugin",))
    env.directory.add_group("crew", members=tuple(uids[::2]))
    env.directory.add_group("band", members=tuple(uids[1::2]))
    assert run_cli(env, "sync") == 0
    assert set(env.emulator.members("crew@example.com")) == {f"{uid}@example.com" for uid in uids[::2]}
    assert set(env.emulator.members("band@example.com")) == {f"{uid}@example.com" for uid in uids[1::2]}
    assert run_cli(env, "test") == 0


def test_a_run_under_a_tight_quota_completes_with_every_part_applied(env):
    """The quota is half what queries_per_minute says: the pacer learns it from Google's 403s and settles below it."""
    env.emulator.quota_per_window = 60
    env.emulator.quota_window = 2.0  # 1,800 calls a minute
    uids = [f"q{index:03d}" for index in range(60)]
    for uid in uids:
        env.directory.add_user(uid, "Quota", uid.capitalize(), groups=("google_apps_plugin",))
    env.directory.add_group("all-q", members=tuple(uids))
    env.queries_per_minute = 3600
    env.write_config(batch_size="20")
    engine = SyncEngine(env.settings)
    report = engine.sync()
    assert report.outcome == "applied" and not report.failures
    assert len(env.emulator.members("all-q@example.com")) == len(uids)
    stats = env.emulator.stats()
    assert 0 < stats["rejected_quota"] < stats["calls"] / 4  # squeezed, and it learned instead of thrashing


class FakeClock:
    def __init__(self):
        self.now = 1000.0
        self.slept = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def test_the_pacer_spaces_calls_to_the_quota():
    clock = FakeClock()
    pacer = Pacer(600, clock=clock, sleep=clock.sleep)  # 10 per second, 9.5 used
    for _ in range(20):
        pacer.acquire(10)
    assert clock.now - 1000.0 == pytest.approx((200 - pacer.burst) / 9.5, rel=0.01)  # a small burst, then the rate


def test_the_pacer_halves_once_per_batch_sent_since_and_recovers_slowly_near_the_refused_rate():
    clock = FakeClock()
    pacer = Pacer(600, clock=clock, sleep=clock.sleep)
    pacer.acquire(2)
    pacer.throttled()
    assert pacer.rate == pytest.approx(9.5 / 2)
    pacer.throttled()  # the answer to a batch sent at the old pace: an echo, not news
    assert pacer.rate == pytest.approx(9.5 / 2)
    pacer.acquire(1)
    pacer.throttled()
    assert pacer.rate == pytest.approx(9.5 / 4)
    pacer.answered(2)  # half a second's worth at 4.75/s: 20 s win the whole rate back
    assert pacer.rate == pytest.approx(9.5 / 4 + (2 / (9.5 / 4)) * 9.5 / 20)
    while pacer.rate < 9.5 / 2 * 0.9:
        pacer.answered(1)
    below = pacer.rate
    pacer.answered(1)
    assert pacer.rate - below == pytest.approx(1 / below * 9.5 / 20 * 0.25)  # close under where Google said no: slowly
    for _ in range(500):
        pacer.answered(10)
    assert pacer.rate == pytest.approx(9.5)


def test_a_batch_holds_a_twentieth_of_five_seconds_worth():
    clock = FakeClock()
    pacer = Pacer(2400, clock=clock, sleep=clock.sleep)  # 38 per second used
    assert pacer.chunk == int(38 * 5 * 0.05 / 0.95)
    pacer.acquire(1)
    pacer.throttled()
    assert pacer.chunk == int(19 * 5 * 0.05 / 0.95)


def calls_sent(pacer: Pacer, clock: FakeClock, seconds: float, idle_every: float = 0.0) -> list[float]:
    """Batches of the pacer's chunk for ``seconds``: the moment of each call (with a quiet spell of 10 s every
    ``idle_every`` seconds, after which the bucket is full again)."""
    moments, next_idle = [], 1000.0 + idle_every
    while clock.now < 1000.0 + seconds:
        if idle_every and clock.now >= next_idle:
            clock.now += 10.0
            next_idle = clock.now + idle_every
        chunk = pacer.chunk
        pacer.acquire(chunk)
        moments.extend([clock.now] * chunk)
        clock.now += 0.02  # the batch's round trip
    return moments


def busiest_window(moments: list[float], window: float) -> int:
    """The most calls in any sliding window of that length (as Google, and the emulator, count them)."""
    start, most = 0, 0
    for end, moment in enumerate(moments):
        while moments[start] <= moment - window:
            start += 1
        most = max(most, end - start + 1)
    return most


@pytest.mark.parametrize("idle_every", [0.0, 7.0])
def test_no_window_from_5_to_60_seconds_sees_more_than_its_share_of_the_minute(idle_every):
    """Told Google's 2,400 a minute, the pacer keeps every sliding window from 5 s to 60 s within its share (40 calls
    a second), also right after quiet spells, and uses close to all of it."""
    clock = FakeClock()
    pacer = Pacer(2400, clock=clock, sleep=clock.sleep)
    moments = calls_sent(pacer, clock, seconds=240, idle_every=idle_every)
    for window in (5.0, 10.0, 30.0, 60.0):
        assert busiest_window(moments, window) <= 40 * window, window
    if not idle_every:
        assert len(moments) / (moments[-1] - 1000.0) > 0.93 * 40


@pytest.mark.parametrize("per_window, window", [(100, 5.0), (100, 10.0), (250, 5.0)])
def test_a_compressed_quota_is_kept_in_every_window_too(per_window, window):
    clock = FakeClock()
    pacer = Pacer(per_window * 60 / window, clock=clock, sleep=clock.sleep, window=window)
    moments = calls_sent(pacer, clock, seconds=4 * window)
    assert busiest_window(moments, window) <= per_window
    assert busiest_window(moments, window * 5 / 60) <= per_window * 5 / 60  # its "5 seconds" as well


@pytest.mark.parametrize("window", [5.0, 10.0, 30.0, 60.0])
def test_a_first_sync_is_close_to_the_floor_alone_or_sharing_the_quota_unknowingly(window):
    """The product's Pacer against the emulator's sliding-window quota on an injected clock (tests/bench/bench_pacing.py):
    3,000 calls at Google's default 40 a second. Told the exact quota: within 1.2x the floor, at most 1% refused.
    With another tool spending half of it, unknown to the pacer: within 1.3x, under 5% refused."""
    alone = bench_pacing.first_sync(3000, 40.0, window, shared=False, latency=0.05)
    assert alone["ratio"] <= 1.2 and alone["rejected"] <= 0.01 * alone["sent"], alone
    shared = bench_pacing.first_sync(3000, 40.0, window, shared=True, latency=0.05)
    assert shared["ratio"] <= 1.3 and shared["rejected"] < 0.05 * shared["sent"], shared


def test_the_pacer_never_drops_below_its_floor():
    clock = FakeClock()
    pacer = Pacer(600, clock=clock, sleep=clock.sleep)
    for _ in range(50):
        pacer.acquire(1)
        pacer.throttled()
    assert pacer.rate == pytest.approx(9.5 * 0.05)


def test_runs_of_one_server_share_the_budget(tmp_path):
    clock = FakeClock()
    first = Pacer(600, clock=clock, sleep=clock.sleep, state_file=tmp_path / "budget.json")
    first.acquire(50)
    first.throttled()
    second = Pacer(600, clock=clock, sleep=clock.sleep, state_file=tmp_path / "budget.json")
    assert second.rate == pytest.approx(first.rate)
    assert second.tokens < second.burst  # it does not start with a full budget the first one just spent
