"""Write docs/json.md, the ``--json`` contract, from the commands' output models.

Each section comes from one model decorated with :func:`cstar_cli.output.json_doc`: its heading, the
sentence before the example, the example (a JSON document whose keys must be the model's, see
:func:`check_example`) and, after it, the model docstring's body. What no model of the CLI describes
(the general rules, the emulator's ready line, ``mcp-server``, the exit codes) is written here.
tests/test_json_docs.py fails when docs/json.md differs from what this prints, or an example from its model.

Usage::

    python scripts/gen_json_docs.py           # rewrite docs/json.md
    python scripts/gen_json_docs.py --check   # exit 1 if docs/json.md is stale, write nothing
"""

from __future__ import annotations

import argparse
import json
import sys
import typing
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cstar_cli.commands import events as event_history  # noqa: E402
from cstar_cli.commands import keys, listen, login, logout, logs, trigger, version, webhooks  # noqa: E402
from cstar_cli.output import doc_of  # noqa: E402
from cstar_cli.views import events, status  # noqa: E402

__all__ = ["DOC", "MODELS", "check_example", "generate", "main"]

DOC = ROOT / "docs" / "json.md"

PREAMBLE = """# JSON output

Every command takes `--json`, before or after the subcommand (`cstar --json status` is
`cstar status --json`). With it:

- **stdout carries data only**: one JSON document (or, for streams, one JSON object per line),
  so `cstar … --json | jq` always parses. Spinners, banners, warnings, notices and prompts go to
  stderr, or nowhere.
- **Errors** are one JSON object on **stderr**, and the process ends with the documented
  [exit code](#exit-codes):

  ```json
  {"error": {"type": "authentication_error", "code": "key_revoked",
             "message": "This API key was revoked at 2026-05-07T21:29:46.233Z.",
             "requestId": "req_3f9a…", "docUrl": "https://www.cstar.help/developers/errors",
             "hint": "This key was revoked: create a new one and run `cstar login` again."}}
  ```

  | field       | meaning                                                                                 |
  |-------------|-----------------------------------------------------------------------------------------|
  | `type`      | error class: `usage_error`, `validation_error`, `authentication_error`, `permission_error`, `not_found_error`, `conflict_error`, `rate_limit_error`, `server_error`, `connection_error`, `feature_not_configured`, `api_error` |
  | `code`      | machine code: the API's (`INVALID_FIELD`, `key_revoked`, …) or a local one (`usage`, `invalid_status`, `not_logged_in`, `connection_failed`, …) |
  | `message`   | one human sentence; never contains a key                                                |
  | `requestId` | `req_…` of the failed API call, or `null` when nothing was sent                         |
  | `docUrl`    | where the error is explained, or `null` for local errors                                |
  | `hint`      | what to do next, or `null`                                                              |

- Output is compact (one line per document), UTF-8, with stable camelCase field names. Times are
  ISO 8601 UTC strings, durations are milliseconds (`…Ms`). Absent values are `null`, never omitted.
  New fields may be added; existing ones keep their name and meaning.
- Streams flush after every line, so `| jq --unbuffered` or a reading program sees each item at once.

## Per command

"""

LOGS_TAIL = """### `cstar logs --tail`

The same entry object, one per line, as requests happen, flushed per line. Reconnection notices go
to stderr; after a reconnect the stream resumes after the last entry printed, with no gap and no
duplicate.

"""

EMULATOR_AND_MCP = """### `cstar emulator start --json`

One "ready" line once the emulator accepts requests, `{"baseUrl", "teamId", "keys": {"sk_test",
"sk_live", "pk_test", "pk_live"}, "db"}`; see [emulator.md](emulator.md#the-ready-line).

### `cstar mcp-server`

Not applicable: stdout carries the MCP protocol (JSON-RPC) and nothing else.

"""

EXIT_CODES = """## Exit codes

One table for every command (`cstar_cli/errors.py`, `EXIT_CODES`; also at the end of `cstar --help`):

| code | meaning                                                                 |
|------|-------------------------------------------------------------------------|
| 0    | success                                                                 |
| 1    | unexpected error; also a declined confirmation (`keys revoke`, answered no) |
| 2    | usage or validation error (bad flag, argument or field; also 400)       |
| 3    | authentication: no key, invalid or revoked key (401)                    |
| 4    | permission: the key may not do this, e.g. a publishable key on a write (403) |
| 5    | not found (404)                                                         |
| 6    | conflict, e.g. an idempotency key reused with a different body (409)    |
| 7    | rate limited (429, after the automatic retries)                         |
| 8    | server error (5xx, after the automatic retries)                         |
| 9    | network: the API could not be reached or timed out                      |
| 10   | feature not configured for this team (501)                              |
| 130  | interrupted (Ctrl-C)                                                    |
"""

