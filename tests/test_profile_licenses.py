"""Licences: the Enterprise License Manager API (licensing v1, built by the real client against the emulator)."""

import json

from app_google_sync import cli
from app_google_sync.libraries.google.google_target import LICENSING_SCOPE, check_access, required_scopes
from app_google_sync.libraries.sync.engine import SyncEngine

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
    assert {"action": "assign licence", "object": "alice@example.com", "product": PRODUCT, "sku": SKU} in report[
        "plan"
    ]["changes"]
    assert run(env, "sync") == 0
    assert env.emulator.licensed(PRODUCT, SKU) == ["alice@example.com"]
    licensing = [call for call in env.emulator.calls if call["path"].startswith("/apps/licensing/v1/")]
    assert {(call["method"], call["path"]) for call in licensing} >= {
        ("GET", f"/apps/licensing/v1/product/{PRODUCT}/users"),
        ("POST", f"/apps/licensing/v1/product/{PRODUCT}/sku/{SKU}/user"),
    }
    post = next(call for call in licensing if call["method"] == "POST")
    assert post["body"] == {"userId": "alice@example.com"}, "the documented LicenseAssignmentInsert body, nothing more"
    assert run(env, "test") == 0, "a held licence is not assigned again"

    env.directory.set_locked("alice")
    _, report = report_json(env, capsys)
    assert [(c["action"], c["object"]) for c in report["plan"]["changes"]] == [
        ("suspend user", "alice@example.com"),
        ("release licence", "alice@example.com"),
    ]
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
    assert failed[0]["message"].startswith(f"{PRODUCT} {SKU} not assigned (412 ")
    assert "no licence of it left" in failed[0]["message"] and "buy more licences or free some" in failed[0]["message"]
    assert env.emulator.get_user("alice@example.com") and env.emulator.get_user("bob@example.com"), (
        "both users are synchronized"
    )
    assert len(env.emulator.licensed(PRODUCT, SKU)) == 1
    posts = [c for c in env.emulator.calls if c["method"] == "POST" and c["path"].endswith("/user")]
    assert len(posts) == 2, "a 412 is final, never retried"
    rechecks = [
        c for c in env.emulator.calls if c["method"] == "GET" and "/sku/" in c["path"] and "/user/" in c["path"]
    ]
    assert len(rechecks) == 1, "after a 412, one read tells whether the user holds the licence after all"
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
    assert licensing == [
        ("GET", f"/apps/licensing/v1/product/{PRODUCT}/sku/{SKU}/user/alice@example.com"),
        ("DELETE", f"/apps/licensing/v1/product/{PRODUCT}/sku/{SKU}/user/alice@example.com"),
    ]


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
    args = build_parser().parse_args(
        [
            "--secondary-domain",
            "example.org",
            "--secondary-domain",
            "example.net=example.org",
            "--sku",
            f"{PRODUCT}/{SKU}=3",
        ]
    )
    _seed_account(emulator, args)
    assert emulator.directory.domains == ["example.com", "example.org"]
    assert emulator.directory.domain_aliases == {"example.net": "example.org"}
    assert emulator.directory.skus[f"{PRODUCT}/{SKU}"]["seats"] == 3
    import pytest

    with pytest.raises(SystemExit, match="write PRODUCT/SKU=SEATS"):
        _seed_account(emulator, build_parser().parse_args(["--sku", "Google-Apps=3"]))


def test_a_licence_given_by_google_s_automatic_licensing_is_not_a_failure(env, capsys):
    """Google answers 412 when a user holds a licence of the product already; automatic licensing gives new accounts
    one at creation. A read of the assignment after the 412 tells that the licence is there: no failure."""
    licenses_on(env)
    env.emulator.auto_license(PRODUCT, SKU)
    env.directory.add_user("alice", "Alice", "Tester", groups=PLUGIN)
    code, report = report_json(env, capsys, "sync")
    assert code == 0, report["results"]
    assigned = [r for r in report["results"] if r["action"] == "assign licence"]
    assert [(r["ok"], r["message"]) for r in assigned] == [(True, "already held in Google")]
    assert env.emulator.licensed(PRODUCT, SKU) == ["alice@example.com"]
    assert run(env, "test") == 0


