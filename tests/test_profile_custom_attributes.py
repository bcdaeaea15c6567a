"""Custom schema attributes: [custom_attributes] Schema.field = ldapAttribute, typed, checked, multi-valued per Google."""

import json

from app_google_sync import cli
from app_google_sync.libraries.core.model import CustomField, DirectoryUser, GoogleUser
from app_google_sync.libraries.google.google_target import SCHEMA_SCOPE, check_access, required_scopes
from app_google_sync.libraries.sync.engine import SyncEngine
from app_google_sync.libraries.sync.user_fields import custom_body, custom_changes

PLUGIN = ("google_apps_plugin",)
HR_FIELDS = [
    ("costCenter", "INT64", False),
    ("rate", "DOUBLE", False),
    ("remote", "BOOL", False),
    ("startDate", "DATE", False),
    ("backup", "EMAIL", False),
    ("desk", "PHONE", False),
    ("projects", "STRING", True),
]
MAPPING = {
    "hr.costcenter": "employeeNumber",
    "HR.rate": "carLicense",
    "HR.remote": "roomNumber",
    "HR.startDate": "description",
    "HR.backup": "employeeType",
    "HR.desk": "homePhone",
    "HR.projects": "businessCategory",
}


def run(env, *args):
    return cli.main(["--config", str(env.config_path), *args])


def plan_json(env, capsys):
    capsys.readouterr()
    run(env, "test", "--json")
    return json.loads(capsys.readouterr().out)["plan"]


def custom_on(env, mapping=None):
    env.emulator.add_schema("HR", HR_FIELDS)
    env.write_config(sections={"custom_attributes": mapping or MAPPING})


def add_alice(env, **overrides):
    attributes = {
        "employeeNumber": "4200",
        "carLicense": "37.50",
        "roomNumber": "TRUE",
        "description": "20240131000000Z",
        "employeeType": "pa@example.com",
        "homePhone": "+1 555 0123",
        "businessCategory": ["Apollo", "Gemini"],
        **overrides,
    }
    env.directory.add_user("alice", "Alice", "Tester", groups=PLUGIN, extra_attrs=attributes)


def test_custom_attributes_of_each_type_reach_google_and_a_second_run_is_quiet(env, capsys):
    custom_on(env)
    add_alice(env)
    plan = plan_json(env, capsys)
    alice = next(change for change in plan["changes"] if change["action"] == "create user")
    assert (
        alice["HR.costCenter"] == "4200"
        and alice["HR.startDate"] == "2024-01-31"
        and alice["HR.projects"] == '["Apollo", "Gemini"]'
    )
    assert run(env, "sync") == 0
    assert env.emulator.get_user("alice@example.com")["customSchemas"] == {
        "HR": {
            "costCenter": "4200",
            "rate": 37.5,
            "remote": True,
            "startDate": "2024-01-31",
            "backup": "pa@example.com",
            "desk": "+1 555 0123",
            "projects": [{"value": "Apollo"}, {"value": "Gemini"}],
        }
    }
    env.emulator.reset_calls()
    assert run(env, "sync") == 0 and env.emulator.write_calls() == []

    env.directory.modify_user("alice", businessCategory=["Gemini", "Artemis"], roomNumber="FALSE", homePhone=None)
    plan = plan_json(env, capsys)
    [update] = plan["changes"]
    assert {c["field"]: (c["old"], c["new"]) for c in update["changes"]} == {
        "HR.projects": ('["Apollo", "Gemini"]', '["Artemis", "Gemini"]'),
        "HR.remote": ("true", "false"),
        "HR.desk": ("+1 555 0123", ""),
    }
    assert run(env, "sync") == 0
    hr = env.emulator.get_user("alice@example.com")["customSchemas"]["HR"]
    assert hr["projects"] == [{"value": "Artemis"}, {"value": "Gemini"}] and hr["remote"] is False and "desk" not in hr
    assert hr["costCenter"] == "4200", "fields that did not change are kept"


