"""Keychain first, 0600 file as the fallback, a timeout on every keychain call."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from cstar_cli import credentials
from cstar_cli.profiles import Config
from cstar_cli.settings import resolve

KEY = "sk_test_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4"


@pytest.fixture
def test_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    import keyring

    from tests.support.keyring_backend import FileKeyring

    path = tmp_path / "keyring.json"
    monkeypatch.setenv("CSTAR_TEST_KEYRING_FILE", str(path))
    monkeypatch.delenv("CSTAR_CREDENTIAL_STORE", raising=False)
    previous = keyring.get_keyring()
    keyring.set_keyring(FileKeyring())
    yield path
    keyring.set_keyring(previous)


def test_store_in_keychain_and_load(test_keyring: Path) -> None:
    storage, where, notices = credentials.store_key("default", KEY)
    assert (storage, notices) == ("keychain", ())
    assert "cstar-cli" in where
    assert json.loads(test_keyring.read_text()) == {"cstar-cli/default": KEY}
    assert credentials.load_key("default", "keychain") == (KEY, "keychain", ())
    assert credentials.delete_key("default").removed
    assert credentials.load_key("default", "keychain") == (None, None, ())


def test_failing_keychain_falls_back_to_private_file(
    test_keyring: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CSTAR_TEST_KEYRING_MODE", "fail")
    storage, where, notices = credentials.store_key("work", KEY)
    assert storage == "file"
    assert capsys.readouterr().err == ""  # said through the caller's output, not printed here
    (notice,) = notices
    assert notice.startswith("Note: the OS keychain failed") and "mode 0600) instead" in notice
    assert KEY not in notice
    path = Path(os.environ["CSTAR_CONFIG_DIR"]) / "credentials.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert credentials.load_key("work", "file") == (KEY, "file", ())


def test_hanging_keychain_times_out(test_keyring: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSTAR_TEST_KEYRING_MODE", "hang")
    monkeypatch.setattr(credentials, "KEYRING_TIMEOUT", 0.2)
    assert credentials.store_key("default", KEY).storage == "file"


def test_no_keyring_backend_uses_file(monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring
    from keyring.backends import fail

    monkeypatch.delenv("CSTAR_CREDENTIAL_STORE", raising=False)
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        assert credentials.store_key("default", KEY).storage == "file"
    finally:
        keyring.set_keyring(previous)


def test_env_key_overrides_stored_key_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    credentials.store_key("default", KEY)
    Config().set_profile("default", {"key_storage": "file", "team_id": "t1"})
    s = resolve()
    assert (s.api_key, s.key_source, s.team_id) == (KEY, "file", "t1")
    other = "sk_live_" + "Z" * 28
    monkeypatch.setenv("CSTAR_API_KEY", other)
    s = resolve()
    assert (s.api_key, s.key_source, s.team_id) == (other, "env", None)
    assert any("overrides" in n for n in s.notices)
    assert all(other not in n for n in s.notices)
    s = resolve(api_key=KEY)
    assert s.key_source == "flag"
