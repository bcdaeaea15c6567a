"""Every profile feature off (the default): what reaches Google is the documented minimum, nothing of the rest."""

from app_google_sync import cli
from app_google_sync.libraries.google.google_target import SCOPES, required_scopes

PLUGIN = ("google_apps_plugin",)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) + b"\xff\xd9"


def test_with_every_profile_feature_off_no_profile_field_is_sent_nor_any_scope_asked(env):
    env.emulator.add_domain("example.org")
    env.emulator.add_schema("HR", [("costCenter", "INT64", False)])
    env.emulator.add_sku("Google-Apps", "1010020027", 5)
    env.emulator.add_user(
        "alice@example.com",
        "Alicia",
        "Tester",
        relations=[{"type": "manager", "value": "boss@example.com"}],
        customSchemas={"HR": {"costCenter": "7"}},
    )
    boss = env.directory.add_user("bob", "Bob", "Boss", groups=PLUGIN)
    env.directory.add_user(
        "alice", "Alice", "Tester", groups=PLUGIN, extra_attrs={"manager": boss, "jpegPhoto": JPEG, "roomNumber": "42"}
    )
    assert required_scopes(env.settings) == SCOPES
    assert cli.main(["--config", str(env.config_path), "sync"]) == 0
    writes = [call for call in env.emulator.calls if call["method"] != "GET"]
    alice = [call for call in writes if call["method"] in ("PATCH", "PUT") and "/users/" in call["path"]]
    assert [sorted(call["body"]) for call in alice] == [["name"]], "only the name differs, only the name is sent"
    assert not [
        call
        for call in env.emulator.calls
        if "/photos/" in call["path"]
        or "/licensing/" in call["path"]
        or "/domains" in call["path"]
        or "/schemas" in call["path"]
    ]
    created = next(call["body"] for call in writes if call["method"] == "POST" and call["path"].endswith("/users"))
    assert not {"relations", "customSchemas", "externalIds"} & set(created)
    user = env.emulator.get_user("alice@example.com")
    assert user["relations"] == [{"type": "manager", "value": "boss@example.com"}] and user["customSchemas"] == {
        "HR": {"costCenter": "7"}
    }
