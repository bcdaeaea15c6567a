"""Apply held changes applies what the page showed: a checksum of the held set travels with the confirmation."""

from __future__ import annotations

import re

import pytest
from console_helpers import text_of

from app_google_sync import cli
from app_google_sync.libraries.core.codes import RunOutcome
from app_google_sync.libraries.core.errors import PlanChanged
from app_google_sync.libraries.state.store import Store, held_checksum
from app_google_sync.libraries.sync.engine import SyncEngine


def suspended(env) -> set[str]:
    return {user["primaryEmail"] for user in env.emulator.users() if user.get("suspended")}


@pytest.fixture
def engine(env):
    for uid in ("ada", "bob", "cyd", "dan"):
        env.directory.add_user(uid, uid.capitalize(), "Tester", groups=("google_apps_plugin",))
    env.write_config(max_suspend="0")
    assert cli.main(["--config", str(env.config_path), "sync"]) == 0
    return SyncEngine(env.settings)


def hold(env, engine, uid) -> None:
    env.directory.remove_from_group("google_apps_plugin", uid)
    engine.push_user(uid)  # max_suspend = 0: the suspension is held


def shown_checksum(console) -> str:
    return re.search(r'name="checksum" value="([0-9a-f]{16})"', console.get("/held").get_data(as_text=True)).group(1)


def test_a_held_set_changed_since_the_page_was_shown_is_not_applied(env, engine, console):
    hold(env, engine, "ada")
    seen = shown_checksum(console)
    hold(env, engine, "bob")  # a push holds another suspension while the administrator reads the page

    response = console.post("/held/apply", {"confirm": "2", "checksum": seen}, follow_redirects=True)
    assert "Not applied, nothing was written: the held changes changed since this page was shown." in text_of(response)
    assert suspended(env) == set()
    assert len(Store(env.settings.sync.database).held()) == 2

    response = console.post("/held/apply", {"confirm": "2", "checksum": shown_checksum(console)}, follow_redirects=True)
    assert "Held changes: 2 change(s) applied" in text_of(response)
    assert suspended(env) == {"ada@example.com", "bob@example.com"}


def test_a_same_size_but_different_held_set_is_not_applied_either(env, engine, console):
    hold(env, engine, "ada")
    seen = shown_checksum(console)
    env.directory.add_to_group("google_apps_plugin", "ada")
    engine.test()  # ada's reason went away: her held suspension is dropped
    hold(env, engine, "cyd")
    response = console.post("/held/apply", {"confirm": "1", "checksum": seen}, follow_redirects=True)
    assert "the held changes changed since this page was shown" in text_of(response)
    assert suspended(env) == set()


@pytest.mark.parametrize("checksum", ["", "0" * 100_000, "not-hex-at-all!!"])
def test_applying_without_the_pages_checksum_is_refused(env, engine, console, checksum):
    hold(env, engine, "ada")
    response = console.post("/held/apply", {"confirm": "1", "checksum": checksum}, follow_redirects=True)
    assert "apply from there: it applies exactly the changes it shows" in text_of(response)
    assert suspended(env) == set()


def test_the_engine_compares_under_the_lock_and_records_the_run_as_changed(env, engine):
    hold(env, engine, "ada")
    store = Store(env.settings.sync.database)
    with pytest.raises(PlanChanged, match="the held changes changed since they were shown"):
        engine.apply_held(expected_checksum="0123456789abcdef")
    assert suspended(env) == set()
    assert store.runs(limit=1)[0].outcome == RunOutcome.CHANGED
    report = engine.apply_held(expected_checksum=held_checksum(store.held()))
    assert [result.change.action for result in report.results] == ["suspend user"]


def test_the_cli_releases_held_changes_only_with_the_plan_test_printed(env, engine):
    """The command line's equivalent: the held changes are part of the full plan, so --checksum covers them."""
    hold(env, engine, "ada")
    shown = engine.test().plan.checksum
    hold(env, engine, "bob")  # held after the administrator read the test's output
    assert cli.main(["--config", str(env.config_path), "sync", "--force", "--checksum", shown]) == 1  # nothing written
    assert suspended(env) == set()
    assert (
        cli.main(["--config", str(env.config_path), "sync", "--force", "--checksum", engine.test().plan.checksum]) == 0
    )
    assert suspended(env) == {"ada@example.com", "bob@example.com"}