#: The documented models, in the document's order; a string is a section written here.
MODELS: tuple[type | str, ...] = (
    login.LoginOutput,
    logout.LogoutOutput,
    status.StatusOutput,
    events.EventTypeInfo,
    event_history.RecentEvent,
    event_history.EventWithPayload,
    event_history.ResendOutput,
    trigger.TriggerOutput,
    webhooks.VerifyOutput,
    keys.KeySummary,
    keys.CreatedKey,
    keys.RevokedKey,
    version.VersionOutput,
    logs.LogLine,
    LOGS_TAIL,
    listen.ListenEventLine,
    EMULATOR_AND_MCP,
)



def _fields(model: Any) -> dict[str, Any] | None:
    """A TypedDict's field types, or None for anything else."""
    if not (isinstance(model, type) and issubclass(model, dict) and hasattr(model, "__annotations__")):
        return None
    return typing.get_type_hints(model)


def _typed_dicts(annotation: Any) -> list[Any]:
    """The TypedDicts an annotation can hold (``X | None``, ``list[X]``)."""
    found = []
    if _fields(annotation) is not None:
        found.append(annotation)
    for arg in typing.get_args(annotation):
        found.extend(_typed_dicts(arg))
    return found


def check_example(model: Any, example: Any, where: str = "") -> list[str]:
    """The differences between an example document and ``model`` (a TypedDict): keys missing or extra,
    recursively through nested models and lists of them. Empty when they agree."""
    if isinstance(example, list):
        return [p for item in example for p in check_example(model, item, where + "[]")]
    fields = _fields(model)
    if fields is None or not isinstance(example, dict):
        return []
    problems = []
    missing, extra = set(fields) - set(example), set(example) - set(fields)
    if missing:
        problems.append(f"{model.__name__}{where}: the example lacks {sorted(missing)}")
    if extra:
        problems.append(f"{model.__name__}{where}: the example has {sorted(extra)}, which the model does not")
    for name, annotation in fields.items():
        if name in example and example[name] is not None:
            for nested in _typed_dicts(annotation):
                problems.extend(check_example(nested, example[name], f"{where}.{name}"))
    return problems


def _section(model: type | str) -> str:
    if isinstance(model, str):
        return model
    doc, notes = doc_of(model)
    parts = [f"### `{doc.command}`\n"]
    if doc.intro:
        parts.append(doc.intro + "\n")
    if doc.example is not None:
        parts.append(f"```json\n{doc.example}\n```\n")
    if notes:
        parts.append(notes + "\n")
    return "\n".join(parts) + "\n"


def generate() -> str:
    """The text of docs/json.md."""
    return PREAMBLE + "".join(_section(m) for m in MODELS) + EXIT_CODES


def problems() -> list[str]:
    """Every example that does not parse or does not match its model."""
    found = []
    for model in MODELS:
        if isinstance(model, str):
            continue
        doc, _ = doc_of(model)
        if doc.example is None:
            continue
        try:
            example = json.loads(doc.example)
        except ValueError as e:
            found.append(f"{model.__name__}: the example is not JSON ({e})")
            continue
        if doc.list_of != isinstance(example, list):
            found.append(f"{model.__name__}: the example should {'' if doc.list_of else 'not '}be a list")
        found.extend(check_example(model, example))
    return found


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) docs/json.md; return the process exit code."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report a stale docs/json.md (exit 1 if so)")
    args = parser.parse_args(argv)
    bad = problems()
    for problem in bad:
        print(f"error: {problem}", file=sys.stderr)
    if bad:
        return 1
    text = generate()
    current = DOC.read_text(encoding="utf-8") if DOC.exists() else None
    if args.check:
        if current != text:
            print("stale: docs/json.md (run python scripts/gen_json_docs.py)", file=sys.stderr)
            return 1
        return 0
    if current != text:
        DOC.write_text(text, encoding="utf-8")
        print("wrote docs/json.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