def test_a_user_holding_another_sku_of_the_product_is_reassigned_not_assigned(env, capsys):
    """One SKU per product and user (Google's licensing guide): another SKU of the product is moved with
    licenseAssignments.patch (the path names the SKU held, the body the new one), never inserted beside it. Users this
    run creates, given another SKU by Google's automatic licensing, are reassigned within the same run."""
    licenses_on(env)
    env.emulator.add_sku(PRODUCT, "1010020028", 5, name="Google Workspace Business Standard")
    env.emulator.auto_license(PRODUCT, "1010020028")
    env.directory.add_user("alice", "Alice", "Tester", groups=PLUGIN)
    env.directory.add_user("bob", "Bob", "Tester", groups=PLUGIN)
    code, report = report_json(env, capsys, "sync")
    assert code == 0 and report["outcome"] == "applied", [r for r in report["results"] if not r["ok"]]
    assigned = [(r["object"], r["ok"], r["message"]) for r in report["results"] if r["action"] == "assign licence"]
    assert assigned == [
        (
            f"{uid}@example.com",
            True,
            f"reassigned from {PRODUCT} 1010020028 (Google's automatic licensing had given it)",
        )
        for uid in ("alice", "bob")
    ]
    patch = [c for c in env.emulator.calls if c["method"] == "PATCH" and "/apps/licensing/" in c["path"]]
    assert sorted((c["path"], json.dumps(c["body"])) for c in patch) == [
        (f"/apps/licensing/v1/product/{PRODUCT}/sku/1010020028/user/{uid}@example.com", json.dumps({"skuId": SKU}))
        for uid in ("alice", "bob")
    ]
    listings = [
        c
        for c in env.emulator.calls
        if c["method"] == "GET" and c["path"] == f"/apps/licensing/v1/product/{PRODUCT}/users"
    ]
    assert len(listings) == 2, "the plan's read, then one read for every refused licence of the run"
    assert env.emulator.licensed(PRODUCT, SKU) == ["alice@example.com", "bob@example.com"]
    assert env.emulator.licensed(PRODUCT, "1010020028") == []
    assert run(env, "test") == 0

    target = SyncEngine(env.settings).target  # someone moves alice back in Google: the plan shows a reassignment
    target.call(
        target.licenses.patch(productId=PRODUCT, skuId=SKU, userId="alice@example.com", body={"skuId": "1010020028"})
    )
    _, report = report_json(env, capsys)
    assert report["plan"]["changes"] == [
        {
            "action": "reassign licence",
            "object": "alice@example.com",
            "product": PRODUCT,
            "sku": SKU,
            "held_sku": "1010020028",
        }
    ]


def test_the_emulator_answers_licences_as_google_documents(env):
    """412 for a licence of the product already held (this SKU or another), 404 for one not held, 400 for an unknown SKU."""
    import pytest

    from app_google_sync.emulator import api_licensing, errors
    from app_google_sync.emulator.routing import Request

    env.emulator.add_sku(PRODUCT, SKU, 5)
    env.emulator.add_sku(PRODUCT, "other", 5)
    env.emulator.add_user("alice@example.com", "Alice", "Tester")
    directory = env.emulator.directory

    def call(handler, sku, body=None, user="alice@example.com"):
        return handler(Request(directory, "X", {"productId": PRODUCT, "skuId": sku, "userId": user}, {}, body))

    assert call(api_licensing.insert_assignment, SKU, {"userId": "alice@example.com"})[0] == 200
    for sku in (SKU, "other"):
        with pytest.raises(errors.ApiError) as raised:
            call(api_licensing.insert_assignment, sku, {"userId": "alice@example.com"})
        assert (raised.value.code, raised.value.reason) == (412, "conditionNotMet")
    with pytest.raises(errors.ApiError) as raised:
        call(api_licensing.get_assignment, "other")
    assert raised.value.code == 404
    with pytest.raises(errors.ApiError) as raised:
        call(api_licensing.get_assignment, "no-such-sku")
    assert raised.value.code == 400
    status, moved = call(api_licensing.patch_assignment, SKU, {"skuId": "other"})
    assert status == 200 and moved["skuId"] == "other" and moved["userId"] == "alice@example.com"
