"""`google-sync demo` stopped with SIGTERM leaves nothing behind: no slapd, no key, no config with a password."""

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

GOOGLE_SYNC = Path(sys.executable).with_name("google-sync")


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited; only its exit status is left to collect


def _slapd_rundir(pid: int) -> Path:
    arguments = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    return Path(arguments[arguments.index(b"-F") + 1].decode()).parent


def test_sigterm_stops_slapd_and_removes_the_temporary_directory():
    process = subprocess.Popen(
        [str(GOOGLE_SYNC), "demo", "--keep-running", "--no-console"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    try:
        output = []
        for line in process.stdout:  # the tour runs to the end, then waits with both servers up
            output.append(line)
            if line.startswith("Servers stay up"):
                break
        text = "".join(output)
        config_path = Path(re.search(r"^Config:\s+(\S+)", text, re.MULTILINE).group(1))
        state_dir = config_path.parent
        assert config_path.exists() and (state_dir / "service-account.json").exists()
        slapd = [pid for pid in _children(process.pid) if Path(f"/proc/{pid}/comm").read_text().strip() == "slapd"]
        assert len(slapd) == 1, text
        rundir = _slapd_rundir(slapd[0])
        assert rundir.exists()

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 128 + signal.SIGTERM
        deadline = time.monotonic() + 10
        while _alive(slapd[0]) and time.monotonic() < deadline:
            time.sleep(0.05)  # slapd finishes its own shutdown after being told to
        assert not _alive(slapd[0]), "slapd still running after the demo was terminated"
        assert not state_dir.exists(), f"{state_dir} (key, config with the bind password) left behind"
        assert not rundir.exists(), f"slapd's directory {rundir} left behind"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
