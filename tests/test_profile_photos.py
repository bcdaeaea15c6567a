"""Photos: jpegPhoto becomes the user's Google photo, pushed only when it changed, removed only when we set it."""

import json

from app_google_sync import cli
from app_google_sync.libraries.state.store import Store
from app_google_sync.libraries.sync import photos
from app_google_sync.libraries.sync.engine import SyncEngine

PLUGIN = ("google_apps_plugin",)
# Just enough of a JPEG for the type check; the rest is whatever a camera writes (web-safe base64 gets - and _).
PORTRAIT = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4 + b"\xff\xd9"
NEW_PORTRAIT = b"\xff\xd8\xff\xe1" + bytes(reversed(range(256))) * 3 + b"\xff\xd9"


def run(env, *args):
    return cli.main(["--config", str(env.config_path), *args])


def plan_json(env, capsys):
    capsys.readouterr()
    run(env, "test", "--json")
    return json.loads(capsys.readouterr().out)["plan"]


def photos_on(env):
    env.write_config(sections={"attributes": {"photo": "jpegPhoto"}})


def photo_calls(env):
    return [(call["method"], call["path"]) for call in env.emulator.calls if "/photos/" in call["path"]]


def test_a_photo_is_added_changed_once_and_removed(env, capsys):
    photos_on(env)
    env.directory.add_user("alice", "Alice", "Tester", groups=PLUGIN, extra_attrs={"jpegPhoto": PORTRAIT})
    plan = plan_json(env, capsys)
    assert {"action": "set photo", "object": "alice@example.com", "photo": f"JPEG, {len(PORTRAIT)} bytes"} in plan[
        "changes"
    ]
    assert run(env, "sync") == 0
    assert env.emulator.photo("alice@example.com") == ("JPEG", PORTRAIT)
    [request] = [call for call in env.emulator.calls if "/photos/" in call["path"]]
    assert request["method"] == "PUT"
    link = next(link for link in Store(env.settings.sync.database).links().links if link.email == "alice@example.com")
    assert link.photo_fingerprint == photos.fingerprint(PORTRAIT)

    env.emulator.reset_calls()
    assert run(env, "sync") == 0 and photo_calls(env) == [], "an unchanged photo is not sent again"

    env.directory.modify_user("alice", jpegPhoto=NEW_PORTRAIT)
    assert run(env, "sync") == 0 and run(env, "sync") == 0
    assert env.emulator.photo("alice@example.com") == ("JPEG", NEW_PORTRAIT)
    assert [method for method, _ in photo_calls(env)] == ["PUT"], "a changed photo is pushed once"

    env.directory.modify_user("alice", jpegPhoto=None)
    plan = plan_json(env, capsys)
    assert [(c["action"], c["object"]) for c in plan["changes"]] == [("remove photo", "alice@example.com")]
    assert run(env, "sync") == 0
    assert env.emulator.photo("alice@example.com") is None
    assert run(env, "test") == 0


def test_a_photo_set_in_google_is_not_removed_and_a_bad_one_is_a_notice(env, capsys):
    photos_on(env)
    account = env.emulator.add_user("alice@example.com", "Alice", "Tester")
    target = SyncEngine(env.settings).target
    target.call(
        target.photos.update(userKey=account["id"], body={"photoData": photos.web_safe(PORTRAIT), "mimeType": "JPEG"})
    )
    env.directory.add_user("alice", "Alice", "Tester", groups=PLUGIN)  # no photo in the directory
    big = b"\xff\xd8\xff\xe0" + b"\x00" * (photos.MAX_PHOTO_BYTES + 1)
    env.directory.add_user("bob", "Bob", "Tester", groups=PLUGIN, extra_attrs={"jpegPhoto": big})
    env.directory.add_user("carol", "Carol", "Tester", groups=PLUGIN, extra_attrs={"jpegPhoto": b"not an image at all"})
    plan = plan_json(env, capsys)
    assert not [c for c in plan["changes"] if "photo" in c["action"]]
    notices = {n["object"]: n["message"] for n in plan["notices"] if "photo" in n["message"]}
    assert notices == {
        "bob": f"photo not synchronized: {len(big):,} bytes, more than the 524,288 bytes (512 KiB) this tool sends "
        "(Google shows it at 96x96 pixels anyway); store a smaller photo in the directory",
        "carol": "photo not synchronized: not a JPEG, PNG, GIF, BMP or TIFF image (the only types Google takes); store one of those in the directory",
    }
    assert run(env, "sync") == 0
    assert env.emulator.photo("alice@example.com") == ("JPEG", PORTRAIT), "a photo this tool did not set stays"
    assert env.emulator.get_user("bob@example.com") is not None, "the rest of the user goes through"


def test_a_targeted_push_sends_a_new_photo(env):
    photos_on(env)
    env.directory.add_user("alice", "Alice", "Tester", groups=PLUGIN)
    assert run(env, "sync") == 0
    env.directory.modify_user("alice", jpegPhoto=PORTRAIT)
    report = SyncEngine(env.settings).push_user("alice")
    assert [(r.change.action, r.ok) for r in report.results] == [("set photo", True)]
    assert env.emulator.photo("alice@example.com") == ("JPEG", PORTRAIT)


def test_switched_off_google_photo_is_never_touched(env):
    env.directory.add_user("alice", "Alice", "Tester", groups=PLUGIN, extra_attrs={"jpegPhoto": PORTRAIT})
    assert run(env, "sync") == 0
    assert env.emulator.photo("alice@example.com") is None and photo_calls(env) == []
    assert "jpegPhoto" not in json.dumps([call["query"] for call in env.emulator.calls])


def test_photo_types_and_web_safe_base64():
    assert [
        photos.photo_type(data)
        for data in (PORTRAIT, b"\x89PNG\r\n\x1a\nrest", b"GIF89a", b"BMxx", b"II*\x00", b"<svg")
    ] == ["JPEG", "PNG", "GIF", "BMP", "TIFF", ""]
    encoded = photos.web_safe(b"\xfb\xff\xfe")
    assert encoded == "-__-" and "+" not in encoded and "/" not in encoded
