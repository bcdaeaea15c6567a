"""[offboarding]: what follows this tool's suspension of a leaver, with real slapd, the emulator and the real client.

Sign-out, token and app-password revocations, hiding and moving go before the suspension; the Drive and Calendar
transfer is scheduled, started by the transfer runner once due (an injected moment, no sleeping), read back until
Google completes it. A comeback reverses what can be reversed; the rest is said.
"""

import json
import subprocess
import sys
from datetime import timedelta

import pytest

from app_google_sync import cli
from app_google_sync.libraries.google.google_target import DATATRANSFER_SCOPE, SECURITY_SCOPE, required_scopes
from app_google_sync.libraries.state.store import Store, now
from app_google_sync.libraries.sync.engine import SyncEngine

PLUGIN = ("google_apps_plugin",)
EVERY_STEP = {
    "sign_out": "yes",
    "revoke_tokens": "yes",
    "revoke_app_passwords": "yes",
    "hide_from_directory": "yes",
    "move_to_org_unit": "/Leavers",
    "transfer_data_to": "manager",
    "transfer_after": "30d",
}
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
        SyncEngine(env.settings).target.call(
            SyncEngine(env.settings).target.users.patch(userKey="alice@example.com", body={"orgUnitPath": "/Staff"})
        )
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
    assert all(
        index < suspension
        for index, call in enumerate(security)
        if "/tokens/" in call["path"] or "/asps/" in call["path"] or call["path"].endswith("/signOut")
    ), "sign-out and revocations go before the suspension"
    assert emulator.data_transfers() == [], "the transfer waits for transfer_after"

    engine = SyncEngine(env.settings)
    assert engine.run_transfers() == [], "not due yet"
    lines = engine.run_transfers(now() + LATER)
    assert lines and "started" in lines[0]
    (transfer,) = emulator.data_transfers()
    assert (
        transfer["oldOwnerUserId"] == alice["id"]
        and transfer["newOwnerUserId"] == emulator.get_user("bob@example.com")["id"]
    )
    assert {item["applicationId"] for item in transfer["applicationDataTransfers"]} == {"55656082996", "435070579839"}
    engine.run_transfers(now() + LATER)  # inProgress
    assert "completed" in engine.run_transfers(now() + LATER)[0]
    assert sorted(emulator.drive_files("bob@example.com")) == ["notes.txt", "shared:budget.xlsx"]
    assert engine.run_transfers(now() + LATER) == [], "a completed transfer is not looked at again"

    _, leavers = report_json(env, capsys, "leavers")
    (record,) = leavers["leavers"]
    assert record["email"] == "alice@example.com" and record["transfer_status"] == "completed"
    assert [step for _, step in record["steps"]][:2] == ["signed out of every session", "token of Slack revoked"]


def leaver_record(env):
    (record,) = Store(env.settings.sync.database).leavers()
    return record


def test_the_data_goes_to_the_named_account_when_the_manager_is_not_synchronized_or_left_too(env, capsys):
    offboarding_on(env, transfer_fallback="archive@example.com")
    env.directory.add_user("archive", "Archive", "Account", groups=PLUGIN)
    team(env, staff_unit=False)
    # Bob leaves too, in the same run: his own data has no manager to go to, so it goes to the archive as well.
    env.directory.remove_from_group("google_apps_plugin", "bob")
    leave(env)
    _, report = report_json(env, capsys, "test")
    transfers = {
        change["object"]: change["receiver"]
        for change in report["plan"]["changes"]
        if change["action"] == "schedule transfer"
    }
    assert transfers == {"alice@example.com": "archive@example.com", "bob@example.com": "archive@example.com"}

    env.write_config(sections={"attributes": {"manager": "manager"}, "offboarding": EVERY_STEP})  # no fallback
    _, report = report_json(env, capsys, "test")
    assert not [change for change in report["plan"]["changes"] if change["action"] == "schedule transfer"]
    warnings = {
        notice["object"]: notice["message"]
        for notice in report["plan"]["notices"]
        if notice["code"] == "transfer_no_receiver"
    }
    assert "bob@example.com is suspended (has left too)" in warnings["alice@example.com"]
    assert "it has no manager in Google" in warnings["bob@example.com"]


