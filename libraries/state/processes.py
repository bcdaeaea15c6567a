"""Which process holds a claim, a lock or a run, and whether it still runs: recorded as (pid, host)."""

from __future__ import annotations

import os
import socket


def this_process() -> tuple[int, str]:
    return os.getpid(), socket.gethostname()


def process_alive(pid: int, host: str) -> bool:
    """Whether a process of this host still runs (another host's processes are taken as alive)."""
    if not host or pid <= 0:  # recorded before processes were: long gone
        return False
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