def test_a_bad_value_is_a_warning_for_that_user_only_and_google_keeps_the_field(env, capsys):
    custom_on(env)
    env.emulator.add_user("alice@example.com", "Alice", "Tester", customSchemas={"HR": {"costCenter": "7"}})
    add_alice(env, employeeNumber="E-42", description="next tuesday", employeeType=["a@example.com", "b@example.com"])
    env.directory.add_user("bob", "Bob", "Tester", groups=PLUGIN, extra_attrs={"employeeNumber": "99"})
    plan = plan_json(env, capsys)
    warnings = sorted(
        n["message"] for n in plan["notices"] if n["object"] == "alice" and n["message"].startswith("HR.")
    )
    assert warnings == [
        "HR.backup not synchronized: 2 values, but the field takes one; fix the directory value (the field is left as Google has it)",
        "HR.costCenter not synchronized: 'E-42' is not a whole number; fix the directory value (the field is left as Google has it)",
        "HR.startDate not synchronized: 'next tuesday' is not a date (yyyy-mm-dd); fix the directory value (the field is left as Google has it)",
    ]
    assert run(env, "sync") == 0
    assert env.emulator.get_user("alice@example.com")["customSchemas"]["HR"]["costCenter"] == "7"
    assert env.emulator.get_user("alice@example.com")["customSchemas"]["HR"]["rate"] == 37.5
    assert env.emulator.get_user("bob@example.com")["customSchemas"] == {"HR": {"costCenter": "99"}}


def test_check_names_the_fields_and_the_scope_is_asked_only_when_mapped(env):
    assert SCHEMA_SCOPE not in required_scopes(env.settings)
    custom_on(env, {"HR.costCenter": "employeeNumber", "Payroll.grade": "title"})
    assert SCHEMA_SCOPE in required_scopes(env.settings)
    checks = {check.name: check for check in check_access(env.settings)}
    assert checks[SCHEMA_SCOPE].ok
    assert (
        checks["[custom_attributes] hr.costcenter"].ok
        and checks["[custom_attributes] hr.costcenter"].detail == "employeeNumber → HR.costCenter (INT64)"
    )
    missing = checks["[custom_attributes] payroll.grade"]
    assert not missing.ok and missing.detail.startswith(
        "no field payroll.grade in Google; create it in Google Admin or name one of: HR.backup, "
    )
    add_alice(env)
    assert run(env, "sync") == 0  # the unknown field is a warning, the known one goes through
    assert env.emulator.get_user("alice@example.com")["customSchemas"] == {"HR": {"costCenter": "4200"}}


def test_a_targeted_push_reads_the_schemas_and_the_custom_fields(env):
    custom_on(env, {"HR.costCenter": "employeeNumber"})
    add_alice(env)
    assert run(env, "sync") == 0
    env.directory.modify_user("alice", employeeNumber="4300")
    report = SyncEngine(env.settings).push_user("alice")
    assert [(r.change.action, r.ok) for r in report.results] == [("update user", True)]
    assert env.emulator.get_user("alice@example.com")["customSchemas"] == {"HR": {"costCenter": "4300"}}


def test_switched_off_custom_fields_in_google_are_never_touched(env):
    env.emulator.add_schema("HR", HR_FIELDS)
    env.emulator.add_user("alice@example.com", "Alice", "Tester", customSchemas={"HR": {"costCenter": "7"}})
    add_alice(env)
    assert run(env, "sync") == 0
    assert env.emulator.get_user("alice@example.com")["customSchemas"] == {"HR": {"costCenter": "7"}}
    assert not any(call["query"].get("projection") == "full" for call in env.emulator.calls)


def test_custom_values_and_bodies_without_google():
    spec = CustomField("HR", "projects", "STRING", multi=True)
    single = CustomField("HR", "costCenter", "INT64")
    user = DirectoryUser(
        uuid="u",
        dn="",
        uid="a",
        given_name="A",
        family_name="B",
        custom=(("hr.projects", ("Apollo, phase 2", "Gemini")), ("hr.costcenter", ("+0042",))),
    )
    account = GoogleUser(
        id="g", primary_email="a@example.com", custom_schemas={"HR": {"costCenter": 42, "other": "kept"}}
    )
    fields = {"hr.projects": spec, "hr.costcenter": single}
    changes, problems = custom_changes(user, account, fields)
    assert problems == [] and [(c.field, c.old, c.new) for c in changes] == [
        ("HR.projects", "", '["Apollo, phase 2", "Gemini"]')
    ]
    assert custom_body(changes, account, fields) == {
        "customSchemas": {
            "HR": {"costCenter": 42, "other": "kept", "projects": [{"value": "Apollo, phase 2"}, {"value": "Gemini"}]}
        }
    }
