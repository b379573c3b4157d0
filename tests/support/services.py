"""Fixtures for tests of the emulator's services without HTTP, loaded as a plugin by the modules
that use them (``pytest_plugins = ["tests.support.services"]``): ``emu``, an :class:`Emulator` on a
tmp SQLite file (no server, no socket), and ``scope``, its seeded team's test mode."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cstar_emulator import Emulator, Settings
from cstar_emulator.db import Scope

__all__ = ["emu", "scope"]


@pytest.fixture
def emu(tmp_path: Path) -> Iterator[Emulator]:
    """A seeded emulator on ``tmp_path / "emulator.db"``, without rate limits; closed afterwards."""
    emulator = Emulator(tmp_path / "emulator.db", Settings(rate_limit=0))
    yield emulator
    emulator.db.close()


@pytest.fixture
def scope(emu: Emulator) -> Scope:
    """The seeded team's test mode."""
    return Scope(emu.seed.team_id, "test")
