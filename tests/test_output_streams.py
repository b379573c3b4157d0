"""Standard output that cannot take the data: a full disk, a closed descriptor, a reader that left.

Each ends with a one-line error and exit 11 (quietly with exit 0 for EPIPE), never "Unexpected …".
These run the real ``cstar`` as a subprocess, because the failures live in file descriptors.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from cstar_cli.errors import EXIT_CODES, CStarOutputError
from tests.support.cli import cstar, cstar_env

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(sys.platform == "win32", reason="POSIX descriptors and /dev/full"),
]

COMMANDS = [["--version"], ["--help"], [], ["events"], ["events", "--json"], ["trigger", "--help"]]


def _run_shell(args: list[str], redirect: str) -> subprocess.CompletedProcess[str]:
    # The shell does the redirection, exactly as a user's `cstar … > /dev/full` or `cstar … >&-` would.
    cmd = " ".join([f'"{sys.executable}"', "-m", "cstar_cli", *args]) + " " + redirect
    return subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, env=cstar_env(), timeout=60)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a) or "bare")
def test_a_full_disk_is_one_line_and_exit_11(args: list[str]) -> None:
    r = _run_shell(args, "> /dev/full")
    assert r.returncode == CStarOutputError.exit_code == 11
    assert "No space left on device" in r.stderr
    assert "Unexpected" not in r.stderr and "Traceback" not in r.stderr
    if "--json" in args:
        assert len(r.stderr.splitlines()) == 1  # the JSON error document
    else:
        assert len([line for line in r.stderr.splitlines() if line.startswith("Error:")]) == 1


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a) or "bare")
def test_a_closed_stdout_is_one_line_and_exit_11(args: list[str]) -> None:
    r = _run_shell(args, ">&-")
    assert r.returncode == 11
    assert "standard output is closed" in r.stderr
    assert "Unexpected" not in r.stderr and "Traceback" not in r.stderr


def test_json_errors_stay_json_when_stdout_fails() -> None:
    r = _run_shell(["events", "--json"], ">&-")
    import json

    err = json.loads(r.stderr.strip().splitlines()[-1])["error"]
    assert err["type"] == "output_error" and err["code"] == "output_failed" and err["hint"]


def test_a_closed_stdout_never_lends_its_descriptor_to_a_file(tmp_path: object) -> None:
    # With descriptor 1 closed, the next open() would get it and "stdout" data would land in that file.
    from cstar_cli import _stdio

    code = (
        "import os, sys; from cstar_cli._stdio import guard_standard_streams; guard_standard_streams(); "
        "fd = os.open(os.devnull, os.O_RDONLY); print(fd, file=sys.stderr)"
    )
    r = subprocess.run(
        ["sh", "-c", f'"{sys.executable}" -c "{code}" >&-'], capture_output=True, text=True, env=cstar_env()
    )
    assert int(r.stderr.strip()) > 2, r.stderr
    assert _stdio.EXIT_OUTPUT in EXIT_CODES


def test_a_reader_that_leaves_is_quiet_exit_0() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cstar_cli", "events", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=cstar_env(),
    )
    assert proc.stdout is not None
    proc.stdout.close()  # before the interpreter has even imported cstar: every write gets EPIPE
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert err.decode() == ""


def test_bare_cstar_prints_its_help_once() -> None:
    r = subprocess.run(
        [sys.executable, "-m", "cstar_cli"], capture_output=True, text=True, env=cstar_env(), timeout=60
    )
    assert r.returncode == 0
    assert r.stdout.count("Usage:") == 1 and r.stderr == ""
    assert cstar().output.count("Usage:") == 1
