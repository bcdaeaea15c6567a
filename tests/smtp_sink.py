"""A real SMTP server for the tests of notifications (importable from any test directory: tests/ is on the path)."""

from __future__ import annotations


class SmtpSink:
    """A real SMTP server (aiosmtpd) on a free loopback port that keeps every message it accepts."""

    def __init__(self, **smtp_options):
        import socket

        from aiosmtpd.controller import Controller

        self.messages = []
        self.logins = []
        with socket.socket() as probe:  # aiosmtpd checks its port by connecting to it, so it needs a real one
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.controller = Controller(
            self, hostname="127.0.0.1", port=self.port, server_hostname="localhost", **smtp_options
        )

    async def handle_DATA(self, server, session, envelope):  # noqa: N802  (aiosmtpd's hook name)
        from email import message_from_bytes, policy

        self.messages.append(message_from_bytes(envelope.original_content or envelope.content, policy=policy.default))
        return "250 Message accepted"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"smtp-Secret-7", handled=False)

    def bodies(self) -> list[str]:
        return [message.get_content() for message in self.messages]