def test_a_transfer_whose_receiver_left_meanwhile_goes_to_the_fallback(env):
    offboarding_on(env, transfer_fallback="archive@example.com")
    env.directory.add_user("archive", "Archive", "Account", groups=PLUGIN)
    team(env, staff_unit=False)
    leave(env)
    report = SyncEngine(env.settings).push_user("alice")  # what the watcher does: one user read on both sides
    assert not report.failures and "schedule transfer" in {result.change.action for result in report.results}
    assert leaver_record(env).transfer_to == "bob@example.com"
    env.directory.remove_from_group("google_apps_plugin", "bob")  # the manager leaves before the date
    assert run(env, "sync") == 0
    engine = SyncEngine(env.settings)
    lines = engine.run_transfers(now() + LATER)
    assert any("alice@example.com: Drive and Calendar to archive@example.com: started" in line for line in lines)
    transfer = next(
        t
        for t in env.emulator.data_transfers()
        if t["oldOwnerUserId"] == env.emulator.get_user("alice@example.com")["id"]
    )
    assert transfer["newOwnerUserId"] == env.emulator.get_user("archive@example.com")["id"]


def test_a_comeback_before_the_date_reverses_what_can_be_and_transfers_nothing(env, capsys):
    offboarding_on(env)
    team(env)
    leave(env)
    assert run(env, "sync") == 0
    env.directory.add_to_group("google_apps_plugin", "alice")
    _, report = report_json(env, capsys, "test")
    changes = {change["action"]: change for change in report["plan"]["changes"]}
    assert set(changes) == {"unsuspend user", "show in directory", "move back to org unit", "leaver returns"}
    assert changes["move back to org unit"]["path"] == "/Staff"
    note = changes["leaver returns"]["note"]
    assert note.startswith("not reversible: signed out; 2 app tokens revoked; 1 app password revoked")
    assert "the transfer of Drive and Calendar to bob@example.com due" in note and note.endswith("is cancelled")

    code, report = report_json(env, capsys, "sync")
    assert code == 0
    assert next(r for r in report["results"] if r["action"] == "leaver returns")["message"] == note, (
        "the results say it too"
    )
    alice = env.emulator.get_user("alice@example.com")
    assert not alice["suspended"] and alice["includeInGlobalAddressList"] is True and alice["orgUnitPath"] == "/Staff"
    record = leaver_record(env)
    assert record.returned_at and record.transfer_status == "cancelled"
    assert SyncEngine(env.settings).run_transfers(now() + LATER) == []
    assert env.emulator.data_transfers() == [] and env.emulator.drive_files("alice@example.com")
    assert run(env, "test") == 0, "nothing more to do once back"


def test_a_comeback_after_the_transfer_says_the_data_stays_with_the_manager(env, capsys):
    offboarding_on(env, hide_from_directory="no", move_to_org_unit="")
    team(env, staff_unit=False)
    leave(env)
    assert run(env, "sync") == 0
    engine = SyncEngine(env.settings)
    for _ in range(3):
        engine.run_transfers(now() + LATER)
    assert leaver_record(env).transfer_status == "completed"
    env.directory.add_to_group("google_apps_plugin", "alice")
    code, report = report_json(env, capsys, "sync")
    assert code == 0
    note = next(r for r in report["results"] if r["action"] == "leaver returns")["message"]
    assert (
        f"Drive and Calendar transferred to bob@example.com on {now() + LATER:%Y-%m-%d}" in note
        and "share it back" in note
    )
    assert leaver_record(env).transfer_status == "completed", "a completed transfer is history, not cancelled"


