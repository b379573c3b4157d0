"""File modes of the config folder and the credentials file: folders cstar makes are 0700, folders it
finds keep their mode, the credentials file is 0600 whatever was left behind, and a credentials file
others can read is made private (or not used) with a warning."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cstar_cli import credentials
from cstar_cli._files import atomic_write, ensure_dir
from cstar_cli.profiles import Config
from tests.support.cli import cstar

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")

KEY = "sk_test_" + "m0D3" * 7


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def config_dir() -> Path:
    return Path(os.environ["CSTAR_CONFIG_DIR"])


@pytest.fixture
def loose_umask() -> Iterator[None]:
    # The worst case for files created without an explicit mode: everything world-readable/writable.
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def login(emu: Any, *extra: str) -> None:
    r = cstar("login", "--api-key", emu.keys["sk_test"], "--base-url", emu.base_url, "--json", *extra)
    assert r.code == 0, r.stderr


def test_an_existing_shared_folder_keeps_its_mode(
    emulator_session: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    monkeypatch.setenv("CSTAR_CONFIG_DIR", str(shared))
    login(emulator_session)
    assert mode(shared) == 0o1777
    assert mode(shared / "credentials.toml") == 0o600
    assert (shared / "credentials.toml.lock").exists() and (shared / "config.toml.lock").exists()
    r = cstar("logout")
    assert r.code == 0 and mode(shared) == 0o1777


def test_folders_cstar_creates_are_0700(
    emulator_session: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loose_umask: None
) -> None:
    base = tmp_path / "home"
    base.mkdir(mode=0o755)
    target = base / "a" / "b" / "cstar"
    monkeypatch.setenv("CSTAR_CONFIG_DIR", str(target))
    login(emulator_session)
    for folder in (base / "a", base / "a" / "b", target):
        assert mode(folder) == 0o700, folder
    assert mode(base) == 0o755
    assert mode(target / "credentials.toml") == 0o600


def test_a_leftover_loose_temp_file_does_not_loosen_the_credentials(emulator_session: Any, loose_umask: None) -> None:
    folder = config_dir()
    folder.mkdir(parents=True)
    # What an older cstar (or an interrupted write) may have left: fixed temp names, world-readable.
    for name in ("credentials.tmp", "credentials.toml.tmp", "config.toml.tmp"):
        (folder / name).write_text("stale")
        os.chmod(folder / name, 0o644)
    login(emulator_session)
    assert mode(folder / "credentials.toml") == 0o600
    assert emulator_session.keys["sk_test"] in (folder / "credentials.toml").read_text()
    assert (folder / "credentials.tmp").read_text() == "stale"  # not reused, not ours to delete


def test_a_credentials_file_others_can_read_is_made_private_with_a_warning(emulator_session: Any) -> None:
    login(emulator_session)
    path = config_dir() / "credentials.toml"
    os.chmod(path, 0o644)
    r = cstar("status", "--json")
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout)["keySource"] == "file"
    assert "accessible to other users (mode 0644); changed it to 0600" in r.stderr
    assert mode(path) == 0o600
    again = cstar("status", "--json")
    assert again.code == 0 and "Warning" not in again.stderr


def test_a_credentials_file_that_cannot_be_made_private_is_not_used(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    credentials.store_key("default", KEY)
    path = config_dir() / "credentials.toml"
    os.chmod(path, 0o664)
    real_chmod = os.chmod

    def refuse(p: Any, m: int, *a: Any, **kw: Any) -> None:
        if Path(p) == path:
            raise PermissionError(1, "Operation not permitted", str(p))
        real_chmod(p, m, *a, **kw)

    monkeypatch.setattr(os, "chmod", refuse)
    key, source, notices = credentials.load_key("default", "file")
    assert (key, source) == (None, None)
    assert capsys.readouterr().err == ""
    (notice,) = notices
    assert notice.startswith("Warning: ") and "cannot be made private (Operation not permitted); not using it" in notice
    assert KEY not in notice


def test_writes_replace_the_file_and_keep_other_entries(tmp_path: Path, loose_umask: None) -> None:
    target = tmp_path / "x.toml"
    target.write_text("old")
    os.chmod(target, 0o666)
    atomic_write(target, "new")
    assert target.read_text() == "new" and mode(target) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["x.toml"]

    cfg = Config()
    cfg.set_profile("a", {"team_id": "1"})
    Config().set_profile("b", {"team_id": "2"})  # another process's write, unseen by `cfg`
    cfg.set_profile("c", {"team_id": "3"})
    assert sorted(Config().profiles()) == ["a", "b", "c"]
    assert cfg.remove_profile("b") and not Config().remove_profile("b")
    assert sorted(Config().profiles()) == ["a", "c"]


def test_ensure_dir_leaves_existing_folders_alone(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)
    ensure_dir(tmp_path)
    ensure_dir(tmp_path / "new")
    assert mode(tmp_path) == 0o755 and mode(tmp_path / "new") == 0o700


def test_logout_when_never_logged_in_creates_nothing() -> None:
    r = cstar("logout")
    assert r.code == 0
    assert not config_dir().exists()
