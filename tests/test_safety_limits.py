"""Safety limits that hold on every path: a suspension budget shared by runs and pushes, changes held for
approval, confirm-before-suspend, and the member-removal guard on group pushes.

Real slapd with syncprov, the emulator over HTTP, the real client; `google-sync watch` runs in-process (LiveSync).
"""

import json
import time

import ldap
import pytest
from waiting import wait_for

from app_google_sync import cli
from app_google_sync.libraries.state.store import Store
from app_google_sync.libraries.sync.engine import SyncEngine


def run_cli(env, *args) -> int:
    return cli.main(["--config", str(env.config_path), *args])


def add_people(env, count: int) -> list[str]:
    uids = [f"user{index:03d}" for index in range(count)]
    for uid in uids:
        env.directory.add_user(uid, "Given", uid.capitalize(), password="Pass-word-1", groups=("google_apps_plugin",))
    return uids


def suspended(env) -> set[str]:
    return {user["primaryEmail"] for user in env.emulator.users() if user.get("suspended")}


def held(env) -> list:
    return Store(env.settings.sync.database).held()


def switch_everyone_off(env) -> None:
    """One ldapmodify that empties google_apps_plugin: the ClearOS placeholder stays, as ClearOS leaves it."""
    directory = env.directory
    entry = directory.group_entry("google_apps_plugin")
    changes = []
    if "memberUid" in entry:
        changes.append((ldap.MOD_DELETE, "memberUid", None))
    if "member" in entry:
        changes.append((ldap.MOD_REPLACE, "member", [directory.no_members_dn.encode()]))
    directory.admin().modify_s(directory.group_dn("google_apps_plugin"), changes)


@pytest.fixture
def watched(env):
    """Fifteen synchronized users, max_suspend = 2, and the watcher pushing every change."""
    from app_google_sync.libraries.runtime.live import LiveSync

    uids = add_people(env, 15)
    env.write_config(push_delay="0.2", max_suspend="2")
    assert run_cli(env, "sync") == 0
    live = LiveSync(str(env.config_path))
    live.start()
    time.sleep(1.0)  # the watcher's first refresh
    yield uids
    live.stop()


def settled(env, expected: int):
    """Until every push of the switch-off ran: each user is either suspended or held."""
    return lambda: (
        len(suspended(env)) + len(held(env)) >= expected and not Store(env.settings.sync.database).queued_pushes()
    )


def test_a_mass_switch_off_under_watch_suspends_at_most_the_budget_and_holds_the_rest(env, watched, capsys):
    switch_everyone_off(env)
    assert wait_for(settled(env, 15), timeout=60)
    assert len(suspended(env)) == 2
    waiting = held(env)
    assert len(waiting) == 13 and {change.action for change in waiting} == {"suspend user"}
    assert all("max_suspend = 2" in change.reason for change in waiting)

    capsys.readouterr()
    assert run_cli(env, "test") == 3  # the whole plan breaks the spent budget: refused, and the held list says why
    out = capsys.readouterr().out
    assert "Held for your approval: 13 change(s)" in out and "2 already suspended in that window" in out
    assert run_cli(env, "status", "--json") == 0
    assert len(json.loads(capsys.readouterr().out)["held"]) == 13

    assert run_cli(env, "sync") == 3  # still refused without the administrator's say
    assert len(suspended(env)) == 2
    assert run_cli(env, "sync", "--force") == 0
    assert len(suspended(env)) == 15
    assert held(env) == []


def test_deleting_every_entry_under_watch_suspends_at_most_the_budget(env, watched):
    for uid in watched:
        env.directory.delete_user(uid)
    assert wait_for(settled(env, 15), timeout=60)
    # A push that runs once the last entry is gone finds no user at all in the directory and holds, as a full
    # run refuses an empty directory: at most the budget's two are suspended, whatever the timing.
    assert len(suspended(env)) <= 2
    assert len(held(env)) == 15 - len(suspended(env))
    assert not any(user.get("deleted") for user in env.emulator.users())  # never deleted, whatever happens


