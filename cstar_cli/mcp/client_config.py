"""``cstar mcp-server --print-config CLIENT``: the snippet that registers this server with an MCP
client, in that client's own format. Imports nothing from the MCP SDK.

The snippet never holds a key: the server it starts reads the stored login (``cstar login``). It
names the command (:func:`server_command`), the server's flags (``--read-only``, ``--tools``) and, in
``env``, ``CSTAR_PROFILE`` for a profile other than ``default`` and ``CSTAR_BASE_URL`` for an API
other than the default one.

=============== ======================================= ==========================================
client          where it goes                           shape
=============== ======================================= ==========================================
``claude-code`` ``.mcp.json`` at the repository root    ``{"mcpServers": {"cstar": {"type": "stdio", …}}}``
``cursor``      ``.cursor/mcp.json`` (or ``~/.cursor``) ``{"mcpServers": {"cstar": {…}}}``
``continue``    ``.continue/mcpServers/cstar.yaml``     a YAML block with ``mcpServers: [- name: cstar …]``
``vscode``      ``.vscode/mcp.json``                    ``{"servers": {"cstar": {"type": "stdio", …}}}``
=============== ======================================= ==========================================
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from cstar_cli.errors import CStarUsageError

__all__ = ["CLIENTS", "WHERE", "client_name", "render", "server_command"]

#: The clients ``--print-config`` knows, in the order the error lists them.
CLIENTS: tuple[str, ...] = ("claude-code", "cursor", "continue", "vscode")

#: Where each client reads the snippet from (told on stderr, never part of the snippet).
WHERE: dict[str, str] = {
    "claude-code": "Add it to .mcp.json at the repository root (or paste the inner entry into "
    "`claude mcp add-json cstar '…'`).",
    "cursor": "Add it to .cursor/mcp.json in the project, or ~/.cursor/mcp.json for every project.",
    "continue": "Save it as .continue/mcpServers/cstar.yaml at the top of the workspace.",
    "vscode": "Add it to .vscode/mcp.json in the workspace.",
}


def client_name(given: str) -> str:
    """``given`` as one of :data:`CLIENTS` (case, ``_`` and spaces forgiven; ``claude`` is
    ``claude-code``, ``vs-code`` is ``vscode``). Raises :class:`CStarUsageError` (exit 2) listing
    the valid names."""
    name = given.strip().lower().replace("_", "-").replace(" ", "-")
    name = {"claude": "claude-code", "claudecode": "claude-code", "vs-code": "vscode", "code": "vscode"}.get(name, name)
    if name not in CLIENTS:
        raise CStarUsageError(
            f"Unknown MCP client {given!r} for --print-config.",
            code="invalid_client",
            field="print-config",
            hint=f"Use one of: {', '.join(CLIENTS)}.",
        )
    return name


def server_command() -> tuple[str, list[str]]:
    """``(command, leading args)`` that start this cstar: ``cstar`` when it is on PATH, else the
    absolute path of the ``cstar`` script beside this interpreter, else this interpreter with
    ``-m cstar_cli``."""
    if shutil.which("cstar"):
        return "cstar", []
    bindir = Path(sys.executable).parent
    for candidate in (bindir / "cstar", bindir / "cstar.exe", bindir / "Scripts" / "cstar.exe"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate.absolute()), []
    return str(Path(sys.executable).absolute()), ["-m", "cstar_cli"]


def _yaml_list(items: Sequence[str], indent: str) -> list[str]:
    # JSON strings are valid YAML double-quoted scalars: no quoting rules of our own.
    return [f"{indent}- {json.dumps(item, ensure_ascii=False)}" for item in items]


def render(client: str, command: str, args: Sequence[str], env: Mapping[str, str]) -> str:
    """The snippet for ``client`` (one of :data:`CLIENTS`) starting ``command`` with ``args`` and
    ``env`` (no key: the caller leaves it out), ending in a newline."""
    entry: dict[str, object] = {"command": command, "args": list(args)}
    if env:
        entry["env"] = dict(env)
    if client == "continue":
        lines = ["name: cStar", "version: 0.0.1", "schema: v1", "mcpServers:", "  - name: cstar"]
        lines.append(f"    command: {json.dumps(command, ensure_ascii=False)}")
        lines.append("    args:")
        lines.extend(_yaml_list(args, "      "))
        if env:
            lines.append("    env:")
            lines.extend(f"      {k}: {json.dumps(v, ensure_ascii=False)}" for k, v in env.items())
        return "\n".join(lines) + "\n"
    if client in ("claude-code", "vscode"):
        entry = {"type": "stdio", **entry}
    root = "servers" if client == "vscode" else "mcpServers"
    return json.dumps({root: {"cstar": entry}}, indent=2, ensure_ascii=False) + "\n"
