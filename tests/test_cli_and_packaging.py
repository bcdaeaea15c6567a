"""The command line's contract around the sync itself, and the installed package's completeness."""
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from app_google_sync import cli

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("command", [[], ["test"], ["sync"], ["check"], ["status"], ["watch"], ["worker"], ["demo"], ["db"], ["db", "current"], ["db", "upgrade"]])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: google-sync" in capsys.readouterr().out


def test_check_passes_and_then_names_the_missing_scope(env, capsys):
    assert cli.main(["--config", str(env.config_path), "check"]) == 0
    out = capsys.readouterr().out
    assert out.count("PASS") == 5 and "FAIL" not in out
    key = env.emulator.create_service_account(scopes=["https://www.googleapis.com/auth/admin.directory.user"])
    env.key_path.write_text(json.dumps(key))
    assert cli.main(["--config", str(env.config_path), "check"]) == 1
    out = capsys.readouterr().out
    assert "FAIL  token:" in out and "not delegated: https://www.googleapis.com/auth/admin.directory.group," in out
    assert key["client_id"] in out and key["private_key"] not in out


def test_check_names_an_unreachable_directory(env, capsys):
    env.directory.stop_server()
    try:
        assert cli.main(["--config", str(env.config_path), "check"]) == 1
    finally:
        env.directory.restart_server()
    assert "FAIL  ldap:" in capsys.readouterr().out


def test_configuration_errors_name_the_key(tmp_path, capsys):
    config = tmp_path / "bad.conf"
    config.write_text("[ldap]\nbase_dn = dc=example,dc=com\n[google]\ndomain = example.com\nadmin_email = admin@example.com\n[sync]\nmax_suspend = lots\n")
    assert cli.main(["--config", str(config), "test"]) == 1
    assert "[sync] max_suspend = 'lots'" in capsys.readouterr().err
    assert cli.main(["--config", str(tmp_path / "missing.conf"), "test"]) == 1
    assert "cannot read configuration file" in capsys.readouterr().err


def test_the_wheel_carries_every_subpackage_and_data_file(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for package in ("", "libraries", "controllers", "views", "deploy", "emulator", "demo"):
        assert f"app_google_sync/{package}/__init__.py".replace("//", "/") in names, package
    for data in ("deploy/syncprov.ldif", "deploy/password-hash.ldif", "demo/clearos-schema.ldif", "deploy/google-sync-worker.service",
                 "deploy/google-sync-health.service", "deploy/google-sync-health.timer"):
        assert f"app_google_sync/{data}" in names, data
