"""Commands the entry point answers before Typer and Rich load (:mod:`cstar_cli._entry`).

:func:`cached_help` answers ``cstar --help`` (and ``-h``) from a cache of the full CLI's own rendering
(Typer's Rich help needs every command module, Typer and Rich: ~0.4 s). An entry is keyed by
everything the rendering depends on (:func:`help_cache_key`): cstar's version and the size and
modification time of each of its source files, Typer's and Rich's installed files, the
interpreter, the arguments, whether stdout is a terminal, its encoding, the terminal size Rich
would find, and the environment variables Rich, Typer and cstar read (``COLUMNS``, ``NO_COLOR``,
``TERM``, ``FORCE_COLOR``, ``LC_*`` …). Any change there is a different entry, so an entry is never
stale; a miss renders with the full CLI and stores what it wrote (only after a complete, exit-0
run). An entry (``help-<key>.txt``) starts with a header line giving the format, the body's length
in bytes and its SHA-256; one that fails that check (truncated, emptied, overwritten, another
format) counts as a miss, so it is rendered afresh and replaced. The cache lives in
``CSTAR_CACHE_DIR``, else ``platformdirs.user_cache_dir("cstar")``.

:func:`run` recognises ``cstar [global options] mcp-server [--read-only] [--tools NAMES]…``: an
agent's client spawns the server and waits for ``initialize`` while it loads, and Typer with Rich is
~250 ms of that. The settings are resolved exactly as the full command does
(:func:`cstar_cli.commands.mcp_serve.serve`). Anything else, including everything the full CLI
would answer with an error or help (``--help``, ``--print-config``, an unknown flag, a value that
looks like an option, ``--``, a bad ``--tools``, ``--profile`` or ``--base-url``), is left to the
full CLI (:func:`run` returns None), so its messages and exit codes stay the full CLI's own.

:func:`run` also answers ``cstar [global options] status`` with ``--json`` among them (Typer and its
parser are ~40 % of that command's start-up): it runs the command's own body
(:func:`cstar_cli.commands.status_run.show_status`) and ends a failure as the root command does
(:mod:`cstar_cli._ending`, which :meth:`cstar_cli.cli.RootGroup.invoke` and ``main`` use too), so
stdout, stderr and the exit code are the full CLI's, errors included (not logged in, bad base URL or
profile, API unreachable).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cstar_cli.output import Output

__all__ = ["GlobalOptions", "cached_help", "help_cache_key", "is_cached_help", "run", "split_global_options"]

_GLOBAL_FLAGS = {"--json": "json", "--no-color": "no_color", "--debug": "debug"}
_GLOBAL_VALUED = {"--api-key": "api_key", "--base-url": "base_url", "--profile": "profile"}


class GlobalOptions:
    """The root's options as the full CLI would parse them (see :mod:`cstar_cli.cli`)."""

    def __init__(self) -> None:
        self.json = False
        self.no_color = False
        self.debug = False
        self.api_key: str | None = None
        self.base_url: str | None = None
        self.profile: str | None = None


def _plain_value(value: str) -> bool:
    # Click would take "-x" as a value, or report it; either way that is the full CLI's business.
    return bool(value) and not value.startswith("-")


def split_global_options(argv: Sequence[str]) -> tuple[GlobalOptions, list[str]] | None:
    """The global options anywhere in ``argv`` (as :func:`cstar_cli.cli.hoist_global_options` moves
    them; the last of a repeated one wins, as in Click) and the other arguments in order; None when
    ``argv`` holds ``--`` or a valued option without a plain value (the full CLI decides those)."""
    opts = GlobalOptions()
    rest: list[str] = []
    i = 0
    while i < len(argv):
        tok = argv[i]
        name, eq, value = tok.partition("=")
        if tok == "--":
            return None
        if tok in _GLOBAL_FLAGS:
            setattr(opts, _GLOBAL_FLAGS[tok], True)
        elif name in _GLOBAL_VALUED:
            if not eq:
                if i + 1 >= len(argv):
                    return None
                i += 1
                value = argv[i]
            if not _plain_value(value):
                return None
            setattr(opts, _GLOBAL_VALUED[name], value)
        else:
            rest.append(tok)
        i += 1
    return opts, rest