def test_a_burst_of_leavers_past_max_suspend_is_held_with_its_offboarding_then_released(env):
    offboarding_on(env, transfer_data_to="")
    directory = env.directory
    for uid in ("carol", "dave"):
        directory.add_user(uid, uid.title(), "Leaver", groups=PLUGIN)
    team(env, staff_unit=False)
    env.write_config(
        max_suspend="1",
        sections={"attributes": {"manager": "manager"}, "offboarding": {**EVERY_STEP, "transfer_data_to": ""}},
    )
    for uid in ("alice", "carol", "dave"):
        directory.remove_from_group("google_apps_plugin", uid)
    engine = SyncEngine(env.settings)
    reports = [engine.push_user(uid) for uid in ("alice", "carol", "dave")]
    assert reports[0].outcome == "applied" and [r.outcome for r in reports[1:]] == ["held", "held"]
    held = {(change.action, change.object) for change in engine.held()}
    assert ("sign out", "carol@example.com") in held and ("suspend user", "carol@example.com") in held
    assert ("hide from directory", "dave@example.com") in held and ("move to org unit", "dave@example.com") in held
    assert env.emulator.sign_outs("alice@example.com") == 1
    assert (
        env.emulator.sign_outs("carol@example.com") == 0
        and env.emulator.get_user("carol@example.com")["includeInGlobalAddressList"] is not False
    )

    report = engine.apply_held()
    assert not report.failures
    for email in ("carol@example.com", "dave@example.com"):
        account = env.emulator.get_user(email)
        assert (
            account["suspended"]
            and account["includeInGlobalAddressList"] is False
            and account["orgUnitPath"] == "/Leavers"
        )
        assert env.emulator.sign_outs(email) == 1
    assert engine.held() == []


def test_a_failed_transfer_is_notified_and_retried(env, smtp_sink):
    offboarding_on(env)
    team(env, staff_unit=False)
    leave(env)
    assert run(env, "sync") == 0
    env.emulator.fail_transfers(1)
    engine = SyncEngine(env.settings)
    moment = now() + LATER
    engine.run_transfers(moment)
    engine.run_transfers(moment)
    lines = engine.run_transfers(moment)
    assert "failed (attempt 1): Google reports the transfer failed" in lines[0]
    record = leaver_record(env)
    assert record.transfer_status == "failed" and record.transfer_attempts == 1
    assert engine.run_transfers(moment) == [], "not again at once: it waits for its retry"

    env.write_config(
        sections={
            "attributes": {"manager": "manager"},
            "offboarding": EVERY_STEP,
            "notify": {"email_to": "it@example.com", "smtp_host": "127.0.0.1", "smtp_port": str(smtp_sink.port)},
        }
    )
    from app_google_sync.libraries.ops import notify

    notify.Notifier(env.settings, Store(env.settings.sync.database)).check()
    (message,) = smtp_sink.messages
    assert "alice@example.com" in message.get_content() and "Transfer of Drive and Calendar" in message.get_content()

    later = moment + timedelta(hours=2)
    assert "started" in engine.run_transfers(later)[0]
    engine.run_transfers(later)
    assert "completed" in engine.run_transfers(later)[0]
    assert len(env.emulator.data_transfers()) == 2 and leaver_record(env).transfer_status == "completed"


