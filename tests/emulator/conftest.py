"""Fixtures: a fresh emulator on a free port per test, driven by the real Google client."""

import time

import pytest
from emulator_helpers import ADMIN, Batch, FakeClock, credentials, directory

from app_google_sync.emulator.server import Emulator


@pytest.fixture(scope="session")
def session_key():
    """One RSA key for the whole run (generating one per test would dominate the run time)."""
    return Emulator().create_service_account()


@pytest.fixture
def clock():
    """A hand-moved clock; a test that asks for it gets an `emu` running on it."""
    return FakeClock()


@pytest.fixture
def emu(request):
    clock = request.getfixturevalue("clock") if "clock" in request.fixturenames else time.monotonic
    emulator = Emulator(domain="example.com", admin_email=ADMIN, clock=clock)
    emulator.start(host="127.0.0.1", port=0)
    yield emulator
    emulator.stop()


@pytest.fixture
def key(emu, session_key):
    """The session key, trusted by this test's emulator, with its token_uri."""
    info = dict(session_key, token_uri=emu.token_uri)
    emu.register_service_account(info)
    return info


@pytest.fixture
def creds(key):
    return credentials(key)


@pytest.fixture
def service(emu, creds):
    return directory(emu, creds)


@pytest.fixture
def new_batch(emu, creds):
    return lambda: Batch(emu, creds)
