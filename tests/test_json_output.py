"""`google-sync test --json` and `sync --json` are written as they are made: the same JSON as a whole dump, without
the whole text (or a list of every change's dict) in memory."""

from __future__ import annotations

import io
import json
import tracemalloc

from app_google_sync import cli
from app_google_sync.libraries.sync import json_output
from app_google_sync.libraries.sync.engine import Report
from app_google_sync.libraries.sync.plan import CreateUser, Plan


def big_plan(users: int) -> Plan:
    return Plan(
        tuple(
            CreateUser(uuid=f"uuid-{n}", email=f"user{n:06}@example.com", given_name="User", family_name=f"Number {n}")
            for n in range(users)
        )
    )


def test_the_streamed_json_is_the_same_text_as_a_whole_dump():
    for report in (
        Report(big_plan(50), outcome="pending"),
        Report(Plan(), outcome="in_sync"),
        Report(None, outcome="failed", message="x"),
    ):
        stream = io.StringIO()
        json_output.write(stream, {**report.streamed_data, "held": json_output.lazy_list([])})
        assert stream.getvalue() == json.dumps({**report.data, "held": []}, indent=2, ensure_ascii=False) + "\n"


def test_the_checksum_is_that_of_the_whole_list_as_before():
    import hashlib

    for plan in (big_plan(30), Plan()):
        whole = json.dumps([change.data for change in plan.changes], sort_keys=True, ensure_ascii=False)
        assert plan.checksum == hashlib.sha256(whole.encode("utf-8")).hexdigest()[:16]


def test_writing_a_plan_of_20000_users_holds_a_small_part_of_its_text():
    report = Report(big_plan(20000), outcome="pending")
    whole = len(json.dumps(report.data, indent=2, ensure_ascii=False))
    sink = _Discard()
    tracemalloc.start()
    json_output.write(sink, report.streamed_data)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert sink.written == whole + 1
    assert peak < whole / 20, f"writing {whole / 2**20:.1f} MiB of JSON held {peak / 2**20:.1f} MiB at its peak"


def test_the_command_line_writes_the_streamed_json(env, capsys):
    for uid in ("ann", "bob"):
        env.directory.add_user(uid, uid.title(), "Tester", groups=("google_apps_plugin",))
    assert cli.main(["--config", str(env.config_path), "test", "--json"]) == cli.EXIT_PENDING
    report = json.loads(capsys.readouterr().out)
    assert report["outcome"] == "pending" and report["held"] == []
    assert [(c["action"], c["object"]) for c in report["plan"]["changes"][:2]] == [
        ("create user", "ann@example.com"),
        ("create user", "bob@example.com"),
    ]
    assert cli.main(["--config", str(env.config_path), "sync", "--json"]) == cli.EXIT_OK
    applied = json.loads(capsys.readouterr().out)
    assert applied["outcome"] == "applied" and all(result["ok"] for result in applied["results"])


class _Discard(io.TextIOBase):
    def __init__(self):
        self.written = 0

    def write(self, text: str) -> int:
        self.written += len(text)
        return len(text)
