"""Pins each use cstar makes of Typer's private modules and of how Typer draws help
(cstar_cli/_compat_typer.py), so a Typer upgrade that moves or changes one fails here, by name."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import typer

from cstar_cli import _compat_typer as compat
from cstar_cli import completion

PACKAGE = Path(compat.__file__).resolve().parent


def test_the_vendored_click_names_are_what_cstar_expects() -> None:
    assert issubclass(compat.UsageError, compat.ClickException)
    assert issubclass(compat.NoArgsIsHelpError, compat.UsageError)  # the root shows help for it
    assert issubclass(compat.TyperGroup, compat.Command)
    assert issubclass(typer.Context, compat.Context)  # `cstar help` builds contexts of either
    assert compat.UsageError("x").exit_code == 2


def test_root_group_hooks_exist() -> None:
    # cli.RootGroup overrides these; a rename would silently skip the override.
    for name in ("_main_shell_completion", "resolve_command", "parse_args", "invoke", "get_command"):
        assert callable(getattr(compat.TyperGroup, name, None)), name
    assert callable(getattr(compat.Command, "get_help_option", None))


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish", "powershell"])
def test_completion_classes_register_every_shell(shell: str) -> None:
    completion.init()
    cls = compat.get_completion_class(shell)
    assert cls is not None and issubclass(cls, compat.ShellComplete)


def test_zsh_template_still_has_the_line_cstar_rewrites() -> None:
    # completion._ZshComplete replaces this line; if Typer's template changes, the replace is a no-op.
    assert completion._COMPDEF in compat.ZshComplete.source_template
    completion.init()
    ours = compat.get_completion_class("zsh")
    assert ours is not None and "loadautofunc" in ours.source_template


def _demo_help(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> str:
    app = typer.Typer(add_completion=False)

    @app.command()
    def fire(
        event: str = typer.Argument(..., help="What to fire."),
        yes: bool = typer.Option(False, "--yes", help="Do not ask."),
        name: str = typer.Option("x", "--name", help="A value."),
    ) -> None:
        """Fire."""

    root = typer.Typer(add_completion=False)

    @root.callback()
    def main(json_: bool = typer.Option(False, "--json", help="JSON out.")) -> None:
        """Demo."""

    cmd = typer.main.get_command(app)
    compat.tidy_help(cmd, inherited=typer.main.get_command(root).params)
    monkeypatch.setenv("COLUMNS", "100")
    capsys.readouterr()
    print(cmd.context_class(cmd, info_name="demo").get_help())
    return capsys.readouterr().out


def test_tidy_help_renders_through_typers_rich_help(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Relies on rich_utils reading display_type_rich, get_usage_pieces, rich_help_panel and metavar.
    text = _demo_help(capsys, monkeypatch)
    assert "Usage: demo [OPTIONS] EVENT" in text and "{" not in text
    assert "<bool>" not in text and "<str>" in text  # valued options keep their type
    arguments = text.split("Arguments")[1].split("Options")[0]
    assert "EVENT" in arguments and "<str>" not in arguments
    own, inherited = text.split(compat.INHERITED_PANEL)
    assert "--yes" in own and "-h" in own and "--json" not in own and "--json" in inherited


def test_inherited_copies_never_reach_the_function() -> None:
    root = typer.Typer(add_completion=False)

    @root.callback()
    def main(json_: bool = typer.Option(False, "--json")) -> None:
        """Demo."""

    copies = compat.inherited_copies(typer.main.get_command(root).params)
    assert [c.expose_value for c in copies] == [False] and copies[0].callback is None


def _private_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module + "." + a.name for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] in ("typer", "click") and any(p.startswith("_") for p in parts[1:]):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {name}")
    return found


def test_only_the_compat_module_imports_typer_privates() -> None:
    paths = [p for p in sorted(PACKAGE.rglob("*.py")) if p.name != "_compat_typer.py"]
    assert [hit for path in paths for hit in _private_imports(path)] == []
    assert _private_imports(PACKAGE / "_compat_typer.py")  # the scan does see them
