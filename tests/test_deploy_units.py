"""deploy/'s systemd units: the worker hardened, the health check as a service and timer, all accepted by systemd."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def unit(name: str) -> configparser.ConfigParser:
    parsed = configparser.ConfigParser(strict=False, interpolation=None)
    parsed.optionxform = str  # systemd keys are case-sensitive
    parsed.read(DEPLOY / name)
    return parsed


def test_the_worker_is_hardened_and_writes_only_its_state_directory():
    service = unit("google-sync-worker.service")["Service"]
    assert service["ProtectSystem"] == "strict" and service["ReadWritePaths"] == "/var/lib/app-google-sync"
    assert service["StateDirectory"] == "app-google-sync"  # the same directory [sync] state_dir defaults to
    for key, value in {
        "NoNewPrivileges": "yes",
        "PrivateTmp": "yes",
        "ProtectHome": "yes",
        "PrivateDevices": "yes",
        "StandardError": "journal",
        "SystemCallFilter": "@system-service",
    }.items():
        assert service[key] == value, key


def test_the_health_check_runs_on_a_timer_and_only_a_critical_verdict_fails_it():
    service, timer = unit("google-sync-health.service"), unit("google-sync-health.timer")
    assert service["Service"]["Type"] == "oneshot"
    assert service["Service"]["ExecStart"].endswith("google-sync --config /etc/clearos/google_sync.conf health")
    assert service["Service"]["SuccessExitStatus"] == "1"
    assert timer["Timer"]["OnUnitActiveSec"] == "5min" and timer["Install"]["WantedBy"] == "timers.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_accepts_the_units(tmp_path):
    google_sync = Path(sys.executable).with_name("google-sync")
    for name in ("google-sync-worker.service", "google-sync-health.service", "google-sync-health.timer"):
        (tmp_path / name).write_text((DEPLOY / name).read_text().replace("/usr/bin/google-sync", str(google_sync)))
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", *sorted(str(path) for path in tmp_path.iterdir())],
        capture_output=True,
        text=True,
        env={"SYSTEMD_LOG_LEVEL": "warning", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_the_services_wait_for_google_credentials_where_the_console_and_the_readme_put_them():
    """Enabled by the package, they must not start on its example configuration (the worker would retry LDAP and
    the health check fail every 5 minutes); they start once the console or the administrator put a key in place."""
    from app_google_sync.libraries.google import credentials
    from app_google_sync.libraries.settings import config_file

    secrets = Path(config_file.DEFAULT_STATE_DIR) / "secrets"
    expected = {
        f"|{secrets / credentials.SERVICE_ACCOUNT_FILE}",
        f"|{secrets / credentials.AUTHORIZED_USER_FILE}",
        "|/etc/clearos/google_sync/service-account.json",
    }
    readme = (DEPLOY.parent / "README.md").read_text()
    assert "/etc/clearos/google_sync/service-account.json" in readme
    for name in ("google-sync-worker.service", "google-sync-health.service"):
        conditions = [
            line.split("=", 1)[1]
            for line in (DEPLOY / name).read_text().splitlines()
            if line.startswith("ConditionPathExists=")
        ]
        assert set(conditions) == expected, name
