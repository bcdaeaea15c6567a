"""Fixtures for the reference host console: an app over the session's slapd and a recording fake plugin."""

from __future__ import annotations

import pytest
from host_helpers import Browser, FakePlugin, host_config

from app_google_sync.host import create_app


@pytest.fixture
def plugin():
    return FakePlugin()


@pytest.fixture
def extension(plugin):
    return plugin.extension


@pytest.fixture
def app(directory, plugin):
    return create_app(host_config(directory, CONSOLE_PLUGINS=[plugin]))


@pytest.fixture
def anonymous(app):
    return Browser(app.test_client())


@pytest.fixture
def admin(app):
    browser = Browser(app.test_client())
    response = browser.login()
    assert response.status_code == 302, response.text
    return browser
