"""An oversized request is refused early (413), before its body is read: memory stays bounded whoever sends it.

The app is served over a real socket (werkzeug's threaded server, as the demo serves it) and the body is
streamed: a server that reads the whole body before answering never answers while the client is still sending.
"""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest
from host_helpers import host_config
from werkzeug.serving import make_server

from app_google_sync.host import create_app

DECLARED = 500_000_000  # what the client announces (the curl)
SEND_AT_MOST = 64 * 1024 * 1024  # what the test is willing to stream before calling it a failure
CHUNK = 64 * 1024


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.fixture
def serve():
    servers = []

    def start(app) -> int:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server.server_port

    yield start
    for server in servers:
        server.shutdown()


def stream_post(
    port: int, path: str, chunked: bool, content_type="application/x-www-form-urlencoded"
) -> tuple[bytes, int]:
    """POST ``path`` with a huge body, sent piece by piece until the server answers; (status line, bytes sent)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {DECLARED}"
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n{length}\r\n\r\n".encode()
    )
    piece = b"A" * CHUNK
    if chunked:
        piece = f"{CHUNK:x}\r\n".encode() + piece + b"\r\n"
    sent = 0
    sock.setblocking(False)
    try:
        while sent < SEND_AT_MOST:
            try:
                answer = sock.recv(200)
            except BlockingIOError:
                answer = b""
            if answer:
                return answer.split(b"\r\n", 1)[0], sent
            try:
                sent += sock.send(piece)
            except BlockingIOError:
                time.sleep(0.001)
            except (BrokenPipeError, ConnectionResetError):
                break
        sock.settimeout(10)
        try:
            return sock.recv(200).split(b"\r\n", 1)[0], sent
        except OSError:
            return b"(no answer)", sent
    finally:
        sock.close()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("path", ["/login", "/users/new", "/apps/fake_sync/action"])
def test_an_oversized_anonymous_post_is_refused_before_its_body_is_read(directory, plugin, serve, path, chunked):
    port = serve(create_app(host_config(directory, CONSOLE_PLUGINS=[plugin])))
    before = rss_bytes()
    status, sent = stream_post(port, path, chunked)
    grown = rss_bytes() - before
    assert status.startswith(b"HTTP/1.1 411" if chunked else b"HTTP/1.1 413"), (status, sent)
    assert sent < 8 * 1024 * 1024, f"the server answered only after {sent} bytes"
    assert grown < 32 * 1024 * 1024, f"the server grew by {grown} bytes"


def test_the_limit_is_128_kib_by_default_and_configurable(directory, plugin):
    app = create_app(host_config(directory, CONSOLE_PLUGINS=[plugin]))
    assert app.config["MAX_CONTENT_LENGTH"] == 128 * 1024
    client = app.test_client()
    response = client.post("/login", data={"username": "admin", "password": "x" * (130 * 1024)})
    assert response.status_code == 413
    assert "The request is too large (more than 128 KiB)" in response.get_data(as_text=True)
    bigger = create_app(host_config(directory, CONSOLE_PLUGINS=[plugin], MAX_CONTENT_LENGTH=1024 * 1024))
    assert (
        bigger.test_client().post("/login", data={"username": "admin", "password": "x" * (130 * 1024)}).status_code
        == 400
    )  # CSRF
