"""Every test runs with its own config dir, data dir and file-based credential store, so nothing
touches the developer's real login or keychain."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.cli import reap_all
from tests.support.emulator import *  # noqa: F403 - fixtures: emulator, emulator_session, …

_CLEARED = (
    "CSTAR_API_KEY",
    "CSTAR_BASE_URL",
    "CSTAR_PROFILE",
    "NO_COLOR",
    "CLICOLOR",
    "CLICOLOR_FORCE",
    "FORCE_COLOR",
    "PYTHON_KEYRING_BACKEND",
    "CSTAR_DEBUG",
)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path_factory.mktemp("home")
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CSTAR_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("CSTAR_DATA_DIR", str(home / "data"))
    # The help cache (cstar_cli.commands.fast) is written here, never into the user's ~/.cache.
    monkeypatch.setenv("CSTAR_CACHE_DIR", str(home / "cache"))
    monkeypatch.setenv("CSTAR_CREDENTIAL_STORE", "file")
    monkeypatch.setenv("TERM", "dumb")


# Two lanes. `pytest -m "not e2e"` is the fast lane: no emulator, no subprocess, no socket server; it
# checks parsing, rendering, signing, the error tree and the like in seconds. Everything else is
# marked `e2e`: tests that use an emulator fixture are marked here, tests that start processes or
# servers themselves carry the mark in their module. The guard below keeps the fast lane honest.
_E2E_FIXTURES = frozenset({"emulator", "emulator_session", "emulator_process"})


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: starts the emulator, a subprocess or a local server (the slow lane)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _E2E_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def _reap_processes() -> Iterator[None]:
    # Processes a test's helpers started (tests.support.cli.reap_at_teardown) end with the test, even
    # a failed one: none outlives it, and no pipe is left to the garbage collector.
    yield
    reap_all()


_running: list[str] = [""]  # the test being set up, run or torn down, named in the guard's error


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _running[0] = item.nodeid


@pytest.fixture(scope="session", autouse=True)
def _fast_lane_starts_no_process(request: pytest.FixtureRequest) -> Iterator[None]:
    # Only in the fast lane itself (the full run needs no guard), and for the whole session, so that
    # module- and session-scoped fixtures are held to it too.
    if "not e2e" not in (request.config.option.markexpr or ""):
        yield
        return
    import socket
    import subprocess

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"{_running[0]} starts a process or a server: mark it `e2e` (pytest.mark.e2e)")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(subprocess.Popen, "__init__", refuse)
        patch.setattr(os, "fork", refuse)
        # Every TCP server (uvicorn, http.server, asyncio's) listens; clients and socketpairs do not.
        patch.setattr(socket.socket, "listen", refuse)
        yield
