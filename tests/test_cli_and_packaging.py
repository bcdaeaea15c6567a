"""The command line's contract around the sync itself, and the installed package's completeness."""

import importlib.metadata
import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from app_google_sync import __version__, cli

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["test"],
        ["sync"],
        ["undo"],
        ["check"],
        ["status"],
        ["watch"],
        ["worker"],
        ["notify"],
        ["health"],
        ["demo"],
        ["db"],
        ["db", "current"],
        ["db", "upgrade"],
    ],
)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*command, "--help"])
    assert exit_info.value.code == 0
    assert "usage: google-sync" in capsys.readouterr().out


def _help(command: list[str], capsys) -> str:
    with pytest.raises(SystemExit):
        cli.main([*command, "--help"])
    return " ".join(capsys.readouterr().out.split())  # argparse wraps lines


@pytest.mark.parametrize(
    "command, codes",
    [
        (["test"], ["0 in sync", "2 changes pending", "3 refused", "1 error"]),
        (["sync"], ["0 all applied", "1 some objects failed", "3 refused"]),
        (["undo"], ["preview 0 nothing to undo", "2 changes pending", "3 refused", "1 error", "--apply 0 all applied"]),
        (["check"], ["0 all passed", "1 something failed"]),
        (["status"], ["0", "1 no such run"]),
        (["notify"], ["0 sent", "1 the message could not be sent"]),
        (["health"], ["Exit 0 OK, 1 warning, 2 critical, 3 unknown"]),
        (["db", "current"], ["Exit 0: up to date; 2: an upgrade is pending", "1: written by a newer release"]),
        (["db", "upgrade"], ["Exit 0: up to date afterwards; 1: an error"]),
        ([], ["test 0 in sync", "undo as test", "check 0 all passed", "health 0 OK", "db current 0 up to date"]),
    ],
)
def test_each_help_lists_the_exit_codes(command, codes, capsys):
    text = _help(command, capsys)
    for code in codes:
        assert code in text, (command, code)


def test_status_help_names_every_json_key(capsys):
    text = _help(["status"], capsys)
    for key in ('"worker"', '"runs"', '"push_queue"', '"held"'):
        assert key in text


def test_status_of_a_run_that_does_not_exist_says_so(env, capsys):
    config = ["--config", str(env.config_path)]
    assert cli.main([*config, "test"]) in (0, 2)
    capsys.readouterr()
    assert cli.main([*config, "status", "--json", "--limit", "1"]) == 0
    test_run = json.loads(capsys.readouterr().out)["runs"][0]["id"]
    for missing in ("999", "0", str(2**70)):
        assert cli.main([*config, "status", "--run", missing]) == 1
        assert f"there is no run {missing}" in capsys.readouterr().err
    assert cli.main([*config, "undo", str(2**70)]) == 1  # past a database integer: no such run, not a traceback
    assert f"there is no run {2**70}" in capsys.readouterr().err
    assert cli.main([*config, "status", "--run", str(test_run)]) == 0
    assert f"Run {test_run} has no per-object result (a test, which writes nothing)." in capsys.readouterr().out


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
    config.write_text(
        "[ldap]\nbase_dn = dc=example,dc=com\n[google]\ndomain = example.com\nadmin_email = admin@example.com\n[sync]\nmax_suspend = lots\n"
    )
    assert cli.main(["--config", str(config), "test"]) == 1
    assert "[sync] max_suspend = 'lots'" in capsys.readouterr().err
    assert cli.main(["--config", str(tmp_path / "missing.conf"), "test"]) == 1
    assert "cannot read configuration file" in capsys.readouterr().err


# Installed name -> source folder (DESIGN §3). Everything below these folders ships, but for:
ROOTS = {
    "app_google_sync": "app_google_sync",
    "app_google_sync/controllers": "controllers",
    "app_google_sync/libraries": "libraries",
    "app_google_sync/views": "views",
    "app_google_sync/deploy": "deploy",
}
NOT_SHIPPED = (
    "views/static/screenshots/",  # the README's pictures
    "deploy/debian/",
)  # the Debian packaging, used by make deb


def source_files() -> dict[str, str]:
    """Every file of the source tree that a wheel must carry: its path in the tree -> its path in the wheel."""
    files = {}
    for installed, folder in ROOTS.items():
        for directory, subdirectories, names in os.walk(REPO / folder):
            subdirectories[:] = [
                d
                for d in subdirectories
                if d != "__pycache__" and (Path(directory) / d).relative_to(REPO).as_posix() not in ROOTS.values()
            ]
            for name in names:
                path = (Path(directory) / name).relative_to(REPO).as_posix()
                if not path.startswith(NOT_SHIPPED) and not name.endswith(".pyc"):
                    files[path] = installed + path[len(folder) :]
    return files


def test_every_folder_with_python_code_is_a_package():
    """A folder of modules without __init__.py imports in development (a namespace package) and vanishes from the wheel."""
    folders = {str(Path(path).parent) for path in source_files() if path.endswith(".py")}
    missing = sorted(folder for folder in folders if not (REPO / folder / "__init__.py").exists())
    assert not missing, f"add an __init__.py to {missing}"


@pytest.fixture(scope="module")
def distributions(tmp_path_factory):
    """An sdist and the wheel built from it, by the standard front end (no download: the venv's setuptools)."""
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(REPO)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (sdist,), (wheel,) = out.glob("*.tar.gz"), out.glob("*.whl")
    return sdist, wheel


def test_the_wheel_carries_every_subpackage_and_data_file(distributions):
    _, wheel = distributions
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = source_files()
    assert (
        "libraries/state/migrations/versions/__init__.py" in expected
        and "deploy/google-sync-worker.service" in expected
    )  # the walk works
    missing = sorted(path for path, installed in expected.items() if installed not in names)
    assert not missing, f"not in {wheel.name}: {missing}"


def test_the_distributions_carry_the_version_and_pass_twine_check(distributions):
    sdist, wheel = distributions
    assert sdist.name == f"app_google_sync-{__version__}.tar.gz" and wheel.name.startswith(
        f"app_google_sync-{__version__}-py3-none-any"
    )
    with tarfile.open(sdist) as archive:
        members = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert {"CHANGELOG.md", "README.md", "setup.py", "setup.cfg"} <= members
    result = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", str(sdist), str(wheel)], capture_output=True, text=True
    )
    assert result.returncode == 0 and result.stdout.count("PASSED") == 2, result.stdout + result.stderr


def test_version_is_one_and_the_same_everywhere(env, capsys):
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out == f"google-sync {__version__}\n"
    assert importlib.metadata.version("app-google-sync") == __version__  # setup.cfg reads it from app_google_sync
    assert f"## [{__version__}]" in (REPO / "CHANGELOG.md").read_text()
    assert cli.main(["--config", str(env.config_path), "status", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == __version__
