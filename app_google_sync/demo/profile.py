"""One user's whole profile in Google after a synchronization: every optional profile feature switched on.

    python -m app_google_sync.demo.profile

A throwaway slapd and the emulator (the real google-api-python-client talks to it): a secondary domain and
a domain alias read from Google, a manager, a photo, custom schema fields of three types and a licence.
It runs the test synchronization, the synchronization and the test again (in step), then prints the user
as Google holds it.
"""

from __future__ import annotations

import json
import tempfile

from app_google_sync import cli

from .directory import DemoDirectory
from .environment import DemoEnvironment

PORTRAIT = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 4 + b"\xff\xd9"  # JPEG-shaped bytes
SHOWN = (
    "primaryEmail",
    "name",
    "aliases",
    "organizations",
    "phones",
    "externalIds",
    "relations",
    "customSchemas",
    "thumbnailPhotoUrl",
    "orgUnitPath",
    "suspended",
)
SETTINGS = {
    "attributes": {"manager": "manager", "photo": "jpegPhoto"},
    "custom_attributes": {
        "HR.costCenter": "employeeNumber",
        "HR.projects": "businessCategory",
        "HR.remote": "roomNumber",
    },
    "licenses": {"product": "Google-Apps", "sku": "1010020027", "release_on_suspend": "yes"},
}


def seed(directory: DemoDirectory) -> None:
    directory.add_group("google_apps_plugin")
    boss = directory.add_user("bob", "Bob", "Boss", groups=("google_apps_plugin",))
    directory.add_user(
        "alice",
        "Alice",
        "Tester",
        mail="alice@example.org",
        groups=("google_apps_plugin",),
        extra_attrs={
            "title": "Engineer",
            "departmentNumber": "R&D",
            "telephoneNumber": "+1 555 0100",
            "employeeNumber": "4200",
            "mailLocalAddress": ["ali@example.net"],
            "manager": boss,
            "jpegPhoto": PORTRAIT,
            "businessCategory": ["Apollo", "Gemini"],
            "roomNumber": "TRUE",
        },
    )


def prepare_google(env: DemoEnvironment) -> None:
    env.emulator.add_domain("example.org")
    env.emulator.add_domain("example.net", alias_of="example.org")
    env.emulator.add_schema(
        "HR", [("costCenter", "INT64", False), ("projects", "STRING", True), ("remote", "BOOL", False)]
    )
    env.emulator.add_sku("Google-Apps", "1010020027", 5)
    env.write_config(google_options={"domains": "*"}, sections=SETTINGS)


def main() -> int:
    with DemoDirectory() as directory, tempfile.TemporaryDirectory(prefix="google-sync-profile-") as state:
        seed(directory)
        with DemoEnvironment(state_dir=state, directory=directory) as env:
            prepare_google(env)
            config = ["--config", str(env.config_path)]
            cli.main([*config, "test"])
            code = cli.main([*config, "sync"])
            user = env.emulator.get_user("alice@example.org")
            print(json.dumps({key: user[key] for key in SHOWN if key in user}, indent=2))
            mime, data = env.emulator.photo("alice@example.org")
            print(
                f"photo: {mime}, {len(data)} bytes; Google-Apps 1010020027 held by: {', '.join(env.emulator.licensed('Google-Apps', '1010020027'))}"
            )
            return code or cli.main([*config, "test"])


if __name__ == "__main__":
    raise SystemExit(main())
