"""Parallel `cstar login` / `cstar logout` runs sharing one config folder (parallel CI jobs on one home)
keep every profile and key: real subprocesses against a real emulator, file credential store."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cstar_cli._files import load_toml
from tests.support.cli import cstar_env
from tests.support.emulator import LocalEmulator

N = 12


def run_parallel(commands: list[list[str]], env: dict[str, str]) -> list[tuple[int, str, str]]:
    """Start every command at once, then wait for all: ``(exit code, stdout, stderr)`` each."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "cstar_cli", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=cstar_env(env),
        )
        for args in commands
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        results.append((p.returncode, out, err))
    return results


def read_toml(path: Path) -> dict[str, Any]:
    return load_toml(path)


def login_args(emu: LocalEmulator, profile: str, key: str) -> list[str]:
    return ["--profile", profile, "login", "--api-key", key, "--base-url", emu.base_url, "--json"]


@pytest.fixture
def shared(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    folder = tmp_path / "shared-home" / "cstar"
    return folder, {"CSTAR_CONFIG_DIR": str(folder), "CSTAR_CREDENTIAL_STORE": "file"}


def check_files(folder: Path, expected: dict[str, str], emu: LocalEmulator) -> None:
    config = read_toml(folder / "config.toml")
    creds = read_toml(folder / "credentials.toml")
    assert sorted(config.get("profiles", {})) == sorted(expected)
    assert sorted(creds.get("profiles", {})) == sorted(expected)
    for name, key in expected.items():
        assert creds["profiles"][name] == {"api_key": key}
        profile = config["profiles"][name]
        assert profile["base_url"] == emu.base_url and profile["key_redacted"].endswith(key[-4:])
    if expected:
        assert stat.S_IMODE((folder / "credentials.toml").stat().st_mode) == 0o600
    # Every writer used its own temp file and renamed it into place: none is left behind.
    assert not list(folder.glob("*.tmp")) and not list(folder.glob(".*.tmp"))


def test_parallel_logins_and_logouts_lose_nothing(
    emulator_session: LocalEmulator, shared: tuple[Path, dict[str, str]]
) -> None:
    emu = emulator_session
    folder, env = shared
    keys = list(emu.keys.values())
    wanted = {f"p{i}": keys[i % len(keys)] for i in range(N)}

    results = run_parallel([login_args(emu, name, key) for name, key in wanted.items()], env)
    for code, out, err in results:
        assert code == 0, err
        assert json.loads(out)["storage"] == "file"
    check_files(folder, wanted, emu)

    # Half log out while the other half's neighbours log in: each keeps what the others wrote.
    leaving = [f"p{i}" for i in range(N // 2)]
    joining = {f"q{i}": keys[i % len(keys)] for i in range(N // 2)}
    commands = [["--profile", name, "logout", "--json"] for name in leaving]
    commands += [login_args(emu, name, key) for name, key in joining.items()]
    for code, _, err in run_parallel(commands, env):
        assert code == 0, err
    remaining = {k: v for k, v in wanted.items() if k not in leaving} | joining
    check_files(folder, remaining, emu)

    results = run_parallel([["--profile", name, "logout", "--json"] for name in remaining], env)
    for (code, out, err), name in zip(results, remaining, strict=True):
        assert code == 0, err
        assert json.loads(out) == {"loggedOut": [name]}
    check_files(folder, {}, emu)
    assert "default_profile" not in read_toml(folder / "config.toml")
