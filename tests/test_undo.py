"""Undo a whole run: `google-sync undo RUN` previews, `--apply` restores Google to what it was before the run
(passwords aside), planned against Google as it is now, within the same safety limits, and itself undoable.

Real slapd, the emulator over HTTP, the real client.
"""

import json

from app_google_sync import cli
from app_google_sync.libraries.state.store import Store
from app_google_sync.libraries.sync.engine import SyncEngine


def run_cli(env, *args) -> int:
    return cli.main(["--config", str(env.config_path), *args])


def google(env) -> dict:
    """What an administrator would compare: each account's address, names, state; each group's members."""
    users = {
        user["id"]: (
            user["primaryEmail"],
            user["name"]["givenName"],
            user["name"]["familyName"],
            bool(user.get("suspended")),
        )
        for user in env.emulator.users()
    }
    groups = {group["email"]: sorted(env.emulator.members(group["email"])) for group in env.emulator.groups()}
    return {"users": users, "groups": groups}


def last_run(env) -> int:
    return Store(env.settings.sync.database).runs(limit=1)[0].id


def setup_people(env):
    for uid, given in (("anna", "Anna"), ("bert", "Bert"), ("cara", "Cara"), ("dirk", "Dirk"), ("emil", "Emil")):
        env.directory.add_user(uid, given, "Tester", password="Pass-word-1", groups=("google_apps_plugin",))
    env.directory.add_group("staff", members=("anna", "bert", "cara"))
    env.directory.add_group("team", members=("cara", "dirk"))
    env.write_config(max_suspend="2", groups="staff,team")
    assert run_cli(env, "sync") == 0


def change_everything(env):
    env.directory.remove_from_group("google_apps_plugin", "anna")  # suspended
    env.directory.remove_from_group("staff", "bert")  # member removed
    env.directory.modify_user("cara", mail="carolina@example.com")  # renamed, in two groups
    env.directory.modify_user("dirk", givenName="Derek")  # name changed
    env.directory.add_user("fred", "Fred", "Tester", groups=("google_apps_plugin", "team"))  # created, added to a group


def test_undo_restores_google_to_the_state_before_the_run(env, capsys):
    setup_people(env)
    before = google(env)
    change_everything(env)
    assert run_cli(env, "sync") == 0
    run = last_run(env)
    after = google(env)
    assert after != before

    capsys.readouterr()
    assert run_cli(env, "undo", str(run)) == 2  # a preview: changes pending, nothing written
    preview = capsys.readouterr().out
    assert google(env) == after
    assert "unsuspend user" in preview and "anna@example.com" in preview
    assert "suspend user" in preview and "fred@example.com" in preview
    assert "a password cannot be restored" not in preview  # fred got a random password: no SetPassword to report
    assert "a group the run created" not in preview

    assert run_cli(env, "undo", str(run), "--apply") == 0
    restored = google(env)
    fred = next(user_id for user_id, user in restored["users"].items() if user[0] == "fred@example.com")
    assert restored["users"].pop(fred)[3] is True  # the account the run created: suspended, never deleted
    assert restored == before
    undo_run = last_run(env)
    record = Store(env.settings.sync.database).run(undo_run)
    assert record.message.startswith(f"undo of run {run}")

    # The undo of the undo suspends anna again: the run and the undo already spent max_suspend = 2 of the window.
    assert run_cli(env, "undo", str(undo_run), "--apply") == 3
    assert run_cli(env, "undo", str(undo_run), "--apply", "--force") == 0  # back to after the run
    assert google(env) == after


def test_undo_reports_an_object_changed_since_the_run_and_leaves_it(env, capsys):
    setup_people(env)
    env.directory.modify_user("dirk", givenName="Derek")
    assert run_cli(env, "sync") == 0
    run = last_run(env)
    target = SyncEngine(env.settings).target  # someone edits the account in Google meanwhile
    target.call(target.users.patch(userKey="dirk@example.com", body={"name": {"givenName": "Dieter"}}))
    capsys.readouterr()
    assert run_cli(env, "undo", str(run), "--json") == 0
    plan = json.loads(capsys.readouterr().out)["plan"]
    assert plan["changes"] == []
    assert any("givenName changed since the run (now 'Dieter'" in notice["message"] for notice in plan["notices"])
    assert run_cli(env, "undo", str(run), "--apply") == 0
    assert env.emulator.get_user("dirk@example.com")["name"]["givenName"] == "Dieter"


def test_undo_is_refused_by_the_limits_unless_forced(env, capsys):
    for index in range(6):
        env.directory.add_user(f"new{index}", "New", f"User{index}", groups=("google_apps_plugin",))
    env.write_config(max_suspend="2")
    assert run_cli(env, "sync") == 0
    run = last_run(env)
    capsys.readouterr()
    assert run_cli(env, "undo", str(run)) == 3  # undoing six creations suspends six accounts
    assert "would suspend 6" in capsys.readouterr().out
    assert run_cli(env, "undo", str(run), "--apply") == 3
    assert not any(user.get("suspended") for user in env.emulator.users())
    assert run_cli(env, "undo", str(run), "--apply", "--force") == 0
    assert sum(bool(user.get("suspended")) for user in env.emulator.users()) == 6


def test_undo_of_a_test_run_or_an_unknown_run_is_a_clear_error(env, capsys):
    setup_people(env)
    assert run_cli(env, "test") == 0
    capsys.readouterr()
    assert run_cli(env, "undo", str(last_run(env))) == 1
    assert "was a test synchronization" in capsys.readouterr().err
    assert run_cli(env, "undo", "999") == 1
    assert "there is no run 999" in capsys.readouterr().err
    with SyncEngine(env.settings).lock():  # a run of this (live) process, holding the lock as runs do
        running = Store(env.settings.sync.database).start_run("cli", dry_run=False)
        assert run_cli(env, "undo", str(running)) == 1
    assert f"run {running} is still running" in capsys.readouterr().err


def test_undo_of_a_posting_policy_restores_the_previous_one_once(env, capsys):
    """The Groups Settings API is not read back: what this tool last set tells whether the undo is still to do."""
    env.directory.add_user("anna", "Anna", "Tester", groups=("google_apps_plugin",))
    env.directory.add_group("staff", members=("anna",))
    env.write_config(groups="staff", posting_policy="members")
    assert run_cli(env, "sync") == 0
    env.write_config(groups="staff", posting_policy="domain")
    assert run_cli(env, "sync") == 0
    run = last_run(env)
    assert env.emulator.group_settings("staff@example.com")["whoCanPostMessage"] == "ALL_IN_DOMAIN_CAN_POST"

    capsys.readouterr()
    assert run_cli(env, "undo", str(run)) == 2
    assert "set posting" in capsys.readouterr().out
    assert run_cli(env, "undo", str(run), "--apply") == 0
    assert env.emulator.group_settings("staff@example.com")["whoCanPostMessage"] == "ALL_MEMBERS_CAN_POST"
    capsys.readouterr()
    assert run_cli(env, "undo", str(run)) == 0  # done: the preview no longer plans it again
    assert "already members" in capsys.readouterr().out
