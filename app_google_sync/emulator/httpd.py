"""The HTTP layer: a keep-alive request handler and JSON answers, for ThreadingHTTPServer."""

import ipaddress
import json
import logging
import socket
from http.server import BaseHTTPRequestHandler

from . import errors

NO_STORE = "no-cache, no-store, max-age=0, must-revalidate"  # answers a client must never cache (tokens)

log = logging.getLogger(__name__)

JSON_TYPE = "application/json; charset=UTF-8"


class Truncated(bytes):
    """An answer body of which only the first half is written before the connection closes."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as httplib2 expects
    server_version = "ESF"
    sys_version = ""
    emulator = None

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes; without this, delayed ACKs add 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.emulator.open_connections.add(self.connection)

    def finish(self):
        self.emulator.open_connections.discard(self.connection)
        super().finish()

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        method = self.headers.get("X-HTTP-Method-Override", self.command).upper()
        answer = self.emulator.handle_http(method, self.path, self.headers, body)
        if answer is None:  # a lost answer: the client sees the connection close, no response
            self.close_connection = True
            return
        status, headers, payload = answer
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if isinstance(payload, Truncated):
                self.wfile.write(payload[: len(payload) // 2])
                self.close_connection = True
                return
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a timeout shorter than answer_delay): its answer is lost.
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    def log_message(self, format, *args):  # noqa: A002  (the emulator logs requests itself)
        log.debug(format, *args)


def json_body(body):
    if not body.strip():
        return {}
    try:
        value = json.loads(body.decode("utf-8"))
    except ValueError:
        raise errors.ApiError(400, "parseError", "Invalid JSON payload received. Unexpected token.") from None
    if not isinstance(value, dict):
        raise errors.invalid("Invalid JSON payload received. Expected an object.")
    return value


def json_answer(status, payload, pretty=True):
    if status == 204 or payload is None:
        return status, {}, b""
    text = json.dumps(payload, ensure_ascii=False, indent=2 if pretty else None)
    return status, {"Content-Type": JSON_TYPE, "Vary": "Origin, X-Origin, Referer"}, text.encode("utf-8")


def is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
