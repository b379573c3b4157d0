"""``cstar webhooks verify``: the signature doctor, offline.

``cstar webhooks verify --secret whsec_… --header 'X-Signature: t=…,v1=…' --body-file body.json``
(or the body on stdin) checks one delivery as a receiver must (the raw bytes, HMAC-SHA256 of
``"<t>.<body>"``, ``--timestamp-tolerance`` seconds, default 300) and, when it does not verify, says
why (:mod:`cstar_cli.protocol.diagnose`): a malformed header, a timestamp outside the tolerance, a
body re-serialised by a JSON parser or with its newlines changed, or another secret.

The verdict is the command's data, on stdout; ``--json`` prints :class:`VerifyOutput`. Exit 0 when
the delivery verifies, 14 when it does not, 2 for bad input (no secret, an unreadable body file).
The secret is shown only as its tail (``whsec_…a1b2``).
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from typing_extensions import TypedDict

from cstar_cli.context import get_app
from cstar_cli.errors import EXIT_SIGNATURE_INVALID, CStarUsageError
from cstar_cli.fields import Stdin, read_file
from cstar_cli.output import Output, json_doc
from cstar_cli.protocol.diagnose import diagnose
from cstar_cli.protocol.webhook import DEFAULT_TOLERANCE

app = typer.Typer(no_args_is_help=True, add_completion=False)

#: An unbounded stdin must not fill memory: a delivery body is at most the API's 1 MiB body limit.
MAX_BODY_BYTES = 8 * 1024 * 1024


@json_doc(
    "cstar webhooks verify",
    example="""{"valid": false, "reason": "body_reserialised",
 "detail": "The signature matches the body as compact JSON: the body was re-serialised: verify the raw bytes as received."}""",
)
class VerifyOutput(TypedDict):
    """``cstar webhooks verify``: the verdict on one delivery.

    ``valid`` is true for the reasons ``valid`` and ``valid_legacy`` (the ``sha256=`` form); otherwise
    ``reason`` is ``malformed_header``, ``timestamp_outside_tolerance``, ``body_reserialised``,
    ``body_modified`` or ``signature_mismatch``, and the exit code is 14. ``detail`` is one line
    saying why; a secret appears only as its tail (``whsec_…a1b2``).
    """

    valid: bool
    reason: str
    detail: str


@app.callback()
def webhooks_group() -> None:
    """Check webhook deliveries: `cstar webhooks verify` says why a signature fails."""


def render_verify(verdict: VerifyOutput, out: Output) -> None:
    """``✓ Valid signature …`` or ``✗ <reason>: <detail>`` on stdout."""
    if verdict["valid"]:
        out.line(f"✓ {verdict['detail']}", style="green")
    else:
        out.line(f"✗ {verdict['reason']}: {verdict['detail']}", style="red")


def _read_body(body_file: str | None, out: Output) -> bytes:
    name = body_file or "-"
    if name == "-" and _isatty(sys.stdin):
        raise CStarUsageError(
            "No body: give --body-file FILE or pipe the raw body in.",
            code="missing_body",
            field="body-file",
            hint="Save the request body exactly as received (bytes, not parsed JSON) and pass --body-file body.json.",
        )
    data = read_file(name, Stdin(), "--body-file")
    if len(data) > MAX_BODY_BYTES:
        raise CStarUsageError(
            f"The body is {len(data)} bytes, more than a delivery can be ({MAX_BODY_BYTES} bytes).",
            code="body_too_large",
            field="body-file",
            hint="Pass the body of one delivery.",
        )
    return data


@app.command("verify")
def verify_command(
    ctx: typer.Context,
    secret: list[str] = typer.Option(
        [],
        "--secret",
        "-s",
        help="The signing secret (whsec_…); repeat for a rotation. Also CSTAR_WEBHOOK_SECRET.",
        envvar="CSTAR_WEBHOOK_SECRET",
        show_default=False,
        show_envvar=False,
        metavar="SECRET",
    ),
    header: str = typer.Option(
        ...,
        "--header",
        "-H",
        help="The X-Signature header: 'X-Signature: t=…,v1=…', or its value alone.",
        show_default=False,
        metavar="HEADER",
    ),
    body_file: str | None = typer.Option(
        None, "--body-file", "-b", help="The raw body as received (- or omitted: stdin).", metavar="FILE"
    ),
    tolerance: int = typer.Option(
        DEFAULT_TOLERANCE,
        "--timestamp-tolerance",
        help="Seconds the signature's timestamp may differ from now.",
        min=0,
        metavar="SECONDS",
    ),
) -> None:
    """Check a delivery's signature; when it fails, say why (exit 14)."""
    app_ctx = get_app(ctx)
    out = app_ctx.out
    secrets = [s.strip() for s in secret if s.strip()]
    if not secrets:
        raise CStarUsageError(
            "No signing secret given.",
            code="missing_secret",
            field="secret",
            hint="Pass --secret whsec_… (the webhook's secret, or the one `cstar listen` prints) or set CSTAR_WEBHOOK_SECRET.",
        )
    body = _read_body(body_file, out)
    verdict: Any = diagnose(body, header, secrets, tolerance).as_dict()
    out.show(verdict, render_verify)
    if not verdict["valid"]:
        raise typer.Exit(EXIT_SIGNATURE_INVALID)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
