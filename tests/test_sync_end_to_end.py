"""The whole product path: real slapd → google-sync → real google-api-python-client → emulator over HTTP."""

import json

import pytest

from app_google_sync import cli
from app_google_sync.libraries.state.store import Store, links_table
from app_google_sync.libraries.sync.engine import SyncEngine
from app_google_sync.libraries.sync.executor import Executor

PASSWORD = "Secret-Pass-1"


def run_cli(env, capsys, *args):
    code = cli.main(["--config", str(env.config_path), *args])
    captured = capsys.readouterr()
    return code, " ".join((captured.out + captured.err).split())  # spacing of the columns is not the contract


def writes(emulator):
    return [call for call in emulator.calls if call["method"] != "GET"]


def google_user(env, email):
    return env.emulator.get_user(email)


def add_people(directory, *uids, groups=("google_apps_plugin",)):
    for uid in uids:
        directory.add_user(uid, uid.capitalize(), "Tester", password=PASSWORD, groups=groups)


def test_first_sync_creates_users_groups_and_members(env, capsys):
    directory = env.directory
    add_people(directory, "alice", "bob")
    directory.add_user("zoe", "Zoë", "Çelik-Ångström", password=PASSWORD, groups=("google_apps_plugin",))
    directory.add_user("mallory", "Mallory", "Outsider", password=PASSWORD)  # no Google Apps switch
    directory.add_group("sales", members=("alice", "zoe", "mallory"), description="Sales team")

    code, out = run_cli(env, capsys, "test")
    assert code == 2, out
    assert "create user alice@example.com" in out and "create group sales@example.com" in out
    assert not writes(env.emulator), "a test synchronization must not write to Google"

    code, out = run_cli(env, capsys, "sync")
    assert code == 0, out
    assert {u["primaryEmail"] for u in env.emulator.users()} == {
        "admin@example.com",
        "alice@example.com",
        "bob@example.com",
        "zoe@example.com",
    }
    zoe = google_user(env, "zoe@example.com")
    assert (zoe["name"]["givenName"], zoe["name"]["familyName"]) == ("Zoë", "Çelik-Ångström")
    assert env.emulator.check_password("alice@example.com", PASSWORD)
    assert sorted(env.emulator.members("sales@example.com")) == ["alice@example.com", "zoe@example.com"]
    group = next(g for g in env.emulator.groups() if g["email"] == "sales@example.com")
    assert group["description"] == "Sales team"


def test_resync_in_step_makes_no_write_call(env, capsys):
    add_people(env.directory, "alice", "bob")
    env.directory.add_group("sales", members=("alice", "bob"))
    assert run_cli(env, capsys, "sync")[0] == 0
    env.emulator.reset_calls()
    code, out = run_cli(env, capsys, "sync")
    assert code == 0 and "nothing to change" in out
    assert writes(env.emulator) == []
    assert run_cli(env, capsys, "test")[0] == 0


def test_reads_use_the_largest_pages_and_trimmed_fields(env, capsys):
    add_people(env.directory, "alice")
    env.emulator.reset_calls()
    run_cli(env, capsys, "test")
    lists = [
        call for call in env.emulator.calls if call["method"] == "GET" and call["path"].endswith(("/users", "/groups"))
    ]
    assert lists and all("fields" in call["query"] for call in lists)
    assert {call["query"]["maxResults"] for call in lists} == {"500", "200"}


def test_rename_updates_the_same_account(env, capsys):
    add_people(env.directory, "alice")
    run_cli(env, capsys, "sync")
    original_id = google_user(env, "alice@example.com")["id"]
    env.directory.rename_user("alice", "alice.smith")
    env.directory.modify_user("alice.smith", mail="alice.smith@example.com")
    code, out = run_cli(env, capsys, "sync")
    assert code == 0, out
    renamed = google_user(env, "alice.smith@example.com")
    assert renamed["id"] == original_id and not renamed.get("suspended")
    assert len([u for u in env.emulator.users() if u["id"] == original_id]) == 1


