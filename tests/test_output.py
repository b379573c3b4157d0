"""Human output never lets API data drive the terminal, and errors stay one short line."""

from __future__ import annotations

import io

import pytest

from cstar_cli.errors import CStarUsageError
from cstar_cli.output import Output, printable, shorten


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain", "plain"),
        ("T\x1b]0;pwned\x07\x1b[2J", "T\\x1b]0;pwned\\x07\\x1b[2J"),
        ("a\nb\tc", "a\\x0ab\\x09c"),
        ("\u202eevil\u200b", "\\u202eevil\\u200b"),
        ("café ☕", "café ☕"),
    ],
)
def test_printable(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_piped_table_cells_cannot_split_rows_or_emit_escapes(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.StringIO()
    monkeypatch.setattr("sys.stdout", buf)
    Output().table(["ID", "NAME"], [("key_1", "evil\nname\x1b[2J"), ("key_2", None)])
    assert buf.getvalue() == "key_1\tevil\\x0aname\\x1b[2J\nkey_2\t-\n"


def test_errors_are_escaped_and_shortened(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.StringIO()
    monkeypatch.setattr("sys.stderr", buf)
    Output().error(CStarUsageError("Unknown event type " + "é" * 5000 + "\x1b[2J", hint="Try again."))
    first, hint = buf.getvalue().splitlines()
    assert len(first) < 320 and first.endswith("…") and "\x1b" not in first
    assert hint == "Hint: Try again."
    assert shorten("short") == "short"
