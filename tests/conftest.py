"""Shared fixtures: one real slapd for the whole session, emptied before each test that uses it."""

from __future__ import annotations

import pytest
from smtp_sink import SmtpSink

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


@pytest.fixture
def smtp_sink():
    sink = SmtpSink()
    sink.controller.start()
    yield sink
    sink.controller.stop()


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server started for this test session (see tests/postgres_server.py)."""
    from postgres_server import PostgresServer

    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server):
    """The SQLAlchemy URL of an empty PostgreSQL database of this test's own."""
    return postgres_server.new_database()