def _mcp_server_options(args: Sequence[str]) -> tuple[bool, list[str] | None] | None:
    """(``--read-only``, the ``--tools`` values or None) of ``mcp-server``'s arguments; None for
    anything else (``--help``, ``--print-config``, an unknown option, an argument)."""
    read_only = False
    tools: list[str] | None = None
    i = 0
    while i < len(args):
        tok = args[i]
        name, eq, value = tok.partition("=")
        if tok == "--read-only":
            read_only = True
        elif name == "--tools":
            if not eq:
                if i + 1 >= len(args):
                    return None
                i += 1
                value = args[i]
            if not _plain_value(value):
                return None
            tools = [*(tools or []), value]
        else:
            return None
        i += 1
    return read_only, tools


_HELP_ARGV = (["--help"], ["-h"])
#: Environment variables that change how help is drawn (Rich's console, Typer's help, cstar's colour).
_HELP_ENV = frozenset(
    {
        "COLUMNS",
        "LINES",
        "TERMINAL_WIDTH",
        "NO_COLOR",
        "FORCE_COLOR",
        "PY_COLORS",
        "TERM",
        "COLORTERM",
        "TTY_COMPATIBLE",
        "TTY_INTERACTIVE",
        "GITHUB_ACTIONS",
        "DATABRICKS_RUNTIME_VERSION",
        "UNICODE_VERSION",
        "LANG",
        "LANGUAGE",
    }
)
_HELP_ENV_PREFIXES = ("_TYPER", "TYPER_", "CSTAR_", "LC_", "PYTHON", "JUPYTER_", "CLICOLOR", "VSCODE_")


def is_cached_help(argv: Sequence[str]) -> bool:
    """Whether :func:`cached_help` answers ``argv``."""
    return list(argv) in _HELP_ARGV


def _stat_tree(root: str, h: Any) -> None:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith(".py"):
                st = os.stat(os.path.join(dirpath, name))
                h.update(f"{dirpath}/{name}:{st.st_mtime_ns}:{st.st_size}\n".encode())


def help_cache_key(argv: Sequence[str]) -> str:
    """A hex digest of everything the full CLI's help for ``argv`` depends on (module docstring)."""
    import hashlib
    import importlib.util

    from cstar_cli import __version__

    h = hashlib.sha256()
    h.update(repr([__version__, sys.version, sys.executable, list(argv)]).encode())
    out = sys.stdout
    try:
        tty = out.isatty()
    except (AttributeError, ValueError):
        tty = False
    h.update(repr([tty, getattr(out, "encoding", None), getattr(out, "errors", None)]).encode())
    for fd in (0, 1, 2):  # Rich asks each standard descriptor in turn for the terminal size
        try:
            h.update(repr(tuple(os.get_terminal_size(fd))).encode())
            break
        except OSError:
            continue
    env = sorted((k, v) for k, v in os.environ.items() if k in _HELP_ENV or k.startswith(_HELP_ENV_PREFIXES))
    h.update(repr(env).encode())
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    _stat_tree(package, h)
    for dist in ("typer", "rich"):
        spec = importlib.util.find_spec(dist)
        for location in (spec.submodule_search_locations or []) if spec else []:
            _stat_tree(location, h)
    return h.hexdigest()


def _cache_dir() -> str:
    override = os.environ.get("CSTAR_CACHE_DIR")
    if override:
        return override
    import platformdirs

    return platformdirs.user_cache_dir("cstar", appauthor=False)


