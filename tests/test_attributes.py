"""Mapped attributes reach Google; unmapped ones, and entries Google holds that we do not manage, are left alone."""

from app_google_sync import cli
from app_google_sync.libraries.core.model import DirectoryUser, GoogleUser
from app_google_sync.libraries.settings.config import AttributeMap
from app_google_sync.libraries.sync.engine import SyncEngine
from app_google_sync.libraries.sync.user_fields import field_changes, patch_body

ALL = AttributeMap()


def sync(env):
    return cli.main(["--config", str(env.config_path), "sync"])


def add_staff(directory, uid="alice", **attributes):
    defaults = {
        "title": "Engineer",
        "departmentNumber": "R&D",
        "telephoneNumber": "+1 555 0100",
        "mobile": "+1 555 0199",
        "employeeNumber": "E-042",
    }
    directory.add_user(
        uid, uid.capitalize(), "Tester", groups=("google_apps_plugin",), extra_attrs={**defaults, **attributes}
    )


def test_mapped_attributes_and_in_domain_aliases_are_pushed(env, capsys):
    add_staff(env.directory, mailLocalAddress=["ali@example.com", "alice@elsewhere.org"])
    assert cli.main(["--config", str(env.config_path), "test"]) == 2
    out = " ".join(capsys.readouterr().out.split())
    assert "title: Engineer" in out and "add alias alice@example.com ← ali@example.com" in out
    assert "aliases outside example.com not synchronized: alice@elsewhere.org" in out
    assert sync(env) == 0
    alice = env.emulator.get_user("alice@example.com")
    assert alice["organizations"] == [{"primary": True, "title": "Engineer", "department": "R&D"}]
    assert sorted((p["type"], p["value"]) for p in alice["phones"]) == [
        ("mobile", "+1 555 0199"),
        ("work", "+1 555 0100"),
    ]
    assert alice["externalIds"] == [{"type": "organization", "value": "E-042"}]
    assert alice["aliases"] == ["ali@example.com"]
    env.emulator.reset_calls()
    assert sync(env) == 0 and env.emulator.write_calls() == []
    assert cli.main(["--config", str(env.config_path), "test"]) == 0, (
        "after the sync, the links must leave nothing to adopt"
    )


def test_a_changed_attribute_is_an_update_that_keeps_what_google_added(env):
    add_staff(env.directory)
    sync(env)
    alice = env.emulator.get_user("alice@example.com")
    user_id = alice["id"]
    home = {"type": "home", "value": "+1 555 0111"}
    target = SyncEngine(env.settings).target  # an administrator adds a home phone in Google
    target.call(target.users.patch(userKey=user_id, body={"phones": alice["phones"] + [home]}))
    env.directory.modify_user("alice", telephoneNumber="+1 555 0200", title="Lead Engineer")
    assert sync(env) == 0
    alice = env.emulator.get_user(user_id)
    assert {(p["type"], p["value"]) for p in alice["phones"]} == {
        ("work", "+1 555 0200"),
        ("mobile", "+1 555 0199"),
        ("home", "+1 555 0111"),
    }
    assert alice["organizations"][0]["title"] == "Lead Engineer"


def test_a_switched_off_attribute_is_never_touched(env):
    env.write_config()
    with open(env.config_path, "a") as config:
        config.write("\n[attributes]\nphone =\ntitle =\n")
    env.emulator.add_user(
        "alice@example.com",
        "Alice",
        "Tester",
        phones=[{"type": "work", "value": "+44 20 0000"}],
        organizations=[{"primary": True, "title": "Set in Google"}],
    )
    add_staff(env.directory)
    assert sync(env) == 0
    alice = env.emulator.get_user("alice@example.com")
    assert {"type": "work", "value": "+44 20 0000"} in alice["phones"]
    assert alice["organizations"][0]["title"] == "Set in Google" and alice["organizations"][0]["department"] == "R&D"


def test_patch_bodies_merge_into_google_arrays():
    user = DirectoryUser(
        uuid="u", dn="", uid="a", given_name="A", family_name="B", title="", department="Sales", phone="1", mobile=""
    )
    account = GoogleUser(
        id="g",
        primary_email="a@example.com",
        given_name="A",
        family_name="B",
        organizations=({"primary": True, "title": "Boss", "department": "Old"}, {"title": "Board member"}),
        phones=({"type": "work", "value": "0"}, {"type": "mobile", "value": "9"}, {"type": "home", "value": "5"}),
    )
    changes = field_changes(user, "a@example.com", account, ALL)
    assert {c.field: (c.old, c.new) for c in changes} == {
        "title": ("Boss", ""),
        "department": ("Old", "Sales"),
        "phone": ("0", "1"),
        "mobile": ("9", ""),
    }
    body = patch_body(changes, account)
    assert body["organizations"] == [{"primary": True, "department": "Sales"}, {"title": "Board member"}]
    assert body["phones"] == [{"type": "home", "value": "5"}, {"type": "work", "value": "1"}]
    assert "name" not in body and "externalIds" not in body
