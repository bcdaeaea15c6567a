"""Upgrading: a 0.1.0 state database keeps everything it knew, `google-sync db` shows and upgrades the schema,
and a database written by a newer release is refused."""

from __future__ import annotations

import json
import sqlite3
import sys

from alembic import command
from sqlalchemy import create_engine, text
from state_0_1_0 import FIXTURE, SECRETS, fill, placeholders, populate

from app_google_sync import cli
from app_google_sync.libraries.state import migrate
from app_google_sync.libraries.state.store import Store
from app_google_sync.libraries.sync.engine import SyncEngine


def run_cli(env, *args) -> int:
    return cli.main(["--config", str(env.config_path), *args])


def writes(env) -> int:
    return sum(call["method"] != "GET" for call in env.emulator.calls)


def google_world(env, tmp_path) -> dict[str, str]:
    """Google as 0.1.0 left it: the fixture's directory synchronized once, with the fixture's secrets.

    The placeholders of the fixture's entryUUIDs and Google ids, filled from that world.
    """
    populate(env.directory)
    fixture_secrets = dict(line.split("','")[0:2] for line in _value_rows())
    scratch = Store(f"sqlite:///{tmp_path / 'scratch' / 'state.db'}")
    for name in SECRETS:
        scratch.set_value(name, fixture_secrets[name])
    engine = SyncEngine(env.settings, store=scratch)
    assert engine.sync().outcome == "applied"
    return placeholders(engine)


def _value_rows() -> list[str]:
    prefix = """INSERT INTO "values" VALUES('"""
    return [
        line.removeprefix(prefix).removesuffix("');")
        for line in FIXTURE.read_text().splitlines()
        if line.startswith(prefix)
    ]


def test_a_0_1_0_database_is_upgraded_with_its_links_runs_results_and_secrets_and_the_next_sync_changes_nothing(
    env, tmp_path, capsys
):
    values = google_world(env, tmp_path)
    database = env.settings.sync.database.removeprefix("sqlite:///")
    sqlite3.connect(database).executescript(fill(FIXTURE.read_text(), values))
    before = {
        table: sqlite3.connect(database).execute(f'SELECT * FROM "{table}" ORDER BY 1, 2').fetchall()
        for table in ("links", "runs", "results", "values")
    }
    capsys.readouterr()

    assert run_cli(env, "db", "current") == 2
    assert "Schema 0001" in capsys.readouterr().out
    assert run_cli(env, "db", "upgrade") == 0
    out = capsys.readouterr().out
    assert f"Schema 0001 → {migrate.head()}: upgraded; the file before the upgrade is {database}.bak-0001" in out
    assert run_cli(env, "db", "current") == 0 and "up to date" in capsys.readouterr().out

    backup = sqlite3.connect(f"{database}.bak-0001")
    assert backup.execute("SELECT count(*) FROM links").fetchone() == (5,)
    assert (
        backup.execute("SELECT name FROM sqlite_master WHERE name = 'alembic_version'").fetchall() == []
    )  # as 0.1.0 left it

    upgraded = sqlite3.connect(database)
    assert upgraded.execute("SELECT version_num FROM alembic_version").fetchall() == [(migrate.head(),)]
    assert [row[:9] for row in upgraded.execute("SELECT * FROM links ORDER BY 1, 2").fetchall()] == before["links"]
    assert [row[:9] for row in upgraded.execute("SELECT * FROM runs ORDER BY 1").fetchall()] == before["runs"]
    assert [row[:6] for row in upgraded.execute("SELECT * FROM results ORDER BY 1").fetchall()] == before["results"]
    assert upgraded.execute('SELECT * FROM "values" ORDER BY 1').fetchall() == before["values"]

    store = Store(env.settings.sync.database)
    assert [(run.id, run.outcome, run.counts) for run in store.runs()] == [
        (2, "applied", {"ok": 9, "failed": 0}),
        (1, "pending", json.loads(before["runs"][0][7])),
    ]
    assert len(store.results(2)) == 9 and all(result["ok"] for result in store.results(2))
    # The secrets are intact: with another fingerprint key every password would be pushed again.
    calls = writes(env)
    assert run_cli(env, "sync") == 0
    assert "already in step" in capsys.readouterr().out
    assert writes(env) == calls
    assert store.runs(limit=1)[0].outcome == "in_sync"


