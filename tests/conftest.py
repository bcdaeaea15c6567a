"""Shared fixtures: one real slapd for the whole session, emptied before each test that uses it."""
from __future__ import annotations

import pytest

from app_google_sync.demo.directory import DemoDirectory


@pytest.fixture(scope="session")
def ldap_server():
    """A ClearOS-like slapd (DemoDirectory), started once per test session."""
    with DemoDirectory() as server:
        yield server


@pytest.fixture
def directory(ldap_server):
    """The session's slapd, running, with its tree empty and its limits as configured."""
    ldap_server.reset()
    return ldap_server


@pytest.fixture
def ldap_settings(directory):
    """LdapSettings that read ``directory`` as its sync service account."""
    return directory.settings()


@pytest.fixture
def env(directory, tmp_path):
    """The session's slapd (with the ClearOS google_apps_plugin group) plus a fresh emulator and config."""
    from app_google_sync.demo.environment import DemoEnvironment

    directory.add_group("google_apps_plugin", description="Google Apps Synchronization - Plugin")
    with DemoEnvironment(state_dir=str(tmp_path), directory=directory) as environment:
        yield environment


@pytest.fixture
def big_env(tmp_path):
    """A slapd whose size limit (50) only paged searches may pass, so reading it whole proves paging."""
    from app_google_sync.demo.directory import DemoDirectory, paged_only_limits
    from app_google_sync.demo.environment import DemoEnvironment

    with DemoDirectory(size_limit=50, sync_limits=paged_only_limits(50)) as server:
        server.add_group("google_apps_plugin")
        with DemoEnvironment(state_dir=str(tmp_path), directory=server) as environment:
            yield environment


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
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port, server_hostname="localhost", **smtp_options)

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


@pytest.fixture
def smtp_sink():
    sink = SmtpSink()
    sink.controller.start()
    yield sink
    sink.controller.stop()