def test_the_budget_is_shared_between_a_push_and_the_next_full_run(env, capsys):
    uids = add_people(env, 6)
    env.write_config(max_suspend="2")
    assert run_cli(env, "sync") == 0
    engine = SyncEngine(env.settings)
    for uid in uids[:3]:
        env.directory.remove_from_group("google_apps_plugin", uid)
    for uid in uids[:2]:
        assert engine.push_user(uid).outcome == "applied"
    assert len(suspended(env)) == 2
    capsys.readouterr()
    assert run_cli(env, "sync") == 3  # one more suspension, but the two pushes spent the budget of the window
    assert "2 already suspended in that window" in capsys.readouterr().err
    assert len(suspended(env)) == 2


def test_a_held_suspension_disappears_when_the_user_is_switched_back_on(env):
    uids = add_people(env, 3)
    env.write_config(max_suspend="0")
    assert run_cli(env, "sync") == 0
    engine = SyncEngine(env.settings)
    env.directory.remove_from_group("google_apps_plugin", uids[0])
    report = engine.push_user(uids[0])
    assert [each.change.action for each in report.plan.held] == ["suspend user"]
    assert [change.object for change in held(env)] == [f"{uids[0]}@example.com"]
    assert suspended(env) == set()

    env.directory.add_to_group("google_apps_plugin", uids[0])
    engine.push_user(uids[0])
    assert held(env) == []
    assert suspended(env) == set()


def test_held_changes_are_applied_on_request_without_a_full_run(env):
    uids = add_people(env, 3)
    env.write_config(max_suspend="0")
    assert run_cli(env, "sync") == 0
    engine = SyncEngine(env.settings)
    env.directory.remove_from_group("google_apps_plugin", uids[0])
    engine.push_user(uids[0])
    env.directory.modify_user(
        uids[1], givenName="Changed"
    )  # not pushed: releasing held changes leaves it for the next run
    report = engine.apply_held()
    assert [result.change.action for result in report.results] == ["suspend user"]
    assert suspended(env) == {f"{uids[0]}@example.com"}
    assert held(env) == []
    assert env.emulator.get_user(f"{uids[1]}@example.com")["name"]["givenName"] == "Given"


def test_a_suspension_is_confirmed_by_reading_the_entry_again(env, capsys):
    uids = add_people(env, 4)
    assert run_cli(env, "sync") == 0
    engine = SyncEngine(env.settings)
    read_state = engine.source.read_state

    def partial_read():  # a read that lost an entry for a moment (a replica catching up, a paging glitch)
        state = read_state()
        return type(state)(users=tuple(user for user in state.users if user.uid != uids[0]), groups=state.groups)

    engine.source.read_state = partial_read
    report = engine.sync()
    [dropped] = report.results
    assert dropped.change.action == "suspend user" and not dropped.ok
    assert "present and enabled after all" in dropped.message
    assert suspended(env) == set()


def test_a_group_push_that_would_empty_a_group_is_held(env, capsys):
    uids = add_people(env, 6)
    env.directory.add_group("staff", members=tuple(uids))
    env.write_config(max_member_removals="2", groups="staff")
    assert run_cli(env, "sync") == 0
    members = lambda: set(env.emulator.members("staff@example.com"))  # noqa: E731
    assert len(members()) == 6
    for uid in uids:
        env.directory.remove_from_group("staff", uid)
    report = SyncEngine(env.settings).push_group("staff")
    assert len(report.plan.held) == 6 and "max_member_removals = 2" in report.plan.held[0].reason
    assert len(members()) == 6
    capsys.readouterr()
    assert run_cli(env, "test") == 3
    out = capsys.readouterr().out
    assert "REFUSED: would remove 6 of 6 members of staff@example.com" in out and "Held for your approval: 6" in out
    assert run_cli(env, "sync", "--force") == 0
    assert members() == set()
    assert held(env) == []


