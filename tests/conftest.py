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