def test_a_database_written_by_a_newer_release_is_refused_and_left_alone(env, capsys):
    store = Store(env.settings.sync.database)
    with store.engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    store.close()
    for args in (("db", "current"), ("db", "upgrade"), ("status",)):
        assert run_cli(env, *args) == 1
        error = capsys.readouterr().err
        assert (
            error.count("\n") == 1
            and "written by a newer app-google-sync (schema 0099" in error
            and "upgrade app-google-sync" in error
        )
        assert "configuration error" not in error  # nothing is wrong in the configuration file
    database = env.settings.sync.database.removeprefix("sqlite:///")
    assert sqlite3.connect(database).execute("SELECT version_num FROM alembic_version").fetchall() == [("0099",)]


def test_db_commands_before_any_database_and_on_an_unreachable_server(env, tmp_path, capsys):
    assert run_cli(env, "db", "current") == 2
    assert "No state database yet" in capsys.readouterr().out
    assert run_cli(env, "db", "upgrade") == 0
    assert f"Schema none → {migrate.head()}: upgraded." in capsys.readouterr().out
    assert run_cli(env, "db", "upgrade") == 0 and "already up to date" in capsys.readouterr().out
    env.write_config(database_url="postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert run_cli(env, "db", "current") == 1
    error = capsys.readouterr().err
    assert (
        error.startswith("google-sync: cannot use the state database:")
        and error.count("\n") == 1
        and "database_url" in error
    )


def test_migrations_run_on_postgresql_from_a_0_1_0_schema(postgres_url):
    engine = create_engine(postgres_url)
    with engine.begin() as connection:
        command.upgrade(migrate._config(connection), migrate.FIRST_REVISION)
        connection.execute(text("DROP TABLE alembic_version"))  # as 0.1.0 left it
        connection.execute(
            text("INSERT INTO links VALUES ('user', 'u1', 'g1', 'ann@example.com', false, true, 'f1', '', now())")
        )
        run_id = connection.execute(
            text(
                "INSERT INTO runs (trigger, dry_run, started_at, finished_at, outcome, plan_checksum, counts, message) "
                "VALUES ('cli', false, now(), now(), 'applied', 'abc', '{}', '') RETURNING id"
            )
        ).scalar()
        connection.execute(
            text(
                "INSERT INTO results (run_id, action, object, ok, message) VALUES (:run, 'create user', 'ann@example.com', true, '')"
            ),
            {"run": run_id},
        )
    engine.dispose()
    store = Store(postgres_url)
    assert migrate.current(store.engine) == migrate.head()
    (link,) = store.links().links
    assert (link.uuid, link.google_id, link.password_fingerprint, link.created_by_us) == ("u1", "g1", "f1", True)
    assert store.run(run_id).outcome == "applied" and store.results(run_id)[0]["data"] == {}
    assert store.start_run("cli", dry_run=True) == run_id + 1  # ids go on after the old ones
    store.close()


def test_a_database_url_whose_driver_is_missing_is_named_with_the_fix(env, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as on a server installed without the [postgresql] extra
    for url in (
        "postgresql+psycopg://google_sync@127.0.0.1/google_sync",
        "postgresql+psycopg2://google_sync@127.0.0.1/google_sync",
    ):
        env.write_config(database_url=url)
        for args in (("db", "current"), ("status",)):
            assert run_cli(env, *args) == 1
            error = capsys.readouterr().err
            assert (
                "[sync] database_url" in error
                and "pip install 'app-google-sync[postgresql]'" in error
                and "postgresql+psycopg://" in error
            )
            assert error.count("\n") == 1