@pytest.mark.parametrize("how", ["removed", "switch off", "locked"])
def test_users_who_leave_are_suspended_never_deleted(env, capsys, how):
    add_people(env.directory, "alice", "bob", "carol", "dave")
    run_cli(env, capsys, "sync")
    if how == "removed":
        env.directory.delete_user("bob")
    elif how == "switch off":
        env.directory.remove_from_group("google_apps_plugin", "bob")
    else:
        env.directory.set_locked("bob")
    code, out = run_cli(env, capsys, "test")
    assert code == 2 and "suspend user bob@example.com" in out
    assert run_cli(env, capsys, "sync")[0] == 0
    assert google_user(env, "bob@example.com")["suspended"] is True
    assert not any(call["method"] == "DELETE" and "/users/" in call["path"] for call in env.emulator.calls)
    assert all(not google_user(env, f"{uid}@example.com").get("suspended") for uid in ("alice", "carol", "dave"))


def test_switch_restored_unsuspends(env, capsys):
    add_people(env.directory, "alice", "bob", "carol", "dave")
    run_cli(env, capsys, "sync")
    env.directory.remove_from_group("google_apps_plugin", "bob")
    run_cli(env, capsys, "sync")
    env.directory.add_to_group("google_apps_plugin", "bob")
    code, out = run_cli(env, capsys, "test")
    assert "unsuspend user bob@example.com" in out
    assert run_cli(env, capsys, "sync")[0] == 0
    assert google_user(env, "bob@example.com")["suspended"] is False


def test_admin_without_local_account_is_protected_with_a_clear_warning(env, capsys):
    add_people(env.directory, "alice")
    env.write_config(unmanaged_accounts="suspend")
    code, out = run_cli(env, capsys, "test")
    assert "The Google Apps administrator account admin@example.com cannot be suspended" in out
    assert "create the local user 'admin'" in out
    run_cli(env, capsys, "sync")
    assert google_user(env, "admin@example.com").get("suspended") is False


def test_existing_and_suspended_existing_accounts_are_adopted(env, capsys):
    env.emulator.add_user("alice@example.com", "Old", "Name", password="Whatever-123")
    env.emulator.add_user("bob@example.com", "Bob", "Tester", password="Whatever-123", suspended=True)
    ids = {email: google_user(env, email)["id"] for email in ("alice@example.com", "bob@example.com")}
    add_people(env.directory, "alice", "bob")
    code, out = run_cli(env, capsys, "test")
    assert "adopt user alice@example.com" in out and "unsuspend" in out
    assert run_cli(env, capsys, "sync")[0] == 0
    alice, bob = google_user(env, "alice@example.com"), google_user(env, "bob@example.com")
    assert (alice["id"], bob["id"]) == (ids["alice@example.com"], ids["bob@example.com"])
    assert alice["name"]["givenName"] == "Alice" and bob["suspended"] is False
    assert len(env.emulator.users()) == 3


def test_account_created_between_plan_and_apply_is_adopted_on_409(env):
    add_people(env.directory, "alice")
    engine = SyncEngine(env.settings)
    plan = engine.compute_plan()
    env.emulator.add_user("alice@example.com", "Alice", "Tester", password="Whatever-123", suspended=True)
    (result,) = Executor(engine.target).apply(plan)
    assert result.ok and "adopted and unsuspended" in result.message
    assert google_user(env, "alice@example.com")["suspended"] is False


def test_rerun_after_a_crash_converges_without_duplicates(env, capsys):
    add_people(env.directory, "alice", "bob")
    env.directory.add_group("sales", members=("alice",))
    run_cli(env, capsys, "sync")
    store = Store(env.settings.sync.database)
    with store.engine.begin() as connection:  # as if the process died before recording what it created
        connection.execute(links_table.delete())
    code, out = run_cli(env, capsys, "sync")
    assert code == 0, out
    assert len(env.emulator.users()) == 3 and len(env.emulator.groups()) == 1
    env.emulator.reset_calls()
    assert run_cli(env, capsys, "sync")[0] == 0 and writes(env.emulator) == []