class _Recorder:
    """Stands in for ``sys.stdout`` while the full CLI draws help: passes everything through to the
    real stream (which Rich still sees: ``isatty``, ``fileno``, ``encoding``) and keeps a copy."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.parts: list[str] = []

    def write(self, text: str) -> int:
        n: int = self._stream.write(text)
        self.parts.append(text)
        return n

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def cached_help(argv: Sequence[str], render: Callable[[], object]) -> int:
    """Write the help for ``argv`` (see :func:`is_cached_help`) to stdout and give the exit code:
    from the cache, or by calling ``render`` (the full CLI, which ends with ``SystemExit``) and
    storing what it wrote when it exits 0. A cache that cannot be read or written is skipped."""
    from cstar_cli._stdio import write_failed

    try:
        path = os.path.join(_cache_dir(), f"help-{help_cache_key(argv)}.txt")
    except (OSError, ValueError, ImportError):
        path = None
    if path is not None:
        text = _load(path)
        if text is not None:
            try:
                sys.stdout.write(text)
                sys.stdout.flush()
            except OSError as e:
                return write_failed(e)
            return 0
    recorder = _Recorder(sys.stdout)
    sys.stdout = recorder
    try:
        render()
        code: object = 0
    except SystemExit as e:
        code = e.code
    finally:
        if sys.stdout is recorder:
            sys.stdout = recorder._stream
    if code in (0, None) and path is not None and recorder.parts:
        _store(path, "".join(recorder.parts))
    return code if isinstance(code, int) else (0 if code is None else 1)


#: First line of an entry: ``cstar-help <format> <body length in bytes> <SHA-256 of the body, hex>``.
#: The rename in :func:`_store` keeps readers from seeing a half-written entry; the header catches
#: everything else (a truncated or emptied file, another format, bytes changed on disk).
_HEADER_TAG = b"cstar-help"
_FORMAT = b"1"


def _load(path: str) -> str | None:
    """The help text stored at ``path``, or None when there is none or it fails its header check
    (then the caller renders afresh and :func:`_store` replaces it)."""
    import hashlib

    try:
        with open(path, "rb") as f:
            header = f.readline(256)
            fields = header.rstrip(b"\n").split(b" ")
            if not header.endswith(b"\n") or len(fields) != 4 or fields[:2] != [_HEADER_TAG, _FORMAT]:
                return None
            length = int(fields[2])
            body = f.read(length + 1)  # one byte more: a longer body is as wrong as a shorter one
    except (OSError, ValueError):
        return None
    if len(body) != length or hashlib.sha256(body).hexdigest().encode() != fields[3]:
        return None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _store(path: str, text: str) -> None:
    # Written whole under a temporary name, then renamed: a reader sees the old entry or the new one.
    import hashlib

    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        body = text.encode("utf-8")
        header = b" ".join([_HEADER_TAG, _FORMAT, str(len(body)).encode(), hashlib.sha256(body).hexdigest().encode()])
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(header + b"\n" + body)
        os.replace(tmp, path)
    except (OSError, ValueError):
        with contextlib.suppress(OSError):
            os.remove(tmp)


def run(argv: Sequence[str]) -> int | None:
    """Answer ``argv`` (``sys.argv[1:]``) without Typer when it is a fast-path command, and give the
    exit code; None when the full CLI must answer it (nothing has been written then)."""
    parsed = split_global_options(argv)
    if parsed is None:
        return None
    opts, rest = parsed
    if rest == ["status"] and opts.json:
        return _status(opts)
    if not rest or rest[0] != "mcp-server":
        return None
    mcp = _mcp_server_options(rest[1:])
    if mcp is None:
        return None
    read_only, tools = mcp
    return _mcp_server(opts, read_only=read_only, tools=tools)


def _mcp_server(opts: GlobalOptions, *, read_only: bool, tools: list[str] | None) -> int | None:
    from cstar_cli._ending import DEBUG_ENV, failure_code, final_flush
    from cstar_cli.commands.mcp_serve import serve, stop_quietly_on_signals
    from cstar_cli.errors import CStarError
    from cstar_cli.mcp.toolset import select_tools
    from cstar_cli.settings import resolve

    if opts.debug and not os.environ.get(DEBUG_ENV):
        os.environ[DEBUG_ENV] = "1"  # as --debug does in the full CLI, for the server's logging
    stop_quietly_on_signals()
    try:
        names = select_tools(tools, read_only=read_only)
        # serve() checks this again; checked here so that its error is the full CLI's to report.
        resolve(api_key=opts.api_key, base_url=opts.base_url, profile=opts.profile, load_stored_key=False)
    except CStarError:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        return None
    try:
        code = serve(names, api_key=opts.api_key, base_url=opts.base_url, profile=opts.profile)
    except (Exception, KeyboardInterrupt) as e:
        code = failure_code(e, _output(opts))
    return final_flush(code)


def _output(opts: GlobalOptions) -> Output:
    # Only for a failure: the server writes no Output of its own, and loading it costs start-up time.
    from cstar_cli.output import Output

    return Output(json=opts.json, no_color=opts.no_color)


def _status(opts: GlobalOptions) -> int:
    """``cstar status --json``: the command's body with the root's context and failure handling."""
    from cstar_cli._ending import DEBUG_ENV, failure_code, final_flush
    from cstar_cli.commands.status_run import show_status
    from cstar_cli.context import AppContext

    app_ctx = AppContext(
        json=opts.json, no_color=opts.no_color, api_key=opts.api_key, base_url=opts.base_url, profile=opts.profile
    )
    set_debug = opts.debug and not os.environ.get(DEBUG_ENV)
    if set_debug:
        os.environ[DEBUG_ENV] = "1"
    try:
        show_status(app_ctx)
        code = 0
    except (Exception, KeyboardInterrupt) as e:
        code = failure_code(e, app_ctx.out)
    finally:
        app_ctx.close()
        if set_debug:
            os.environ.pop(DEBUG_ENV, None)
    return final_flush(code)