def test_a_scheduled_transfer_survives_a_restart(env):
    offboarding_on(env, transfer_after="0")
    team(env, staff_unit=False)
    leave(env)
    assert run(env, "sync") == 0
    assert env.emulator.data_transfers() == [], "scheduled, not started by the run"
    # Another process, started afresh (the worker after a reboot): only the state database knows the transfer.
    command = f"from app_google_sync import cli; raise SystemExit(cli.main(['--config', {str(env.config_path)!r}, 'leavers', '--transfer-now']))"
    done = subprocess.run([sys.executable, "-c", command], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "transfer alice@example.com: Drive and Calendar to bob@example.com: started (new)" in done.stdout
    assert len(env.emulator.data_transfers()) == 1
    assert leaver_record(env).transfer_status == "new"


def test_every_step_off_calls_none_of_their_apis_nor_asks_their_scopes(env):
    env.write_config(sections={"attributes": {"manager": "manager"}})
    assert SECURITY_SCOPE not in required_scopes(env.settings) and DATATRANSFER_SCOPE not in required_scopes(
        env.settings
    )
    team(env, staff_unit=False)
    leave(env)
    assert run(env, "sync") == 0
    assert env.emulator.get_user("alice@example.com")["suspended"]
    paths = [call["path"] for call in env.emulator.calls]
    assert not [
        path
        for path in paths
        if "/tokens" in path or "/asps" in path or path.endswith("/signOut") or "datatransfer" in path
    ]
    bodies = [call["body"] or {} for call in env.emulator.calls if call["method"] == "PATCH"]
    assert not [body for body in bodies if "includeInGlobalAddressList" in body or "orgUnitPath" in body]
    assert SyncEngine(env.settings).run_transfers(now() + LATER) == []
    assert Store(env.settings.sync.database).leavers() == []


def test_each_step_asks_its_scope_only_when_on(env):
    offboarding_on(env, revoke_tokens="no", revoke_app_passwords="no", transfer_data_to="")
    scopes = required_scopes(env.settings)
    assert SECURITY_SCOPE in scopes and DATATRANSFER_SCOPE not in scopes
    offboarding_on(env, sign_out="no", revoke_tokens="no", revoke_app_passwords="no")
    scopes = required_scopes(env.settings)
    assert SECURITY_SCOPE not in scopes and DATATRANSFER_SCOPE in scopes


def test_undo_of_the_run_reverses_what_can_be_and_lists_the_rest(env, capsys):
    offboarding_on(env)
    team(env)
    leave(env)
    code, report = report_json(env, capsys, "sync")
    assert code == 0
    _, undo = report_json(env, capsys, "undo", str(report["run_id"]))
    actions = {change["action"] for change in undo["plan"]["changes"]}
    assert actions == {"unsuspend user", "show in directory", "move back to org unit", "leaver returns"}
    impossible = {notice["message"].split(":")[0] for notice in undo["plan"]["notices"]}
    assert {"sign out", "revoke token", "revoke app password"} <= impossible
    assert run(env, "undo", str(report["run_id"]), "--apply") == 0
    alice = env.emulator.get_user("alice@example.com")
    assert not alice["suspended"] and alice["includeInGlobalAddressList"] is True and alice["orgUnitPath"] == "/Staff"
    assert leaver_record(env).transfer_status == "cancelled"


@pytest.mark.parametrize(
    ("key", "value", "fix"),
    [
        ("transfer_data_to", "the boss", "give manager, an e-mail address"),
        ("transfer_applications", "mail", "'mail' is not an application"),
        ("move_to_org_unit", "/Leavers//Old", "give a Google org unit path"),
    ],
)
def test_bad_offboarding_settings_are_one_clear_line(env, capsys, key, value, fix):
    offboarding_on(env, **{key: value})
    assert run(env, "test") != 0
    error = capsys.readouterr().err
    assert f"[offboarding] {key}" in error and fix in error and "Traceback" not in error


def test_the_scheduled_run_starts_the_transfers_that_are_due(env):
    from app_google_sync.libraries.runtime import jobs

    offboarding_on(env, transfer_after="0")
    team(env, staff_unit=False)
    leave(env)
    jobs.full_sync(str(env.config_path))
    (transfer,) = env.emulator.data_transfers()
    assert transfer["oldOwnerUserId"] == env.emulator.get_user("alice@example.com")["id"]
    looks = jobs.TransferLooks(str(env.config_path), every=600, clock=lambda: 0.0)
    looks()
    looks()  # within ten minutes: not again
    assert leaver_record(env).transfer_status == "inProgress", "read back once by the worker's tick"


def test_check_tries_each_offboarding_scope(env, capsys):
    offboarding_on(env)
    capsys.readouterr()
    assert run(env, "check") == 0
    out = capsys.readouterr().out
    assert SECURITY_SCOPE in out and DATATRANSFER_SCOPE in out
    assert "transfers allowed: Calendar, Drive and Docs" in out
