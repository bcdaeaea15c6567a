"""Managers: the LDAP manager DN becomes Google's relations[type=manager], when the manager is synchronized."""

import json

from app_google_sync import cli
from app_google_sync.libraries.sync.engine import SyncEngine

PLUGIN = ("google_apps_plugin",)
ASSISTANT = {"type": "assistant", "value": "pa@example.com"}


def run(env, *args):
    return cli.main(["--config", str(env.config_path), *args])


def plan_json(env, capsys):
    capsys.readouterr()
    run(env, "test", "--json")
    return json.loads(capsys.readouterr().out)["plan"]


def managers_on(env):
    env.write_config(sections={"attributes": {"manager": "manager"}})


def relations(env, email):
    return env.emulator.get_user(email).get("relations")


def test_a_manager_is_set_changed_and_removed_keeping_google_other_relations(env, capsys):
    managers_on(env)
    directory = env.directory
    bob_dn = directory.add_user("bob", "Bob", "Boss", groups=PLUGIN)
    carol_dn = directory.add_user("carol", "Carol", "Chief", groups=PLUGIN)
    directory.add_user(
        "alice", "Alice", "Tester", groups=PLUGIN, extra_attrs={"manager": bob_dn.upper()}
    )  # any spelling of the DN
    plan = plan_json(env, capsys)
    alice = next(c for c in plan["changes"] if c["object"] == "alice@example.com")
    assert alice["action"] == "create user" and alice["manager"] == "bob@example.com"
    assert run(env, "sync") == 0
    assert relations(env, "alice@example.com") == [{"type": "manager", "value": "bob@example.com"}]

    target = SyncEngine(env.settings).target  # someone adds an assistant in Google
    target.call(
        target.users.patch(
            userKey="alice@example.com",
            body={"relations": [{"type": "manager", "value": "bob@example.com"}, ASSISTANT]},
        )
    )
    directory.modify_user("alice", manager=carol_dn)
    plan = plan_json(env, capsys)
    assert [(c["action"], c["changes"]) for c in plan["changes"]] == [
        ("update user", [{"field": "manager", "old": "bob@example.com", "new": "carol@example.com"}])
    ]
    assert run(env, "sync") == 0
    assert relations(env, "alice@example.com") == [ASSISTANT, {"type": "manager", "value": "carol@example.com"}]

    directory.modify_user("alice", manager=None)
    assert run(env, "sync") == 0
    assert relations(env, "alice@example.com") == [ASSISTANT]
    assert run(env, "test") == 0


def test_a_manager_not_synchronized_is_a_notice_and_google_keeps_its_value(env, capsys):
    managers_on(env)
    dave_dn = env.directory.add_user("dave", "Dave", "Outside")  # no Google Apps option
    env.emulator.add_user(
        "alice@example.com", "Alice", "Tester", relations=[{"type": "manager", "value": "someone@example.com"}]
    )
    env.directory.add_user("alice", "Alice", "Tester", groups=PLUGIN, extra_attrs={"manager": dave_dn})
    plan = plan_json(env, capsys)
    assert all("manager" not in json.dumps(change) for change in plan["changes"])
    notice = next(n for n in plan["notices"] if n["object"] == "alice")
    assert (
        notice["level"] == "warning" and f"manager {dave_dn.lower()} is not synchronized to Google" in notice["message"]
    )
    assert run(env, "sync") == 0
    assert relations(env, "alice@example.com") == [{"type": "manager", "value": "someone@example.com"}]


def test_a_targeted_push_reads_the_manager_too(env):
    managers_on(env)
    bob_dn = env.directory.add_user("bob", "Bob", "Boss", groups=PLUGIN)
    env.directory.add_user("alice", "Alice", "Tester", groups=PLUGIN)
    assert run(env, "sync") == 0
    env.directory.modify_user("alice", manager=bob_dn)
    report = SyncEngine(env.settings).push_user("alice")
    assert [(r.change.action, r.ok) for r in report.results] == [("update user", True)]
    assert relations(env, "alice@example.com") == [{"type": "manager", "value": "bob@example.com"}]


def test_switched_off_the_manager_in_google_is_never_touched(env):
    bob_dn = env.directory.add_user("bob", "Bob", "Boss", groups=PLUGIN)
    env.emulator.add_user(
        "alice@example.com", "Alice", "Tester", relations=[{"type": "manager", "value": "set-in-google@example.com"}]
    )
    env.directory.add_user("alice", "Alice", "Tester", groups=PLUGIN, extra_attrs={"manager": bob_dn})
    assert run(env, "sync") == 0
    assert relations(env, "alice@example.com") == [{"type": "manager", "value": "set-in-google@example.com"}]
