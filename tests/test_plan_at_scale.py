"""Plans and results at a real size, without a browser: the command line's CSV and summary, the kept plan, the CSV
cells, the last result per object and the run's results paged failures first (real slapd, emulator, SQLite)."""

from __future__ import annotations

import csv
import io

from app_google_sync import cli
from app_google_sync.libraries.reports import kept_plans, run_results
from app_google_sync.libraries.reports.listing import Filters, csv_lines, group_notices
from app_google_sync.libraries.reports.overview import last_results
from app_google_sync.libraries.state.store import Store


def seed(directory, users=6):
    for number in range(users):
        directory.add_user(
            f"u{number}",
            "User",
            f"Number {number}",
            groups=("google_apps_plugin",),
            locked=number == 5,
            mail="u0@example.com" if number == 4 else None,
        )
    directory.add_group("team", members=tuple(f"u{number}" for number in range(users)))


def test_the_cli_prints_every_row_then_the_summary(env, capsys):
    seed(env.directory)
    assert cli.main(["--config", str(env.config_path), "test"]) == 2
    lines = capsys.readouterr().out.splitlines()
    assert any(line.split()[:2] == ["create", "user"] and line.split()[2] == "u1@example.com" for line in lines)
    summary = lines.index(next(line for line in lines if line.startswith("Summary of plan ")))
    tail = [" ".join(line.split()) for line in lines[summary:]]
    assert tail[0].endswith(" changes.") and "3 create user" in tail and "1 create group" in tail
    assert "2 warning address_shared: Users skipped: an address shared by several users" in tail
    assert "1 warning user_locked: Users locked in the directory: not created" in tail


def test_the_cli_summary_prints_no_row_but_examples_of_each_warning(env, capsys):
    seed(env.directory)
    assert cli.main(["--config", str(env.config_path), "test", "--summary"]) == 2
    out = capsys.readouterr().out
    assert out.startswith("Summary of plan ")
    assert "u1@example.com" not in out  # no change row
    assert "e.g. u5: not created in Google" in out  # an example of the locked user's warning


def test_the_cli_csv_has_a_line_per_change(env, capsys):
    seed(env.directory)
    assert cli.main(["--config", str(env.config_path), "test", "--format", "csv"]) == 2
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert sorted((row["action"], row["object"]) for row in rows if row["action"] == "create user") == [
        ("create user", f"u{n}@example.com") for n in (1, 2, 3)
    ]
    assert {row["action"] for row in rows} == {"create user", "create group", "add member"}


def test_a_kept_plan_reads_back_the_same_and_filters(env):
    seed(env.directory)
    from app_google_sync.libraries.sync.engine import SyncEngine

    engine = SyncEngine(env.settings)
    plan = engine.test().plan
    state_dir = env.settings.sync.state_dir
    kept_plans.save(state_dir, plan)
    kept = kept_plans.load(state_dir, plan.checksum)
    assert kept.checksum == plan.checksum and kept.counts == plan.counts() and len(kept.changes) == len(plan.changes)
    assert [row["object"] for row in kept_plans.changes_matching(kept, Filters(action="add member"))] == [
        f"team@example.com ← u{n}@example.com" for n in (1, 2, 3)
    ]
    assert [row["object"] for row in kept_plans.changes_matching(kept, Filters(q="U2"))] == [
        "u2@example.com",
        "team@example.com ← u2@example.com",
    ]
    assert kept_plans.load(state_dir, "0" * 16) is None and kept_plans.load(state_dir, "../../etc/passwd") is None
    groups = group_notices(kept.notices, level="warning")
    assert (groups[0].code, groups[0].count) == ("address_shared", 2)  # the largest group first
    assert {"user_locked", "locked"} <= {group.code for group in groups}


def test_csv_cells_that_look_like_formulas_stay_text():
    text = "".join(
        csv_lines(["object", "ok"], [{"object": "=HYPERLINK(1)", "ok": True}, {"object": "a,b", "ok": False}])
    )
    assert list(csv.reader(io.StringIO(text))) == [["object", "ok"], ["'=HYPERLINK(1)", "yes"], ["a,b", "no"]]


def test_results_page_failures_first_and_last_result_per_object(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'state.db'}")
    first = store.start_run("cli", dry_run=False)
    store.record_batch(
        first, [{"action": "create user", "object": f"u{n}@example.com", "ok": True} for n in range(5)], [], []
    )
    store.finish_run(first, "applied")
    second = store.start_run("cli", dry_run=False)
    results = [
        {"action": "update user", "object": f"u{n}@example.com", "ok": n != 3, "message": "" if n != 3 else "refused"}
        for n in range(5)
    ]
    store.record_batch(second, results, [], [])
    store.finish_run(second, "partial")
    page = run_results.page(store, second, Filters(), per_page=2)
    assert page.total == 5 and [row["object"] for row in page.rows] == ["u3@example.com", "u0@example.com"]
    assert run_results.page(store, second, Filters(outcome="failed")).total == 1
    assert run_results.page(store, second, Filters(q="U4")).rows[0]["object"] == "u4@example.com"
    counted = run_results.counts(store, second)
    assert (counted.ok, counted.failed, counted.by_action) == (4, 1, {"update user": {"ok": 4, "failed": 1}})
    latest = last_results(store)
    assert set(latest) == {f"u{n}@example.com" for n in range(5)}
    assert latest["u3@example.com"].action == "update user" and not latest["u3@example.com"].ok
    assert [row["object"] for row in run_results.stream(store, second, Filters())][:1] == ["u3@example.com"]
    store.close()
