"""``cstar api PATH``: any cStar endpoint from a script, authenticated with the resolved key (gh api's model).

PATH is relative to ``/api/v1/teams/{teamId}`` (``/tickets``), absolute under ``/api/v1``
(``/api/v1/me``), or a full URL on the configured base URL; ``{teamId}`` is the key's team.

- Fields: ``-f key=value`` (string) and ``-F key=value`` (typed: JSON numbers, ``true``/``false``,
  ``null``, ``@file``, ``@-`` for stdin); ``key[]=v`` appends to an array, ``key[]`` alone is an empty
  array, ``a[b]=c`` nests, ``a[][b]=c`` builds an array of objects (:func:`parse_fields`). For GET
  they become the query string (``a[b]=c``, ``key[]=v``), otherwise the JSON body.
- The method is GET, or POST when fields or ``--input`` are given (GET with ``--paginate``).
- Output: the response's bare ``data`` as JSON (indented on a terminal, one line when piped);
  ``--envelope`` the whole body; ``--paginate`` one array of every page's items; ``--jq`` filters
  what would be printed (strings printed raw, as ``jq -r`` does). ``-i`` writes the status line and
  headers to stderr.
- Errors end with the CLI's exit codes and error line (``--json``: the JSON error) on stderr, with
  the request ID; a 404 on a path the OpenAPI document does not know suggests the closest ones.

The ``jq`` package is imported only when ``--jq`` is given.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

import typer

from cstar_cli.context import get_app
from cstar_cli.errors import CStarError, CStarNotFoundError, CStarUsageError
from cstar_cli.fields import Reader, Stdin, file_text, read_file, typed_value
from cstar_cli.output import Output, dumps, output_error, printable, printable_json, shorten

if TYPE_CHECKING:
    import httpx

    from cstar_cli.api import CStarClient, Result

__all__ = [
    "Request",
    "Target",
    "app",
    "build_request",
    "flatten_query",
    "parse_fields",
    "parse_header",
    "resolve_path",
    "suggest_paths",
    "typed_value",
]

app = typer.Typer(add_completion=False)

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
API_PREFIX = "/api/v1"
TEAM_PREFIX = "/teams/{teamId}"
#: A runaway server (or a cursor that never ends) cannot make ``--paginate`` loop for ever.
MAX_PAGES = 1000

_KEY_RE = re.compile(r"^([^\[\]=]+)((?:\[[^\[\]=]*\])*)$")
_SUBKEY_RE = re.compile(r"\[([^\[\]=]*)\]")
_TOKEN_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_PLACEHOLDER_RE = re.compile(r"\{([^{}/]*)\}")
# Headers the transport owns: the key, and what httpx computes for the connection and the body.
_RESERVED_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}
_UNSAFE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def _usage(message: str, *, code: str, hint: str, field: str | None = None) -> CStarUsageError:
    return CStarUsageError(shorten(printable(message)), code=code, hint=hint, field=field)


# fields ------------------------------------------------------------------------------------------

def _split_key(key: str, original: str) -> list[str]:
    m = _KEY_RE.match(key)
    if not m:
        raise _usage(
            f"Invalid field {original!r}.",
            code="invalid_field",
            field="field",
            hint="Fields are key=value, key[]=value (array), a[b]=value (object) or a[][b]=value.",
        )
    return [m.group(1), *_SUBKEY_RE.findall(m.group(2))]


def _conflict(path: str, want: str) -> CStarUsageError:
    return _usage(
        f"Field {path!r} is given both as {want} and as something else.",
        code="invalid_field",
        field="field",
        hint="Give each key one shape: a value, an array (key[]=…) or an object (key[sub]=…).",
    )


def _assign(params: dict[str, Any], parts: list[str], value: Any, has_value: bool) -> None:
    # gh's rules: an empty [] makes the key before it an array; a key after [] goes into the array's
    # last object unless that object has it already (then a new object starts), so a[][x]=1 a[][y]=2
    # is [{"x": 1, "y": 2}] and a[][x]=1 a[][x]=2 is [{"x": 1}, {"x": 2}].
    dest = params
    is_array = False
    key = ""
    where = parts[0]
    for part in parts:
        if part == "":
            is_array = True
            continue
        if key:
            dest = _into_array(dest, key, part, where) if is_array else _into_object(dest, key, where)
            is_array = False
        key = part
    if is_array:
        items = dest.setdefault(key, [])
        if not isinstance(items, list):
            raise _conflict(where, "an array")
        if has_value:
            items.append(value)
    elif key in dest:
        raise _usage(
            f"Field {where!r} is given more than once.",
            code="invalid_field",
            field="field",
            hint=f"Use {where}[]=value for an array of values.",
        )
    else:
        dest[key] = value


def _into_object(dest: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    child = dest.setdefault(key, {})
    if not isinstance(child, dict):
        raise _conflict(where, "an object")
    return child


def _into_array(dest: dict[str, Any], key: str, next_key: str, where: str) -> dict[str, Any]:
    items = dest.setdefault(key, [])
    if not isinstance(items, list):
        raise _conflict(where, "an array")
    last = items[-1] if items else None
    if isinstance(last, dict) and (next_key not in last or isinstance(last[next_key], list)):
        return last
    fresh: dict[str, Any] = {}
    items.append(fresh)
    return fresh


def parse_fields(raw: Sequence[str], typed: Sequence[str] = (), read: Reader | None = None) -> dict[str, Any]:
    """The request parameters of ``-f`` (``raw``, values kept as strings) then ``-F`` (``typed``, see
    :func:`typed_value`) fields, as nested dicts and lists (gh api's rules). ``read`` reads ``@file``
    values. Raises :class:`CStarUsageError` (exit 2) for a field without ``=``, an invalid key, a key
    given twice, or one key used as two shapes."""

    def no_files(path: str) -> str:
        raise _usage("Reading files is not enabled here.", code="invalid_field", hint="Pass the value itself.")

    params: dict[str, Any] = {}
    for text, is_typed in [*((f, False) for f in raw), *((f, True) for f in typed)]:
        key, eq, value_text = text.partition("=")
        parts = _split_key(key, text)
        if not eq and parts[-1] != "":
            raise _usage(
                f"Field {text!r} has no value.",
                code="invalid_field",
                field="field",
                hint="Fields are key=value (or key[] alone for an empty array).",
            )
        value: Any = typed_value(value_text, read or no_files) if is_typed and eq else value_text
        _assign(params, parts, value, bool(eq))
    return params


def _scalar_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def flatten_query(params: dict[str, Any]) -> list[tuple[str, str]]:
    """``params`` (from :func:`parse_fields`) as query pairs: ``a[b]=c`` for objects, ``k[]=v`` for
    arrays, ``true``/``false`` for booleans and an empty value for null."""
    pairs: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}[{k}]", v)
        elif isinstance(value, list):
            for v in value:
                walk(f"{prefix}[]", v)
        else:
            pairs.append((prefix, _scalar_text(value)))

    for k, v in params.items():
        walk(k, v)
    return pairs


# headers -----------------------------------------------------------------------------------------


def parse_header(text: str) -> tuple[str, str]:
    """``"Name: value"`` → ``(name, value)`` (value stripped). Raises :class:`CStarUsageError` (exit 2)
    without a colon, for a name that is not an HTTP token, a value with CR, LF or another control
    character, and for ``Authorization`` (the key comes from the settings) and the headers the
    transport sets itself (``Host``, ``Content-Length``, ``Transfer-Encoding``, ``Connection``)."""
    name, colon, value = text.partition(":")
    name, value = name.strip(), value.strip()
    if not colon or not _TOKEN_RE.match(name):
        raise _usage(
            f"Invalid header {text!r}.",
            code="invalid_header",
            field="header",
            hint='Headers are -H "Name: value", e.g. -H "Accept-Language: de".',
        )
    if any(unicodedata.category(ch) == "Cc" and ch != "\t" for ch in value):
        raise _usage(
            f"Header {name} contains a line break or another control character.",
            code="invalid_header",
            field="header",
            hint="A header value is one line of text: remove CR, LF and other control characters.",
        )
    lower = name.lower()
    if lower == "authorization":
        raise _usage(
            "-H cannot set Authorization: cstar sends the resolved API key itself.",
            code="invalid_header",
            field="header",
            hint="Choose the key with --api-key, CSTAR_API_KEY, --profile or `cstar login`.",
        )
    if lower in _RESERVED_HEADERS:
        raise _usage(
            f"-H cannot set {name}: the HTTP client sets it.",
            code="invalid_header",
            field="header",
            hint="Leave it out; --input sets the body.",
        )
    return name, value


# the path ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """Where a request goes: ``path`` relative to ``/api/v1`` with ``{teamId}`` unfilled
    (``/teams/{teamId}/tickets``, ``/me``) and the ``query`` pairs PATH carried."""

    path: str
    query: list[tuple[str, str]] = field(default_factory=list)

    @property
    def needs_team(self) -> bool:
        return "{teamId}" in self.path


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port


def resolve_path(path: str, base_url: str) -> Target:
    """The :class:`Target` of PATH: relative to ``/api/v1/teams/{teamId}`` (``/tickets``,
    ``tickets``), absolute (``/api/v1/me``), or a full URL on ``base_url``'s scheme, host and port.
    Raises :class:`CStarUsageError` (exit 2) for another host, a path outside ``/api/v1``, empty or
    ``.``/``..`` segments, control characters, and placeholders other than ``{teamId}``."""
    text = path.strip()
    if not text or any(unicodedata.category(ch) in _UNSAFE for ch in text):
        raise _usage(
            f"Invalid API path {path!r}.",
            code="invalid_path",
            field="path",
            hint="Give a path such as /tickets or /api/v1/me (`cstar api --help`).",
        )
    if "://" in text:
        if _origin(text) != _origin(base_url):
            raise _usage(
                f"Refusing to send the API key to {urlsplit(text).scheme}://{urlsplit(text).netloc}: "
                f"it is not the configured API ({base_url}).",
                code="foreign_host",
                field="path",
                hint="Give the path alone (/tickets), or choose the API with --base-url / CSTAR_BASE_URL.",
            )
        parts = urlsplit(text)
        text = parts.path + (f"?{parts.query}" if parts.query else "")
    raw_path, _, raw_query = text.partition("?")
    raw_path = raw_path.split("#", 1)[0]
    if raw_path.startswith("/api/") or raw_path == "/api":
        if raw_path != API_PREFIX and not raw_path.startswith(API_PREFIX + "/"):
            raise _usage(
                f"{raw_path} is not under {API_PREFIX}.",
                code="invalid_path",
                field="path",
                hint="The API lives under /api/v1; give /api/v1/… or a team path such as /tickets.",
            )
        rel = raw_path[len(API_PREFIX) :]
    else:
        rel = TEAM_PREFIX + ("" if raw_path.startswith("/") else "/") + raw_path
    rel = rel.rstrip("/") if rel != "/" else rel
    segments = rel.split("/")[1:]
    if not rel or any(s in ("", ".", "..") for s in segments):
        raise _usage(
            f"Invalid API path {path!r}: empty, '.' and '..' segments are not allowed.",
            code="invalid_path",
            field="path",
            hint="Give the path as the API documents it, e.g. /tickets/tkt_…/messages.",
        )
    others = [p for p in _PLACEHOLDER_RE.findall(rel) if p != "teamId"]
    if others:
        raise _usage(
            f"Fill in {{{others[0]}}} in {path!r}.",
            code="invalid_path",
            field="path",
            hint="Only {teamId} is filled in by cstar; replace the others with IDs (e.g. tkt_…).",
        )
    return Target(rel, parse_qsl(raw_query, keep_blank_values=True))


def _document_path(api_path: str, team_id: str | None) -> str:
    """The request path in the OpenAPI document's shape: under ``/api/v1``, the team as ``{teamId}``."""
    full = API_PREFIX + api_path
    if team_id:
        full = full.replace(f"/teams/{team_id}", TEAM_PREFIX, 1)
    return full


def _shown(document_path: str) -> str:
    """A document path as PATH is written: relative when team-scoped."""
    prefix = API_PREFIX + TEAM_PREFIX
    return document_path[len(prefix) :] or "/" if document_path.startswith(prefix + "/") else document_path


def suggest_paths(document_path: str, n: int = 3) -> list[str]:
    """The document's paths closest to ``document_path`` (a concrete path under ``/api/v1``, the team
    as ``{teamId}``), offline, in PATH's form; a template's parameters take the values of the given
    path where the segment counts agree (``/tickets/tkt_1/mesages`` → ``/tickets/tkt_1/messages``).
    [] when nothing is close."""
    from cstar_cli.completion import api_path_forms

    wanted = _shown(document_path)
    segs = wanted.split("/")
    scored: dict[str, float] = {}
    for form in api_path_forms():
        fsegs = form.split("/")
        if len(fsegs) == len(segs):
            form = "/".join(u if f.startswith("{") and f != "{teamId}" else f for f, u in zip(fsegs, segs, strict=True))
        ratio = SequenceMatcher(None, wanted, form).ratio()
        if ratio >= 0.6 and form != wanted:
            scored[form] = max(ratio, scored.get(form, 0.0))
    ranked = sorted(scored.items(), key=lambda kv: -kv[1])
    # Only the near-best: a clear typo should not come with a list of merely similar paths.
    return [f for f, r in ranked[:n] if r >= ranked[0][1] - 0.1]


def _known(document_path: str) -> list[str]:
    """The methods the document has for ``document_path``."""
    from cstar_cli.protocol import openapi

    return [m for m in METHODS if openapi.match(m, document_path) is not None]


# the request -------------------------------------------------------------------------------------


@dataclass
class Request:
    """One ``cstar api`` call, built offline from the command line: ``method``, ``target``,
    ``query`` (pairs), ``json`` body or raw ``content``, extra ``headers`` and ``idempotency_key``."""

    method: str
    target: Target
    query: list[tuple[str, str]] = field(default_factory=list)
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    idempotency_key: str | None = None


def build_request(
    path: str,
    base_url: str,
    *,
    method: str | None = None,
    raw_fields: Sequence[str] = (),
    typed_fields: Sequence[str] = (),
    headers: Sequence[str] = (),
    input_file: str | None = None,
    idempotency_key: str | None = None,
    paginate: bool = False,
    stdin: IO[bytes] | None = None,
) -> Request:
    """The :class:`Request` of a command line, checked before anything is sent. Raises
    :class:`CStarUsageError` (exit 2) for bad fields, headers, paths, methods, files and flag
    combinations (``--paginate`` with a method other than GET or with ``--input``)."""
    once = Stdin(stdin)
    target = resolve_path(path, base_url)
    params = parse_fields(
        raw_fields, typed_fields, read=lambda name: file_text(read_file(name, once, f"-F …=@{name}"), name)
    )
    if method is not None:
        verb = method.strip().upper()
        if verb not in METHODS:
            raise _usage(
                f"Unsupported method {method!r}.",
                code="invalid_method",
                field="method",
                hint=f"Use one of {', '.join(METHODS)}.",
            )
    else:
        verb = "POST" if (params or input_file is not None) and not paginate else "GET"
    if paginate and (verb != "GET" or input_file is not None):
        raise _usage(
            "--paginate works with GET requests only, without --input.",
            code="invalid_flags",
            hint="Drop -X / --input, or --paginate.",
        )
    extra: dict[str, str] = {}
    for h in headers:
        name, value = parse_header(h)
        if name.lower() == "idempotency-key":
            if idempotency_key is not None and idempotency_key != value:
                raise _usage(
                    "Two different idempotency keys given (-H Idempotency-Key and --idempotency-key).",
                    code="invalid_header",
                    field="header",
                    hint="Give one: --idempotency-key KEY.",
                )
            idempotency_key = value
            continue
        extra[name] = value
    if idempotency_key is not None:
        idempotency_key = idempotency_key.strip()
        if not idempotency_key or not _printable_ascii(idempotency_key) or len(idempotency_key) > 255:
            raise _usage(
                "An idempotency key must be 1 to 255 printable ASCII characters.",
                code="invalid_idempotency_key",
                field="idempotencyKey",
                hint="Use a UUID or another unique string, e.g. --idempotency-key deploy-2026-05-07.",
            )
    req = Request(verb, target, list(target.query), headers=extra, idempotency_key=idempotency_key)
    if input_file is not None:
        body = read_file(input_file, once, "--input")
        content_type = next((v for k, v in extra.items() if k.lower() == "content-type"), None)
        if content_type is None:
            extra["Content-Type"] = "application/json"
        if content_type is None or "json" in content_type.lower():
            _check_json(body, input_file)
        req.content = body
        req.query += flatten_query(params)
    elif verb == "GET":
        req.query += flatten_query(params)
    elif params:
        req.json = params
    return req


def _printable_ascii(text: str) -> bool:
    return text.isascii() and text.isprintable()


def _check_json(body: bytes, name: str) -> None:
    where = "standard input" if name == "-" else repr(name)
    try:
        json.loads(body)
    except UnicodeDecodeError:
        raise _usage(
            f"The body from {where} is not UTF-8.", code="invalid_input", field="input", hint="Send UTF-8 JSON."
        ) from None
    except ValueError as e:
        raise _usage(
            f"The body from {where} is not valid JSON ({e}).",
            code="invalid_input",
            field="input",
            hint="--input takes a JSON document; set -H 'Content-Type: …' to send something else.",
        ) from None


# sending -----------------------------------------------------------------------------------------


@dataclass
class Page:
    """One response: the envelope's ``data``, the call's ``result`` and the final ``response``."""

    data: Any
    result: Result[Any]
    response: httpx.Response | None

    @property
    def body(self) -> Any:
        """The whole decoded body (the envelope); None when it was not JSON."""
        try:
            return self.response.json() if self.response is not None else None
        except ValueError:
            return None


def _send(
    client: CStarClient, req: Request, api_path: str, query: list[tuple[str, str]], include: bool, out: Output
) -> Page:
    seen: list[httpx.Response] = []
    grouped: dict[str, list[str]] = {}
    for k, v in query:
        grouped.setdefault(k, []).append(v)
    try:
        result = client.transport.request(
            req.method,
            api_path,
            params=grouped or None,
            json=req.json,
            content=req.content,
            headers=req.headers,
            idempotency_key=req.idempotency_key,
            on_response=seen.append,
        )
    finally:
        if include and seen:
            _show_head(seen[-1], out)
    return Page(result.data, result, seen[-1] if seen else None)


def _show_head(resp: httpx.Response, out: Output) -> None:
    out.info(f"{resp.http_version} {resp.status_code} {resp.reason_phrase}".rstrip())
    for name, value in resp.headers.raw:
        out.info(f"{name.decode('latin-1')}: {value.decode('latin-1')}")
    out.info("")


def _next_query(
    query: list[tuple[str, str]], pagination: dict[str, Any] | None, page: Page
) -> list[tuple[str, str]] | None:
    """The query of the page after ``page``, or None when it was the last one."""
    pag = pagination or {}
    if not page.result.meta.has_more or not isinstance(page.data, list) or not page.data:
        return None
    if pag.get("nextCursor"):
        return [(k, v) for k, v in query if k != "before"] + [("before", str(pag["nextCursor"]))]
    try:
        current = int(pag.get("page") or dict(query).get("page") or 1)
    except (TypeError, ValueError):
        return None
    return [(k, v) for k, v in query if k != "page"] + [("page", str(current + 1))]


def _largest_page(document_path: str, query: list[tuple[str, str]]) -> list[tuple[str, str]]:
    # As gh asks for per_page=100: the largest page the operation allows, unless the user chose one.
    from cstar_cli.protocol import openapi

    found = openapi.match("GET", document_path)
    if found is None:
        return query
    given = {k for k, _ in query}
    for p in openapi.query_parameters(found.operation.operation_id):
        if p.get("name") in ("pageSize", "limit") and p["name"] not in given:
            top = (p.get("schema") or {}).get("maximum")
            if isinstance(top, int):
                return [*query, (p["name"], str(top))]
    return query


def _fetch(
    client: CStarClient, req: Request, api_path: str, *, paginate: bool, envelope: bool, include: bool, out: Output
) -> Any:
    if not paginate:
        page = _send(client, req, api_path, req.query, include, out)
        return page.body if envelope else page.data
    query = _largest_page(_document_path(api_path, client.team_id), req.query)
    items: list[Any] = []
    bodies: list[Any] = []
    seen_queries: set[tuple[tuple[str, str], ...]] = set()
    for number in range(1, MAX_PAGES + 1):
        page = _send(client, req, api_path, query, include, out)
        if envelope:
            bodies.append(page.body)
        if not isinstance(page.data, list):
            if number == 1:
                out.warn(
                    f"{req.method} {_shown(_document_path(api_path, client.team_id))} is not a list: nothing to page through."
                )
                return page.body if envelope else page.data
            break
        items.extend(page.data)
        nxt = _next_query(query, page.result.meta.pagination, page)
        if nxt is None:
            break
        key = tuple(sorted(nxt))
        if key in seen_queries:
            break
        seen_queries.add(key)
        query = nxt
    else:
        out.warn(f"Stopped after {MAX_PAGES} pages.")
    return bodies if envelope else items


# output ------------------------------------------------------------------------------------------


def _render(value: Any, tty: bool, *, raw_strings: bool = False) -> str:
    if raw_strings and isinstance(value, str):
        return "\n".join(printable(line) for line in value.split("\n")) if tty else value
    if tty:
        return printable_json(json.dumps(value, ensure_ascii=False, indent=2, default=str))
    return dumps(value)


def _write(out: Output, texts: Iterable[str]) -> None:
    stream = out.stdout
    try:
        for text in texts:
            stream.write(text + "\n")
        stream.flush()
    except BrokenPipeError:
        raise
    except OSError as e:
        raise output_error(e) from None


def _compile_jq(expr: str) -> Any:
    try:
        import jq  # type: ignore[import-not-found]
    except ImportError:  # pragma: no cover - jq is a dependency; a broken install is said plainly
        raise CStarError("--jq needs the jq package.", code="jq_missing", hint="pip install jq") from None
    try:
        return jq.compile(expr)
    except ValueError as e:
        raise _usage(
            f"Invalid --jq expression: {str(e).splitlines()[0].rstrip(':')}",
            code="invalid_jq",
            field="jq",
            hint="Check the jq syntax, e.g. --jq '.[].id' (quote it for the shell).",
        ) from None


def _run_jq(program: Any, value: Any) -> list[Any]:
    try:
        return list(program.input_value(value).all())
    except ValueError as e:
        raise _usage(
            f"--jq failed on the response: {str(e).splitlines()[0] if str(e) else e}",
            code="jq_failed",
            field="jq",
            hint="Check the expression against the output without --jq.",
        ) from None


# command -----------------------------------------------------------------------------------------


def _complete_path(incomplete: str) -> list[str]:
    from cstar_cli.completion import api_paths

    return api_paths(incomplete)


_EPILOG = """Examples:

  cstar api /tickets -X GET -f status=open                 # query ?status=open
  cstar api /tickets --paginate --jq '.[].id'              # every ticket's id, all pages
  cstar api /tickets -f title='Printer on fire' -F tags[]=hardware
  cstar api /tickets/tkt_1 -X PATCH -F metadata\\[seats]=12
  cstar api /api/v1/me --envelope -i                       # the whole body; status and headers on stderr
  echo '{"title": "From a file"}' | cstar api /tickets --input -
"""


@app.command("api", epilog=_EPILOG)
def api_command(
    ctx: typer.Context,
    path: str = typer.Argument(
        ...,
        help="/tickets (relative to /api/v1/teams/{teamId}), /api/v1/me, or a URL on the configured API.",
        autocompletion=_complete_path,
        show_default=False,
    ),
    method: str | None = typer.Option(
        None,
        "--method",
        "-X",
        help="HTTP method (default: GET, or POST with fields or --input).",
        show_default=False,
        metavar="METHOD",
    ),
    raw_field: list[str] = typer.Option(
        [],
        "--raw-field",
        "-f",
        help="A string field (repeatable; key\\[]=v appends to an array, a\\[b]=v nests).",
        show_default=False,
        metavar="KEY=VALUE",
    ),
    typed_field: list[str] = typer.Option(
        [],
        "--field",
        "-F",
        help="A typed field: numbers, true, false, null, @file, @- (stdin); else a string.",
        show_default=False,
        metavar="KEY=VALUE",
    ),
    header: list[str] = typer.Option(
        [], "--header", "-H", help="A request header (repeatable).", show_default=False, metavar='"NAME: VALUE"'
    ),
    input_file: str | None = typer.Option(
        None,
        "--input",
        help="Send this file (- for stdin) as the JSON body; fields go to the query.",
        show_default=False,
        metavar="FILE",
    ),
    idempotency_key: str | None = typer.Option(
        None,
        "--idempotency-key",
        help="Idempotency-Key for a POST/PATCH/PUT/DELETE (default: a new one).",
        show_default=False,
        metavar="KEY",
    ),
    paginate: bool = typer.Option(False, "--paginate", help="Follow every page; print one array of all items."),
    envelope: bool = typer.Option(False, "--envelope", help="Print the whole response body, not just data."),
    include: bool = typer.Option(False, "--include", "-i", help="Write the status line and headers to stderr."),
    jq_expr: str | None = typer.Option(
        None,
        "--jq",
        "-q",
        help="Filter the output with a jq expression (strings printed raw).",
        show_default=False,
        metavar="EXPR",
    ),
) -> None:
    """Call any cStar API endpoint with your key and print the response's data as JSON."""
    app_ctx = get_app(ctx)
    out = app_ctx.out
    program = _compile_jq(jq_expr) if jq_expr is not None else None
    base_url = app_ctx.settings().base_url
    reads_stdin = input_file == "-" or any(f.partition("=")[2] == "@-" for f in typed_field)
    if reads_stdin and _isatty(sys.stdin):
        # Otherwise a forgotten pipe looks like a hang.
        out.info("Reading standard input (end it with Ctrl-D)…")
    req = build_request(
        path,
        base_url,
        method=method,
        raw_fields=raw_field,
        typed_fields=typed_field,
        headers=header,
        input_file=input_file,
        idempotency_key=idempotency_key,
        paginate=paginate,
    )
    _refuse_streams(req)
    client = app_ctx.client()
    api_path = req.target.path
    if req.target.needs_team:
        if not client.team_id:
            client.resolve_team()
        api_path = api_path.replace("{teamId}", client.team_id or "")
    try:
        value = _fetch(client, req, api_path, paginate=paginate, envelope=envelope, include=include, out=out)
    except CStarError as e:
        _add_hints(e, req, api_path, client.team_id)
        raise
    results = _run_jq(program, value) if program is not None else [value]
    # --json asks for machine output: one line per document even on a terminal.
    tty = out.stdout_tty and not out.json
    _write(out, (_render(v, tty, raw_strings=program is not None) for v in results))


def _refuse_streams(req: Request) -> None:
    from cstar_cli.protocol import openapi

    found = openapi.match(req.method, API_PREFIX + req.target.path)
    if found is None:
        return
    op = openapi.operation(found.operation.operation_id)
    kind = op.get("x-cstar-transport")
    if kind:
        what = "a server-sent event stream" if kind == "sse" else "a WebSocket"
        raise _usage(
            f"{req.method} {_shown(found.operation.path)} is {what}, not a JSON response.",
            code="streaming_endpoint",
            field="path",
            hint=f"Use `{op.get('x-cstar-cli') or 'cstar --help'}`.",
        )


def _add_hints(e: CStarError, req: Request, api_path: str, team_id: str | None) -> None:
    doc_path = _document_path(api_path, team_id)
    known = _known(doc_path)
    if isinstance(e, CStarNotFoundError) and not known:
        close = suggest_paths(doc_path)
        if close:
            e.hint = f"Did you mean {' or '.join(close)}? (`cstar api <TAB>` completes paths)"
        else:
            e.hint = "No such path in the cStar API; `cstar api <TAB>` completes the documented ones."
    elif e.status_code == 405 and known:
        e.hint = f"{_shown(doc_path)} takes {', '.join(known)}: choose one with -X."


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
