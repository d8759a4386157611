"""Fixtures of the browser tests: one local server and one agent per run (tests/browser/harness.py),
a fresh headless Chromium per test."""

import pytest

from harness import SCREENSHOTS, Api, Console, Server, make_driver


@pytest.fixture(scope="session")
def server():
    s = Server()
    yield s
    s.stop()


@pytest.fixture(scope="session")
def admin(server):
    return Api(server.base, *server.admin)


@pytest.fixture(scope="session")
def agent(server, admin):
    """An agent created through the admin API, as an administrator would."""
    out = admin.ok("POST", "/v2/organization/clients", {"role": "agent", "displayName": "Asha Rao"})
    return Api(server.base, out["clientKey"], out["secret"])


def pytest_sessionstart(session):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)


@pytest.fixture(scope="session")
def browser_factory():
    drivers = []

    def make(width=1280, height=900):
        drivers.append(make_driver(width, height))
        return drivers[-1]

    yield make
    for d in drivers:
        d.quit()


@pytest.fixture
def browser(browser_factory):
    return browser_factory()


@pytest.fixture
def console(browser, server):
    return Console(browser, server.base)