def test_group_membership_follows_the_directory(env, capsys):
    add_people(env.directory, "alice", "bob", "carol")
    env.directory.add_group("sales", members=("alice", "bob"))
    run_cli(env, capsys, "sync")
    env.emulator.add_member("sales@example.com", "partner@other.org")  # external, added in Google by hand
    env.directory.remove_from_group("sales", "bob")
    env.directory.add_to_group("sales", "carol")
    code, out = run_cli(env, capsys, "test")
    assert "add member sales@example.com ← carol@example.com" in out
    assert "remove member sales@example.com ← bob@example.com" in out
    run_cli(env, capsys, "sync")
    assert sorted(env.emulator.members("sales@example.com")) == [
        "alice@example.com",
        "carol@example.com",
        "partner@other.org",
    ]


def test_safety_limit_refuses_and_force_overrides(env, capsys):
    add_people(env.directory, "alice", "bob", "carol", "dave")
    run_cli(env, capsys, "sync")
    env.write_config(max_suspend="1")
    for uid in ("bob", "carol"):
        env.directory.delete_user(uid)
    code, out = run_cli(env, capsys, "test")
    assert code == 3 and "would suspend 2 of 5 active Google accounts" in out
    env.emulator.reset_calls()
    code, out = run_cli(env, capsys, "sync")
    assert code == 3 and "nothing was written" in out and writes(env.emulator) == []
    code, out = run_cli(env, capsys, "sync", "--force")
    assert code == 0, out
    assert google_user(env, "bob@example.com")["suspended"] and google_user(env, "carol@example.com")["suspended"]


def test_empty_directory_is_refused(env, capsys):
    add_people(env.directory, "alice", "bob")
    run_cli(env, capsys, "sync")
    env.write_config(max_suspend="100%")
    for uid in ("alice", "bob"):
        env.directory.remove_from_group("google_apps_plugin", uid)
    code, out = run_cli(env, capsys, "sync")
    assert code == 3 and "returned no user to synchronize" in out
    assert not google_user(env, "alice@example.com")["suspended"]


def test_ldap_down_suspends_nothing(env, capsys):
    add_people(env.directory, "alice", "bob")
    run_cli(env, capsys, "sync")
    env.directory.stop_server()
    try:
        env.emulator.reset_calls()
        code, out = run_cli(env, capsys, "sync", "--force")
        assert code == 1 and "cannot reach" in out.lower()
        assert writes(env.emulator) == []
        assert run_cli(env, capsys, "test")[0] == 1
    finally:
        env.directory.restart_server()
    assert not google_user(env, "alice@example.com")["suspended"]


def test_missing_enabled_group_stops_the_run(env, capsys):
    add_people(env.directory, "alice")
    run_cli(env, capsys, "sync")
    env.directory.delete_group("google_apps_plugin")
    code, out = run_cli(env, capsys, "sync", "--force")
    assert code == 1 and "google_apps_plugin" in out
    assert not google_user(env, "alice@example.com")["suspended"]


def test_bad_input_is_reported_and_the_rest_goes_on(env, capsys):
    directory = env.directory
    add_people(directory, "good")
    # A plain posixAccount (no inetOrgPerson) has neither givenName nor sn.
    plain_account = {
        "objectClass": ["top", "account", "posixAccount", "shadowAccount", "clearAccount"],
        "givenName": None,
        "sn": None,
    }
    directory.add_user(
        "nonames", "No", "Names", password=PASSWORD, groups=("google_apps_plugin",), extra_attrs=plain_account
    )
    directory.add_user("longname", "L" * 61, "Tester", password=PASSWORD, groups=("google_apps_plugin",))
    directory.add_user("bad.", "Bad", "Address", password=PASSWORD, groups=("google_apps_plugin",))
    directory.add_user(
        "outsider", "Out", "Sider", password=PASSWORD, mail="outsider@elsewhere.org", groups=("google_apps_plugin",)
    )
    directory.add_user(
        "twin1", "Twin", "One", password=PASSWORD, mail="twins@example.com", groups=("google_apps_plugin",)
    )
    directory.add_user(
        "twin2", "Twin", "Two", password=PASSWORD, mail="twins@example.com", groups=("google_apps_plugin",)
    )
    code, out = run_cli(env, capsys, "test")
    assert code == 2
    for uid, reason in (
        ("nonames", "has no given name (givenName)"),
        ("longname", "at most 60"),
        ("bad.", "not a valid Google username"),
        ("outsider", "outside the Google domain example.com"),
        ("twin1", "shared by twin1, twin2"),
    ):
        assert f"WARNING: {uid}: skipped: " in out and reason in out, (uid, out)
    assert run_cli(env, capsys, "sync")[0] == 0
    assert {u["primaryEmail"] for u in env.emulator.users()} == {"admin@example.com", "good@example.com"}


