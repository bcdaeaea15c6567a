"""[offboarding]: what follows this tool's suspension of a leaver, with real slapd, the emulator and the real client.

Sign-out, token and app-password revocations, hiding and moving go before the suspension; the Drive and Calendar
transfer is scheduled, started by the transfer runner once due (an injected moment, no sleeping), read back until
Google completes it. A comeback reverses what can be reversed; the rest is said.
"""
import json
from datetime import timedelta

import pytest

from app_google_sync import cli
from app_google_sync.libraries.google.google_target import DATATRANSFER_SCOPE, SECURITY_SCOPE, required_scopes
from app_google_sync.libraries.state.store import Store, now
from app_google_sync.libraries.sync.engine import SyncEngine

PLUGIN = ("google_apps_plugin",)
EVERY_STEP = {"sign_out": "yes", "revoke_tokens": "yes", "revoke_app_passwords": "yes", "hide_from_directory": "yes",
              "move_to_org_unit": "/Leavers", "transfer_data_to": "manager", "transfer_after": "30d"}
LATER = timedelta(days=31)


def run(env, *args):
    return cli.main(["--config", str(env.config_path), *args])


def report_json(env, capsys, *command):
    capsys.readouterr()
    code = run(env, *command, "--json")
    return code, json.loads(capsys.readouterr().out)


def offboarding_on(env, **overrides):
    env.write_config(sections={"attributes": {"manager": "manager"}, "offboarding": {**EVERY_STEP, **overrides}})


def team(env, staff_unit=True):
    """Bob manages Alice; Alice has two connected apps, an app password and Drive files, and works in /Staff."""
    directory = env.directory
    bob = directory.add_user("bob", "Bob", "Boss", groups=PLUGIN)
    directory.add_user("alice", "Alice", "Leaver", groups=PLUGIN, extra_attrs={"manager": bob})
    env.emulator.add_org_unit("/Leavers")
    if staff_unit:
        env.emulator.add_org_unit("/Staff")
    assert run(env, "sync") == 0
    emulator = env.emulator
    emulator.add_token("alice@example.com", "1234.apps.googleusercontent.com", "Slack")
    emulator.add_token("alice@example.com", "5678.apps.googleusercontent.com", "Zoom")
    emulator.add_app_password("alice@example.com", "Thunderbird")
    emulator.add_drive_files("alice@example.com", "shared:budget.xlsx", "notes.txt")
    if staff_unit:
        SyncEngine(env.settings).target.call(SyncEngine(env.settings).target.users.patch(
            userKey="alice@example.com", body={"orgUnitPath": "/Staff"}))
    emulator.reset_calls()


def leave(env):
    env.directory.remove_from_group("google_apps_plugin", "alice")


def test_a_leaver_is_signed_out_revoked_hidden_moved_and_its_data_transferred_to_the_manager(env, capsys):
    offboarding_on(env)
    team(env)
    leave(env)
    _, report = report_json(env, capsys, "test")
    lines = [(change["action"], change["object"]) for change in report["plan"]["changes"]]
    assert lines == [
        ("sign out", "alice@example.com"),
        ("revoke token", "alice@example.com ← Slack"),
        ("revoke token", "alice@example.com ← Zoom"),
        ("revoke app password", "alice@example.com ← Thunderbird"),
        ("hide from directory", "alice@example.com"),
        ("move to org unit", "alice@example.com"),
        ("suspend user", "alice@example.com"),
        ("schedule transfer", "alice@example.com"),
    ]
    assert env.emulator.write_calls() == [], "the test changes nothing"
    capsys.readouterr()
    run(env, "test")
    text = capsys.readouterr().out
    due = (now() + timedelta(days=30)).strftime("%Y-%m-%d")
    assert f"transfer Drive and Calendar to bob@example.com on {due}" in text
    assert "/Staff → /Leavers" in text

    assert run(env, "sync") == 0
    emulator = env.emulator
    assert emulator.sign_outs("alice@example.com") == 1
    assert emulator.tokens("alice@example.com") == [] and emulator.app_passwords("alice@example.com") == []
    alice = emulator.get_user("alice@example.com")
    assert alice["suspended"] and alice["includeInGlobalAddressList"] is False and alice["orgUnitPath"] == "/Leavers"
    security = [call for call in emulator.calls if call["method"] != "GET"]
    suspension = next(index for index, call in enumerate(security) if (call["body"] or {}).get("suspended") is True)
    assert all(index < suspension for index, call in enumerate(security) if "/tokens/" in call["path"] or "/asps/" in call["path"]
               or call["path"].endswith("/signOut")), "sign-out and revocations go before the suspension"
    assert emulator.data_transfers() == [], "the transfer waits for transfer_after"

    engine = SyncEngine(env.settings)
    assert engine.run_transfers() == [], "not due yet"
    lines = engine.run_transfers(now() + LATER)
    assert lines and "started" in lines[0]
    (transfer,) = emulator.data_transfers()
    assert transfer["oldOwnerUserId"] == alice["id"] and transfer["newOwnerUserId"] == emulator.get_user("bob@example.com")["id"]
    assert {item["applicationId"] for item in transfer["applicationDataTransfers"]} == {"55656082996", "435070579839"}
    engine.run_transfers(now() + LATER)  # inProgress
    assert "completed" in engine.run_transfers(now() + LATER)[0]
    assert sorted(emulator.drive_files("bob@example.com")) == ["notes.txt", "shared:budget.xlsx"]
    assert engine.run_transfers(now() + LATER) == [], "a completed transfer is not looked at again"

    _, leavers = report_json(env, capsys, "leavers")
    (record,) = leavers["leavers"]
    assert record["email"] == "alice@example.com" and record["transfer_status"] == "completed"
    assert [step for _, step in record["steps"]][:2] == ["signed out of every session", "token of Slack revoked"]
