"""``cstar status --json`` on the entry point's fast path (cstar_cli.commands.fast): the same stdout,
stderr and exit code as the full CLI for the same arguments, errors included, and no Typer loaded."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import entry as through
from tests.support.cli import cstar_env
from tests.support.emulator import EmulatorThread
from tests.support.entry import FULL_CLI

pytestmark = pytest.mark.e2e

# What differs between two calls to the same API: the measured round trip and the request's ID.
_VOLATILE = re.compile(r'("roundTripMs": ?)[0-9.]+|("requestId": ?)"req_[A-Za-z0-9]+"|(reachable, )[0-9.]+')


def _steady(run: tuple[int, str, str]) -> tuple[int, str, str]:
    code, stdout, stderr = run
    return code, _VOLATILE.sub(lambda m: next(g for g in m.groups() if g) + "…", stdout), stderr


def entry(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    return _steady(through.entry(args, env))


def full(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    return _steady(through.full(args, env))


def _imported(stderr: str) -> set[str]:
    return {name.split(".")[0] for name in through.imported_modules(stderr)}


ARGVS = [
    ["status", "--json"],
    ["--json", "status"],
    ["status", "--json", "--no-color"],
    ["--debug", "status", "--json"],
    ["status", "--json", "--json"],
    ["status", "--json", "--profile", "default"],
    ["status", "--json", "--profile=nosuch"],
    ["status", "--json", "--profile", "bad name!"],
    ["status", "--json", "--base-url", "ftp://example.com"],
    ["status", "--json", "--base-url=http://"],
    ["status", "--json", "--api-key", "sk_test_0000000000000000abcd"],
    ["status", "--json", "--api-key", "not-a-key"],
    # left to the full CLI
    ["status"],
    ["status", "--json", "extra"],
    ["status", "--json", "--help"],
    ["status", "--json", "--api-key"],
    ["status", "--json", "--base-url", "--profile"],
    ["status", "--json", "--"],
    ["status", "--json", "--bogus"],
]


@pytest.fixture
def logged_in(emulator_session: EmulatorThread) -> dict[str, str]:
    """An environment whose default profile is logged in to the emulator (file credential store)."""
    proc = subprocess.run(
        [sys.executable, "-c", FULL_CLI, "login", "--api-key", "-", "--base-url", emulator_session.base_url],
        input=emulator_session.keys["sk_test"],
        capture_output=True,
        text=True,
        env=cstar_env(),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return {}


@pytest.mark.parametrize("args", ARGVS, ids=" ".join)
def test_logged_in_status_is_the_full_clis(args: list[str], logged_in: dict[str, str]) -> None:
    assert entry(args, logged_in) == full(args, logged_in)


@pytest.mark.parametrize(
    "args",
    [["status", "--json"], ["--json", "--no-color", "status"], ["status", "--json", "--base-url", "http://[::1"]],
    ids=" ".join,
)
def test_not_logged_in_is_the_full_clis(args: list[str]) -> None:
    fast = entry(args, {})
    assert fast == full(args, {})
    assert fast[0] in (2, 3)


def test_env_key_and_a_withheld_stored_key_are_the_full_clis(logged_in: dict[str, str], tmp_path: Path) -> None:
    other = "http://127.0.0.1:1"  # the stored key belongs to the emulator: withheld here
    for env in ({"CSTAR_BASE_URL": other}, {"CSTAR_API_KEY": "sk_test_0000000000000000wxyz"}):
        assert entry(["status", "--json"], env) == full(["status", "--json"], env)


def test_api_down_prints_the_document_then_exits_9(emulator_session: EmulatorThread) -> None:
    # Port 1 on loopback refuses connections: "network down" without waiting for a timeout.
    env = {"CSTAR_API_KEY": emulator_session.keys["sk_test"], "CSTAR_BASE_URL": "http://127.0.0.1:1"}
    fast = entry(["status", "--json"], env)
    assert fast == full(["status", "--json"], env)
    assert fast[0] == 9 and '"reachable":false' in fast[1].replace(" ", "")


def test_fast_path_loads_no_typer(emulator_session: EmulatorThread) -> None:
    env = {"CSTAR_API_KEY": emulator_session.keys["sk_test"], "CSTAR_BASE_URL": emulator_session.base_url}
    env["PYTHONPROFILEIMPORTTIME"] = "1"
    code, _, stderr = entry(["status", "--json"], env)
    assert code == 0, stderr[-2000:]
    loaded = _imported(stderr)
    assert "httpx" in loaded  # it did call the API
    assert not loaded & {"typer", "click", "rich", "pydantic", "mcp", "keyring"}
