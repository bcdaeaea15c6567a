"""Everything the demo, the tests and the benchmarks need: a seeded slapd, the emulator, a config file.

The emulator is pre-provisioned the way a real Google Workspace domain is once
an administrator has connected the tool: a super administrator account and a
service-account key with domain-wide delegation of the directory scopes.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from app_google_sync.emulator.server import Emulator
from app_google_sync.libraries.settings import config

from .directory import DemoDirectory, seed_sample_organisation

DOMAIN = "example.com"
ADMIN_EMAIL = f"admin@{DOMAIN}"


class DemoEnvironment:
    """Start with ``with DemoEnvironment() as env:``; ``env.config_path`` then drives ``google-sync``."""

    def __init__(
        self,
        state_dir: str | None = None,
        seed: bool = True,
        directory: DemoDirectory | None = None,
        **emulator_options,
    ):
        self._tempdir = None if state_dir else tempfile.TemporaryDirectory(prefix="google-sync-demo-")
        self.state_dir = Path(state_dir or self._tempdir.name)
        self.seed = seed
        self._own_directory = directory is None
        self.directory = directory or DemoDirectory()
        self.emulator = Emulator(domain=DOMAIN, admin_email=ADMIN_EMAIL, **emulator_options)
        # The emulator sets no quota unless asked: the client need not pace itself to Google's default.
        self.queries_per_minute = 1_000_000
        self.config_path = self.state_dir / "google_sync.conf"
        self.key_path = self.state_dir / "service-account.json"

    def __enter__(self) -> DemoEnvironment:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        try:
            self._start()
        except BaseException:  # SIGTERM (SystemExit) or a failure half-way: nothing may be left behind
            self.stop()
            raise

    def _start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if self._own_directory:
            self.directory.start()
            if self.seed:
                seed_sample_organisation(self.directory, domain=DOMAIN)
        self.emulator.start(host="127.0.0.1", port=0)
        key = self.emulator.create_service_account()
        self.key_path.write_text(json.dumps(key, indent=2))
        os.chmod(self.key_path, 0o600)
        self.write_config()

    def stop(self) -> None:
        try:
            self.emulator.stop()
            if self._own_directory:
                self.directory.stop()
        finally:
            if self._tempdir:
                self._tempdir.cleanup()

    def write_config(
        self,
        google_options: dict[str, str] | None = None,
        sections: dict[str, dict[str, str]] | None = None,
        **sync_options: str,
    ) -> Path:
        """The configuration file: ``[sync]`` gets ``sync_options``, ``[google]`` also ``google_options``, and
        ``sections`` adds whole sections (``{"attributes": {"manager": "manager"}}``)."""
        ldap = self.directory.settings()
        sync = {"state_dir": str(self.state_dir / "state"), "max_suspend": "25%", **sync_options}
        lines = [
            "[ldap]",
            f"uri = {ldap.uri}",
            f"bind_dn = {ldap.bind_dn}",
            f"bind_password = {ldap.bind_password}",
            f"base_dn = {ldap.base_dn}",
            "enabled_group = google_apps_plugin",
            "",
            "[google]",
            f"domain = {DOMAIN}",
            f"admin_email = {ADMIN_EMAIL}",
            f"credentials_file = {self.key_path}",
            f"api_endpoint = {self.emulator.base_url}",
            f"token_uri = {self.emulator.token_uri}",
            f"queries_per_minute = {self.queries_per_minute}",
            *(f"{key} = {value}" for key, value in (google_options or {}).items()),
            "",
            "[sync]",
            *(f"{key} = {value}" for key, value in sync.items()),
            "",
        ]
        for name, values in (sections or {}).items():
            lines += [f"[{name}]", *(f"{key} = {value}" for key, value in values.items()), ""]
        self.config_path.write_text("\n".join(lines))
        os.chmod(self.config_path, 0o600)
        return self.config_path

    @property
    def settings(self) -> config.Settings:
        return config.load(str(self.config_path))
