"""The Debian package as a sysadmin meets it: make deb, apt install, check, upgrade keeping an edited
configuration (and upgrading the state database), remove keeping the state, purge deleting it.

It installs into this machine (root, as CI runs), then purges, so nothing stays behind: the tests
run the virtualenv's google-sync (next to sys.executable), never /usr/bin/google-sync.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest
from state_0_1_0 import FIXTURE

from app_google_sync import __version__
from app_google_sync.libraries.state import migrate

REPO = Path(__file__).resolve().parents[1]
PACKAGE = "app-google-sync"
CONFIG = Path("/etc/clearos/google_sync.conf")
STATE = Path("/var/lib/app-google-sync")
UNITS = Path("/lib/systemd/system")
APT = ["apt-get", "-y", "-q", "-o", "Dpkg::Use-Pty=0", "--no-install-recommends"]

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("dpkg") is None,
    reason="installs a system package: needs root on Debian (CI runs as root)",
)


def run(*command: str) -> str:
    result = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    )
    assert result.returncode == 0, f"{command}: {result.stdout[-4000:]}{result.stderr[-4000:]}"
    return result.stdout + result.stderr


def installed_version() -> str | None:
    result = subprocess.run(["dpkg-query", "-W", "-f=${Status} ${Version}", PACKAGE], capture_output=True, text=True)
    status, _, version = result.stdout.rpartition(" ")
    return version if status == "install ok installed" else None


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """This tree's package, and a previous build: the same files under a lower version (a rebuild from an
    older commit would double the build time and test nothing more of the maintainer scripts)."""
    assert installed_version() is None and not CONFIG.exists() and not STATE.exists(), (
        f"{PACKAGE} is installed or {CONFIG} / {STATE} exist on this machine: this test would replace them "
        f"(apt-get purge {PACKAGE}, or move them aside, first)"
    )
    run("make", "-C", str(REPO), "deb", "LINTIAN=no")
    (current,) = (REPO / "dist").glob(f"{PACKAGE}_{__version__}-1_*.deb")
    unpacked = tmp_path_factory.mktemp("previous") / "tree"
    run("dpkg-deb", "-R", str(current), str(unpacked))
    control = unpacked / "DEBIAN" / "control"
    control.write_text(control.read_text().replace(f"Version: {__version__}-1", f"Version: {__version__}~previous-1"))
    previous = unpacked.parent / f"{PACKAGE}_{__version__}~previous-1.deb"
    run("dpkg-deb", "-Zgzip", "-z1", "-b", str(unpacked), str(previous))
    yield previous, current
    if installed_version():
        run(*APT, "purge", PACKAGE)


def test_install_check_upgrade_remove_and_purge(builds, env, tmp_path):
    previous, current = builds
    # lintian takes a minute or two over the virtualenv's files: on the other core, meanwhile.
    lintian = subprocess.Popen(
        ["lintian", "--fail-on", "error,warning", str(current)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    # Install: the commands, the units enabled, a 0600 configuration, a 0700 state directory, the README.
    run(*APT, "install", str(previous))
    assert run("/usr/bin/google-sync", "--version") == f"google-sync {__version__}\n"
    assert stat.S_IMODE(CONFIG.stat().st_mode) == 0o600 and stat.S_IMODE(STATE.stat().st_mode) == 0o700
    assert Path("/usr/share/doc/app-google-sync/README.md").exists()
    assert Path("/usr/share/doc/app-google-sync/examples/sync-account.ldif").exists()
    for wanted_by, unit in (
        ("multi-user.target", "google-sync-worker.service"),
        ("timers.target", "google-sync-health.timer"),
    ):
        assert Path(f"/etc/systemd/system/{wanted_by}.wants/{unit}").resolve() == (UNITS / unit).resolve(), (
            unit
        )  # enabled
    verify = subprocess.run(
        [
            "systemd-analyze",
            "verify",
            "--man=no",
            *(
                str(UNITS / name)
                for name in ("google-sync-worker.service", "google-sync-health.service", "google-sync-health.timer")
            ),
        ],
        capture_output=True,
        text=True,
        env={"SYSTEMD_LOG_LEVEL": "warning", "PATH": "/usr/bin:/bin"},
    )
    assert verify.returncode == 0 and verify.stderr == "", verify.stderr

    # The administrator's configuration: this test's slapd and emulator.
    state = tmp_path / "state"
    CONFIG.write_text(
        env.config_path.read_text().replace(f"state_dir = {env.state_dir / 'state'}", f"state_dir = {state}")
    )
    edited = CONFIG.read_text()
    checked = run("/usr/bin/google-sync", "check")  # the default configuration path, the installed code
    assert checked.count("PASS") == 5 and "FAIL" not in checked
    # Its state database as 0.1.0 left it (check upgraded the one it opened).
    shutil.rmtree(state)
    state.mkdir(mode=0o700)
    sqlite3.connect(state / "state.db").executescript(FIXTURE.read_text())

    # Upgrade: the edited configuration stays, postinst upgrades the schema before anything restarts.
    upgraded = run(*APT, "install", str(current))
    assert installed_version() == f"{__version__}-1" and CONFIG.read_text() == edited
    assert f"Schema 0001 → {migrate.head()}: upgraded" in upgraded
    assert sqlite3.connect(state / "state.db").execute("SELECT version_num FROM alembic_version").fetchone() == (
        migrate.head(),
    )
    assert json.loads(run("/usr/bin/google-sync", "status", "--json"))["version"] == __version__

    # Remove keeps the configuration and the state; purge deletes them, saying so.
    (STATE / "state.db").write_text("kept by remove")
    run(*APT, "remove", PACKAGE)
    assert not Path("/usr/bin/google-sync").exists() and not Path("/opt/venvs/app-google-sync").exists()
    assert CONFIG.read_text() == edited and (STATE / "state.db").read_text() == "kept by remove"
    purged = run(*APT, "purge", PACKAGE)
    assert f"purge deletes {STATE}" in purged
    assert not STATE.exists() and not CONFIG.exists() and installed_version() is None

    verdict = lintian.communicate(timeout=600)[0]
    assert lintian.returncode == 0, verdict  # the overrides in deploy/debian explain every tag left