def test_a_group_emptied_one_member_at_a_time_is_held_once_the_window_has_spent_the_limit(env, capsys):
    """Ten ldapmodify's of one member each, each pushed: the removals add up within suspend_window, as suspensions do."""
    uids = add_people(env, 10)
    env.directory.add_group("staff", members=tuple(uids))
    env.write_config(max_member_removals="50%", groups="staff")
    assert run_cli(env, "sync") == 0
    engine = SyncEngine(env.settings)
    for uid in uids:
        env.directory.remove_from_group("staff", uid)
        engine.push_group("staff")
    assert len(env.emulator.members("staff@example.com")) == 5  # 50% of the 10 it had when the window began
    waiting = held(env)
    assert len(waiting) == 5 and {change.action for change in waiting} == {"remove member"}
    assert "5 already removed within suspend_window" in waiting[0].reason
    capsys.readouterr()
    assert run_cli(env, "test") == 3  # a full run counts the pushes' removals too
    assert "5 already removed within suspend_window" in capsys.readouterr().out
    assert run_cli(env, "sync", "--force") == 0
    assert env.emulator.members("staff@example.com") == []
    assert held(env) == []


def test_a_push_never_suspends_when_user_filter_matches_no_user_at_all(env, capsys):
    """A user_filter that suddenly matches nothing reads like 'every user removed': a push that finds its user gone
    looks whether the directory returns any user at all, and holds the suspension, as a full run refuses the plan."""
    uids = add_people(env, 5)
    env.write_config(max_suspend="2")
    assert run_cli(env, "sync") == 0
    text = env.config_path.read_text().replace(
        "enabled_group = google_apps_plugin\n",
        "enabled_group = google_apps_plugin\nuser_filter = (&(objectClass=posixAccount)(description=nobody))\n",
    )
    env.config_path.write_text(text)
    engine = SyncEngine(env.settings)
    reports = [engine.push_user(uid) for uid in uids]
    assert suspended(env) == set()
    assert all(report.outcome == "held" for report in reports)
    waiting = held(env)
    assert len(waiting) == 5 and all("returns no user at all" in change.reason for change in waiting)
    capsys.readouterr()
    assert run_cli(env, "sync") == 3
    assert suspended(env) == set()


def test_a_group_push_removes_no_member_when_user_filter_matches_no_user_at_all(env):
    uids = add_people(env, 4)
    env.directory.add_group("team", members=tuple(uids))
    env.write_config(groups="team")  # max_member_removals = 50% guards no group under ten members
    assert run_cli(env, "sync") == 0
    text = env.config_path.read_text().replace(
        "enabled_group = google_apps_plugin\n",
        "enabled_group = google_apps_plugin\nuser_filter = (&(objectClass=posixAccount)(description=nobody))\n",
    )
    env.config_path.write_text(text)
    report = SyncEngine(env.settings).push_group("team")
    assert len(report.plan.held) == 4 and report.results == []
    assert len(env.emulator.members("team@example.com")) == 4


def test_releasing_held_changes_applies_what_was_held_and_nothing_more(env):
    """The console's Apply held changes names a count the administrator confirmed: removals the directory gained
    since (not pushed yet) are not released with them; the next push or run judges them."""
    uids = add_people(env, 8)
    env.directory.add_group("staff", members=tuple(uids))
    env.write_config(max_member_removals="2", groups="staff")
    assert run_cli(env, "sync") == 0
    engine = SyncEngine(env.settings)
    for uid in uids[:3]:
        env.directory.remove_from_group("staff", uid)
    engine.push_group("staff")
    assert len(held(env)) == 3
    for uid in uids[3:7]:  # a bad script goes on; its change is not pushed yet
        env.directory.remove_from_group("staff", uid)
    report = engine.apply_held()
    assert sorted(result.change.member_email for result in report.results) == [f"{uid}@example.com" for uid in uids[:3]]
    assert len(env.emulator.members("staff@example.com")) == 5
