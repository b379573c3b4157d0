"""The example receiver refuses options it could never work with: an empty secret and a path
without a leading slash (one-line error, a hint, exit 2)."""

from __future__ import annotations

import pytest

from cstar_cli.receiver import Receiver, main


@pytest.mark.parametrize(
    ("argv", "error", "hint"),
    [
        (["--secret", ""], "Error: --secret is empty: every signature would be refused.", "--print-secret"),
        (["--secret", "   "], "Error: --secret is empty: every signature would be refused.", "--print-secret"),
        (
            ["--secret", "whsec_x", "--path", "hooks"],
            "Error: --path 'hooks' does not start with '/': no request could match it.",
            "--path /hooks",
        ),
        (["--secret", "whsec_x", "--path", ""], "Error: --path '' does not start with '/'", "--path /webhooks"),
    ],
)
def test_bad_options_exit_2_with_one_error_line_and_a_hint(
    argv: list[str], error: str, hint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--port", "0", *argv]) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 2 and lines[0].startswith(error)
    assert lines[1].startswith("Hint: ") and hint in lines[1]
    assert captured.out == ""


@pytest.mark.parametrize(("secret", "path"), [("", None), ("whsec_x", "hooks")])
def test_the_class_refuses_them_too(secret: str, path: str | None) -> None:
    with pytest.raises(ValueError):
        Receiver(secret, path=path)