def test_more_users_than_the_server_size_limit(big_env, capsys):
    for number in range(120):
        big_env.directory.add_user(f"user{number:03}", "User", f"Number {number}", groups=("google_apps_plugin",))
    code, out = run_cli(big_env, capsys, "sync")
    assert code == 0, out
    assert len(big_env.emulator.users()) == 121


def test_quota_exhaustion_is_survived(env, capsys):
    for number in range(30):
        env.directory.add_user(
            f"user{number:02}", "User", f"Number {number}", password=PASSWORD, groups=("google_apps_plugin",)
        )
    env.emulator.quota_per_window, env.emulator.quota_window = 12, 1.0
    code, out = run_cli(env, capsys, "sync")
    assert code == 0, out
    assert len(env.emulator.users()) == 31
    assert any(call["status"] == 403 for call in env.emulator.calls), "the quota should have been hit"


def test_server_errors_are_retried(env, capsys):
    add_people(env.directory, "alice", "bob")
    env.emulator.fail_next(3, status=503, reason="backendError")
    code, out = run_cli(env, capsys, "sync")
    assert code == 0, out
    assert {u["primaryEmail"] for u in env.emulator.users()} >= {"alice@example.com", "bob@example.com"}


def test_json_output_and_status(env, capsys):
    add_people(env.directory, "alice")
    code, out = run_cli(env, capsys, "test", "--json")
    plan = json.loads(out)
    assert code == 2 and plan["plan"]["counts"] == {"create user": 1}
    run_cli(env, capsys, "sync")
    code, out = run_cli(env, capsys, "status")
    assert code == 0 and "sync (cli)" in out and "test (cli)" in out
    assert PASSWORD not in out
    code = cli.main(["--config", str(env.config_path), "status", "--run", "2", "--json"])
    assert code == 0 and json.loads(capsys.readouterr().out) == [
        {"action": "create user", "object": "alice@example.com", "ok": True, "message": ""}
    ]


def test_checksum_guards_what_was_previewed(env, capsys):
    add_people(env.directory, "alice")
    checksum = json.loads(run_cli(env, capsys, "test", "--json")[1])["plan"]["checksum"]
    add_people(env.directory, "bob")
    code, out = run_cli(env, capsys, "sync", "--checksum", checksum)
    assert code == 1 and "changed since it was previewed" in out
    assert len(env.emulator.users()) == 1


def test_progress_is_reported_batch_by_batch(env):
    for number in range(12):
        env.directory.add_user(f"user{number:02}", "User", f"Number {number}", groups=("google_apps_plugin",))
    env.write_config(batch_size="5")
    seen = []
    report = SyncEngine(env.settings).sync(progress=lambda done, total: seen.append((done, total)))
    assert report.outcome == "applied"
    assert seen[0] == (5, 12) and seen[-1] == (12, 12)
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)


def test_an_endpoint_without_batch_route_still_gets_every_change(env, capsys, monkeypatch):
    from app_google_sync.emulator import server

    monkeypatch.setattr(server, "BATCH_PATHS", {})  # an endpoint that answers 404 to the batch route
    add_people(env.directory, "alice", "bob")
    env.directory.add_group("sales", members=("alice", "bob"))
    code, out = run_cli(env, capsys, "sync")
    assert code == 0, out
    assert sorted(env.emulator.members("sales@example.com")) == ["alice@example.com", "bob@example.com"]
    assert not any(call.get("batch") for call in env.emulator.calls)
