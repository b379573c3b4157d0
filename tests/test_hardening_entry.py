"""The process's edges, as a real ``cstar`` process: Ctrl-C while Python is still importing (exit 130,
no traceback, not a death by SIGINT) and help written to a reader that went away (exit 0, quiet)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.cli import close_pipes, cstar_env

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

CSTAR = str(Path(sys.executable).with_name("cstar"))
_SIGINT_BIT = 1 << (signal.SIGINT - 1)


def _extension_modules(pid: int) -> set[str] | None:
    """The C extension modules mapped into process ``pid`` (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/maps") as maps:
            return {line.split()[-1] for line in maps if ".cpython-" in line}
    except OSError:
        return None


def _loaded_by_the_entry_point() -> set[str]:
    """What a process has mapped once ``cstar_cli._entry`` is imported: a child mapping anything more
    is past it, importing the rest of cstar (Typer, httpx …)."""
    probe = subprocess.run(
        [sys.executable, "-c", "import cstar_cli._entry, sys; sys.stdout.write(open('/proc/self/maps').read())"],
        capture_output=True,
        text=True,
        env=cstar_env(),
        check=True,
    )
    return {line.split()[-1] for line in probe.stdout.splitlines() if ".cpython-" in line}


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc")
@pytest.mark.parametrize("args", [["events"], ["status"], ["--help"]])
def test_ctrl_c_while_still_importing_exits_130_without_a_traceback(args: list[str]) -> None:
    baseline = _loaded_by_the_entry_point()
    outcomes: list[tuple[int, str]] = []
    # A run that finishes before the signal arrives proves nothing: try again, a few times.
    for _ in range(5):
        proc = subprocess.Popen(
            [CSTAR, "--no-color", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=cstar_env({"CSTAR_API_KEY": "sk_test_" + "c" * 24, "CSTAR_BASE_URL": "http://127.0.0.1:9"}),
        )
        # Poll until it is running cstar's imports, then interrupt at once.
        while proc.poll() is None:
            mapped = _extension_modules(proc.pid)
            if mapped is not None and mapped - baseline:
                break
        interrupted = proc.poll() is None
        if interrupted:
            proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        close_pipes(proc)
        if interrupted and proc.returncode != 0:
            outcomes.append((proc.returncode, err))
        if len(outcomes) >= 3:
            break
    assert outcomes, "every run finished before it could be interrupted"
    for code, err in outcomes:
        assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
        assert code == 130, (code, err)
        assert err.strip() in ("", "Interrupted."), err


def test_ctrl_c_right_after_the_entry_point_is_imported_exits_130() -> None:
    # The signal arrives between importing cstar_cli._entry and calling its main(): the window the
    # handler installed at import covers.
    code = (
        "import os, signal, sys; sys.argv = ['cstar', 'events']; import cstar_cli._entry as entry;"
        " os.kill(os.getpid(), signal.SIGINT); entry.main()"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cstar_env(), timeout=60)
    assert (run.returncode, run.stderr) == (130, "Interrupted.\n")


def test_ctrl_c_during_the_heavy_imports_exits_130() -> None:
    # Interrupted exactly when `typer` starts to import, after main() took over.
    code = """
import os, signal, sys
class Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == "typer":
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.SIGINT)
        return None
sys.meta_path.insert(0, Interrupt())
sys.argv = ["cstar", "events"]
from cstar_cli._entry import main
main()
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cstar_env(), timeout=60)
    assert (run.returncode, run.stderr) == (130, "Interrupted.\n")


def test_ctrl_c_is_left_ignored_when_the_caller_ignores_it() -> None:
    code = (
        "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); sys.argv = ['cstar', '--version'];"
        " import cstar_cli._entry as entry; assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN; entry.main()"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cstar_env(), timeout=60)
    assert run.returncode == 0 and run.stdout.startswith("cstar "), run.stderr


@pytest.mark.parametrize(
    "args",
    [["--help"], [], ["help"], ["help", "listen"], ["listen", "--help"], ["emulator", "start", "--help"], ["keys"]],
)
def test_help_to_a_closed_pipe_ends_quietly_with_exit_0(args: list[str]) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written: every write fails with EPIPE
    try:
        proc = subprocess.run(
            [CSTAR, *args], stdin=subprocess.DEVNULL, stdout=write, stderr=subprocess.PIPE, text=True,
            env=cstar_env({"COLUMNS": "100"}), timeout=60,
        )
    finally:
        os.close(write)
    assert (proc.returncode, proc.stderr) == (0, ""), args


def test_help_piped_to_head_exits_0() -> None:
    run = subprocess.run(
        f"{CSTAR} --help | head -1; exit ${{PIPESTATUS[0]}}", shell=True, executable="/bin/bash",
        capture_output=True, text=True, env=cstar_env({"COLUMNS": "100"}), timeout=60,
    )
    assert run.returncode == 0 and run.stderr == "", run.stderr
