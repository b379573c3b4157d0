"""Shell completion: the committed scripts match what the app generates, and the completion protocol
answers with commands, option values and triggerable event types."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from types import ModuleType

import pytest

from cstar_cli.cli import COMMANDS
from cstar_cli.protocol import events as catalog
from tests.support.cli import ROOT, cstar_env


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_completions", ROOT / "scripts" / "gen_completions.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen = _generator()

# Completion is answered by a real `cstar` process, as a shell would start it.
pytestmark = pytest.mark.e2e


def complete(words: str, cword: int | None = None) -> list[str]:
    """What bash completion offers for the command line ``words`` (the word at ``cword`` being typed)."""
    parts = words.split(" ")
    env = cstar_env(
        {
            "_CSTAR_COMPLETE": "complete_bash",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(parts) - 1 if cword is None else cword),
        }
    )
    proc = subprocess.run(
        [sys.executable, "-m", "cstar_cli"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


@pytest.mark.parametrize(("shell", "name"), list(gen.SHELLS.items()))
def test_committed_script_is_current(shell: str, name: str) -> None:
    committed = (ROOT / "completions" / name).read_text(encoding="utf-8")
    assert committed == gen.generate(shell), f"completions/{name} is stale: run python scripts/gen_completions.py"


@pytest.mark.parametrize(
    ("shell", "marker"),
    [
        ("bash", "complete -o default -F _cstar_completion cstar"),
        ("zsh", "#compdef cstar"),
        ("fish", "complete --command cstar"),
        ("powershell", "Register-ArgumentCompleter"),
    ],
)
def test_scripts_use_the_cstar_protocol(shell: str, marker: str) -> None:
    text = gen.generate(shell)
    assert marker in text and "_CSTAR_COMPLETE" in text


def test_check_mode_reports_no_stale_file() -> None:
    assert gen.main(["--check"]) == 0


def test_trigger_completes_triggerable_events() -> None:
    assert complete("cstar trigger tic") == [e for e in catalog.TRIGGERABLE if e.startswith("tic")]
    offered = complete("cstar trigger ")
    assert offered == list(catalog.TRIGGERABLE)
    assert "ticket.deleted" not in offered  # a real type, but not triggerable


def test_trigger_completion_after_a_global_option() -> None:
    assert complete("cstar --json trigger cust") == ["customer.created", "customer.updated"]


def test_commands_complete() -> None:
    assert complete("cstar ") == list(COMMANDS)
    assert complete("cstar l") == ["login", "logout", "listen", "logs"]


def test_option_values_and_subcommands_complete() -> None:
    assert complete("cstar keys ") == ["list", "create", "revoke"]
    assert complete("cstar keys create --type ") == ["secret", "publishable"]
    assert complete("cstar logs --method P") == ["POST", "PUT", "PATCH"]
    assert complete("cstar events --category cu") == ["customers"]
    assert "--tail" in complete("cstar logs --t")


def test_zsh_script_is_autoloadable_and_sourceable() -> None:
    text = (ROOT / "completions" / "cstar.zsh").read_text(encoding="utf-8")
    assert text.startswith("#compdef cstar\n")
    assert "loadautofunc" in text and "compdef _cstar_completion cstar" in text


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_script_completes_in_a_real_bash() -> None:
    # The committed script, sourced by bash, calling the real `cstar` through the protocol.
    bindir = os.path.dirname(sys.executable)
    if shutil.which("cstar", path=bindir) is None:
        pytest.skip("cstar is not installed next to this Python")
    script = (
        f"source {ROOT / 'completions' / 'cstar.bash'}\n"
        "COMP_WORDS=(cstar trigger ticket.c); COMP_CWORD=2\n"
        "_cstar_completion cstar\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = cstar_env({"PATH": bindir + os.pathsep + os.environ.get("PATH", "")})
    proc = subprocess.run(["bash", "--norc", "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["ticket.created", "ticket.closed"]


def test_new_commands_complete() -> None:
    assert complete("cstar help k") == ["keys"]
    assert complete("cstar help keys r") == ["revoke"]
    assert complete("cstar help trigger ") == []
    assert complete("cstar completion ") == ["bash", "zsh", "fish", "powershell"]
    assert complete("cstar v") == ["version"]


def test_inherited_flags_complete_after_the_subcommand() -> None:
    assert complete("cstar trigger --j") == ["--json"]
    assert complete("cstar keys revoke --d") == ["--debug"]
