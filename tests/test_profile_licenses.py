"""Licences: the Enterprise License Manager API (licensing v1, built by the real client against the emulator)."""
import json

from app_google_sync import cli
from app_google_sync.libraries.engine import SyncEngine
from app_google_sync.libraries.google_target import LICENSING_SCOPE, check_access, required_scopes

PLUGIN = ("google_apps_plugin",)
PRODUCT, SKU = "Google-Apps", "1010020027"


def run(env, *args):
    return cli.main(["--config", str(env.config_path), *args])


def report_json(env, capsys, command="test"):
    capsys.readouterr()
    code = run(env, command, "--json")
    return code, json.loads(capsys.readouterr().out)


def licenses_on(env, seats=10, release="no"):
    env.emulator.add_sku(PRODUCT, SKU, seats, name="Google Workspace Business Starter")
    env.write_config(sections={"licenses": {"product": PRODUCT, "sku": SKU, "release_on_suspend": release}})


def test_a_licence_is_assigned_on_create_released_on_suspend_and_assigned_again_on_unsuspend(env, capsys):
    licenses_on(env, release="yes")
    env.directory.add_user("alice", "Alice", "Tester", groups=PLUGIN)
    _, report = report_json(env, capsys)
    assert {"action": "assign licence", "object": "alice@example.com", "product": PRODUCT, "sku": SKU} in report["plan"]["changes"]
    assert run(env, "sync") == 0
    assert env.emulator.licensed(PRODUCT, SKU) == ["alice@example.com"]
    licensing = [call for call in env.emulator.calls if call["path"].startswith("/apps/licensing/v1/")]
    assert {(call["method"], call["path"]) for call in licensing} >= {
        ("GET", f"/apps/licensing/v1/product/{PRODUCT}/sku/{SKU}/users"), ("POST", f"/apps/licensing/v1/product/{PRODUCT}/sku/{SKU}/user")}
    assert run(env, "test") == 0, "a held licence is not assigned again"

    env.directory.set_locked("alice")
    _, report = report_json(env, capsys)
    assert [(c["action"], c["object"]) for c in report["plan"]["changes"]] == [
        ("suspend user", "alice@example.com"), ("release licence", "alice@example.com")]
    assert run(env, "sync") == 0
    assert env.emulator.licensed(PRODUCT, SKU) == []

    env.directory.set_locked("alice", False)
    assert run(env, "sync") == 0
    assert env.emulator.licensed(PRODUCT, SKU) == ["alice@example.com"]
    assert not env.emulator.get_user("alice@example.com")["suspended"]


def test_no_licence_left_is_a_clear_failure_of_that_user_only(env, capsys):
    licenses_on(env, seats=1)
    env.directory.add_user("alice", "Alice", "Tester", groups=PLUGIN)
    env.directory.add_user("bob", "Bob", "Tester", groups=PLUGIN)
    code, report = report_json(env, capsys, "sync")
    assert code == 1 and report["outcome"] == "partial"
    failed = [r for r in report["results"] if not r["ok"]]
    assert len(failed) == 1 and failed[0]["action"] == "assign licence"
    assert failed[0]["message"].startswith(f"no {PRODUCT} {SKU} licence left (412 ")
    assert "buy more licences or free some" in failed[0]["message"]
    assert env.emulator.get_user("alice@example.com") and env.emulator.get_user("bob@example.com"), "both users are synchronized"
    assert len(env.emulator.licensed(PRODUCT, SKU)) == 1
    posts = [c for c in env.emulator.calls if c["method"] == "POST" and c["path"].endswith("/user")]
    assert len(posts) == 2, "a 412 is final, never retried"
    _, report = report_json(env, capsys)
    assert [c["action"] for c in report["plan"]["changes"]] == ["assign licence"], "the next run tries again"


def test_a_targeted_push_asks_for_one_user_s_licence_only(env):
    licenses_on(env, release="yes")
    env.directory.add_user("alice", "Alice", "Tester", groups=PLUGIN)
    assert run(env, "sync") == 0
    env.emulator.reset_calls()
    env.directory.set_locked("alice")
    report = SyncEngine(env.settings).push_user("alice")
    assert [(r.change.action, r.ok) for r in report.results] == [("suspend user", True), ("release licence", True)]
    licensing = [(c["method"], c["path"]) for c in env.emulator.calls if c["path"].startswith("/apps/licensing/")]
    assert licensing == [("GET", f"/apps/licensing/v1/product/{PRODUCT}/sku/{SKU}/user/alice@example.com"),
                         ("DELETE", f"/apps/licensing/v1/product/{PRODUCT}/sku/{SKU}/user/alice@example.com")]


def test_the_scope_is_needed_only_when_on_and_check_reads_the_sku(env):
    assert LICENSING_SCOPE not in required_scopes(env.settings)
    licenses_on(env)
    assert LICENSING_SCOPE in required_scopes(env.settings)
    checks = {check.name: check for check in check_access(env.settings)}
    assert checks[LICENSING_SCOPE].ok and checks[LICENSING_SCOPE].detail == f"0 users hold {PRODUCT} {SKU}"


def test_switched_off_licences_are_never_touched(env):
    env.emulator.add_sku(PRODUCT, SKU, 5)
    env.directory.add_user("alice", "Alice", "Tester", groups=PLUGIN)
    assert run(env, "sync") == 0
    env.directory.set_locked("alice")
    assert run(env, "sync") == 0
    assert env.emulator.licensed(PRODUCT, SKU) == []
    assert not [c for c in env.emulator.calls if c["path"].startswith("/apps/licensing/")]


def test_the_emulator_command_line_seeds_domains_and_skus():
    from app_google_sync.emulator.cli import _seed_account, build_parser
    from app_google_sync.emulator.server import Emulator

    emulator = Emulator()
    args = build_parser().parse_args(["--secondary-domain", "example.org", "--secondary-domain", "example.net=example.org",
                                      "--sku", f"{PRODUCT}/{SKU}=3"])
    _seed_account(emulator, args)
    assert emulator.directory.domains == ["example.com", "example.org"]
    assert emulator.directory.domain_aliases == {"example.net": "example.org"}
    assert emulator.directory.skus[f"{PRODUCT}/{SKU}"]["seats"] == 3
    import pytest

    with pytest.raises(SystemExit, match="write PRODUCT/SKU=SEATS"):
        _seed_account(emulator, build_parser().parse_args(["--sku", "Google-Apps=3"]))
