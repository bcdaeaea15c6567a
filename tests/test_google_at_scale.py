"""Google as it really behaves: renames keep memberships, new accounts take a moment, quota is paced to.

Real slapd, the emulator over HTTP (which runs batch parts in a shuffled order, as Google may), the real client.
"""
import random

import pytest

from app_google_sync import cli
from app_google_sync.libraries.sync.engine import SyncEngine
from app_google_sync.libraries.google.pacing import Pacer
from app_google_sync.libraries.sync.plan import RemoveMember


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
    assert clock.now - 1000.0 == pytest.approx(200 / 9.5 - 1, rel=0.05)  # one second's burst, then the rate


def test_the_pacer_halves_on_a_quota_answer_and_recovers_slowly():
    clock = FakeClock()
    pacer = Pacer(600, clock=clock, sleep=clock.sleep)
    pacer.throttled()
    assert pacer.rate == pytest.approx(9.5 / 2)
    pacer.throttled()
    assert pacer.rate == pytest.approx(9.5 / 4)
    pacer.answered(10)
    assert 9.5 / 4 < pacer.rate < 9.5
    pacer.answered(200)
    assert pacer.rate == pytest.approx(9.5)


def test_a_batch_holds_at_most_one_seconds_worth_of_calls():
    clock = FakeClock()
    pacer = Pacer(600, clock=clock, sleep=clock.sleep)
    assert pacer.chunk == 9
    pacer.throttled()
    assert pacer.chunk == 4


def calls_sent(pacer: Pacer, clock: FakeClock, seconds: float) -> list[float]:
    """Batches of the pacer's chunk for ``seconds``: the moment of each call."""
    moments = []
    while clock.now < 1000.0 + seconds:
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


@pytest.mark.parametrize("per_window, window", [(2400, 60.0), (100, 5.0), (100, 10.0), (250, 5.0)])
def test_no_window_ever_sees_more_than_the_quota(per_window, window):
    """Batches of one second's worth under Google's minute; smaller ones when a compressed quota shortens the window."""
    clock = FakeClock()
    pacer = Pacer(per_window * 60 / window, clock=clock, sleep=clock.sleep, window=window)
    moments = calls_sent(pacer, clock, seconds=4 * window)
    assert busiest_window(moments, window) <= per_window
    assert len(moments) / (moments[-1] - 1000.0) > 0.9 * per_window / window  # and close to the quota all the same
    assert pacer.chunk == (int(per_window / window * 0.95) if window == 60.0 else int(per_window * 0.05))


def test_the_pacer_never_drops_below_its_floor():
    clock = FakeClock()
    pacer = Pacer(600, clock=clock, sleep=clock.sleep)
    for _ in range(50):
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
