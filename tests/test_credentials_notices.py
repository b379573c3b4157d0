"""The credential store and settings never print: what the user should be told comes back as notices,
whole ``Note:`` / ``Warning:`` lines without the key, and the command shows each once on stderr."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from cstar_cli import credentials
from cstar_cli.context import AppContext
from cstar_cli.profiles import Config
from cstar_cli.settings import resolve
from tests.support.cli import cstar

KEY = "sk_test_" + "n0T1" * 7
posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


def credentials_file() -> Path:
    return Path(os.environ["CSTAR_CONFIG_DIR"]) / "credentials.toml"


def loosen() -> Path:
    path = credentials_file()
    os.chmod(path, 0o644)
    return path


def stored_in_file(profile: str = "default") -> None:
    credentials.store_key(profile, KEY)
    Config().set_profile(profile, {"key_storage": "file", "team_id": "t1"})


def test_the_fallback_is_a_note_in_the_result(capsys: pytest.CaptureFixture[str]) -> None:
    stored = credentials.store_key("default", KEY)
    assert stored.storage == "file" and stored.where == f"{credentials_file()} (mode 0600)"
    assert stored.notices == (f"Note: CSTAR_CREDENTIAL_STORE=file; the key is stored in {stored.where} instead.",)
    assert capsys.readouterr() == ("", "")


@posix_only
def test_a_fixed_mode_comes_back_from_load_store_and_delete(capsys: pytest.CaptureFixture[str]) -> None:
    stored_in_file()
    fixed = f"Warning: {credentials_file()} was accessible to other users (mode 0644); changed it to 0600."

    loosen()
    loaded = credentials.load_key("default", "file")
    assert (loaded.key, loaded.source, loaded.notices) == (KEY, "file", (fixed,))

    loosen()
    assert credentials.store_key("other", KEY).notices[0] == fixed

    loosen()
    deleted = credentials.delete_key("default")
    assert (deleted.removed, deleted.notices) == (True, (fixed,))
    assert stat.S_IMODE(credentials_file().stat().st_mode) == 0o600
    assert capsys.readouterr() == ("", "")


@posix_only
def test_resolve_hands_the_stored_keys_notices_on(capsys: pytest.CaptureFixture[str]) -> None:
    stored_in_file()
    loosen()
    s = resolve()
    assert s.api_key == KEY
    assert len(s.notices) == 1 and s.notices[0].startswith("Warning: ") and "changed it to 0600" in s.notices[0]
    assert not resolve().notices  # fixed once, quiet after
    assert capsys.readouterr() == ("", "")


def test_the_context_shows_each_notice_once_as_a_whole_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stored_in_file()
    monkeypatch.setenv("CSTAR_API_KEY", "sk_live_" + "Z" * 28)
    app = AppContext()
    app.settings()
    app.settings()
    err = capsys.readouterr().err.splitlines()
    assert err == ["Note: CSTAR_API_KEY (sk_live_…ZZZZ) overrides the key stored for profile 'default'."]


@posix_only
def test_logout_shows_the_fixed_mode_on_stderr() -> None:
    stored_in_file()
    path = loosen()
    r = cstar("logout", "--json")
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout) == {"loggedOut": ["default"]}
    assert f"Warning: {path} was accessible to other users (mode 0644); changed it to 0600." in r.stderr.splitlines()


def test_login_shows_the_fallback_note_on_stderr_not_stdout(emulator_session: Any) -> None:
    key = emulator_session.keys["sk_test"]
    r = cstar("login", "--api-key", key, "--base-url", emulator_session.base_url, "--json")
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout)["storage"] == "file"
    note = f"Note: CSTAR_CREDENTIAL_STORE=file; the key is stored in {credentials_file()} (mode 0600) instead."
    assert r.stderr.splitlines().count(note) == 1
    assert key not in r.stderr
