"""Every test runs with its own config dir, data dir and file-based credential store, so nothing
touches the developer's real login or keychain."""

from __future__ import annotations

import pytest

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
    monkeypatch.setenv("CSTAR_CREDENTIAL_STORE", "file")
    monkeypatch.setenv("TERM", "dumb")
