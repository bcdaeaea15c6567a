"""The host console ships whole: its package, templates, stylesheet and README are in the wheel."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import app_google_sync.host

REPO = Path(__file__).resolve().parents[2]
HOST = Path(app_google_sync.host.__file__).parent


def test_the_wheel_carries_the_host_console(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        f"app_google_sync/host/{path.relative_to(HOST).as_posix()}"
        for path in HOST.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert "app_google_sync/host/templates/layout.html" in expected
    assert expected - names == set()
