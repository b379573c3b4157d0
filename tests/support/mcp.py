"""Fixtures for MCP tests that drive the server in-process (the SDK's ``Client(server)``) against a
module's own in-thread emulator: star-import them (``from tests.support.mcp import *``) so each test
module gets its own emulator, and a new server per test.

- ``anyio_backend``: asyncio.
- ``emu``: a :class:`~tests.support.emulator.LocalEmulator` for the whole module.
- ``server``: a :class:`~cstar_cli.mcp.server.CStarMCPServer` with every tool, on ``emu``'s
  ``sk_test`` key, no retries (a failure shows at once).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cstar_cli.mcp.access import ApiAccess
from cstar_cli.mcp.server import CStarMCPServer, build_server
from cstar_cli.settings import resolve
from tests.support.emulator import LocalEmulator, start_emulator_thread

#: The fixtures (helpers are imported by name).
__all__ = ["anyio_backend", "emu", "server"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEmulator]:
    e = start_emulator_thread(tmp_path_factory.mktemp("mcp-emu") / "emulator.db")
    try:
        yield e
    finally:
        e.stop()


@pytest.fixture
def server(emu: LocalEmulator) -> Iterator[CStarMCPServer]:
    api = ApiAccess(lambda: resolve(api_key=emu.keys["sk_test"], base_url=emu.base_url), max_retries=0)
    yield build_server(api)
    api.close()
