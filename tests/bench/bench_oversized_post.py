"""An anonymous oversized POST to the reference host's /login: the server's memory and time to answer.

Run: .venv/bin/python tests/bench/bench_oversized_post.py [MB]   (default 200 MB of body)

The host runs in a child process (werkzeug's threaded server, as the demo serves it); the figures are its peak
resident memory (VmHWM) before and after one request whose body is streamed as `curl --data-binary` sends it,
with MAX_CONTENT_LENGTH unset (the behaviour before the limit) and with the default limit.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time

SERVER = """
import sys
from werkzeug.security import generate_password_hash
from werkzeug.serving import make_server
from app_google_sync.host import create_app

config = {"SECRET_KEY": "bench", "CONSOLE_ADMIN_PASSWORD_HASH": generate_password_hash("x"), "CONSOLE_DISCOVER_PLUGINS": False}
if sys.argv[1] != "default":
    config["MAX_CONTENT_LENGTH"] = None
server = make_server("127.0.0.1", 0, create_app(config), threaded=True)
print(server.server_port, flush=True)
server.serve_forever()
"""


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def post(port: int, size: int) -> tuple[str, float, int]:
    """(status line, seconds to the answer, bytes sent before it)."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        f"POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {size}\r\n\r\n".encode()
    )
    started, sent, piece = time.monotonic(), 0, b"A" * 65536
    sock.setblocking(False)
    answer = b""
    while not answer:
        try:
            answer = sock.recv(100)
            break
        except BlockingIOError:
            pass
        if sent < size:
            try:
                sent += sock.send(piece[: size - sent])
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                time.sleep(0.001)
        else:
            time.sleep(0.01)
    sock.close()
    return answer.split(b"\r\n", 1)[0].decode(), time.monotonic() - started, sent


def measure(mode: str, size: int) -> None:
    child = subprocess.Popen([sys.executable, "-c", SERVER, mode], stdout=subprocess.PIPE, text=True)
    try:
        port = int(child.stdout.readline())
        before = peak_rss_mb(child.pid)
        status, seconds, sent = post(port, size)
        after = peak_rss_mb(child.pid)
        label = "no limit (before)" if mode == "none" else "MAX_CONTENT_LENGTH 128 KiB (after)"
        print(
            f"{label:36} {status:32} answered after {seconds:6.2f} s, {sent / 1e6:7.1f} MB sent; "
            f"server peak RSS {before:6.0f} → {after:6.0f} MiB"
        )
    finally:
        child.terminate()
        child.wait()


if __name__ == "__main__":
    megabytes = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    print(f"anonymous POST /login with a {megabytes} MB form body")
    for mode in ("none", "default"):
        measure(mode, megabytes * 1_000_000)
