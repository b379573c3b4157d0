"""``cstar mcp-server``: cStar's tools for AI coding agents, over the Model Context Protocol (stdio).

Modules, from the outside in:

- :mod:`~cstar_cli.mcp.toolset` — the tool names and ``--tools``/``--read-only`` selection
  (no SDK import, so a bad flag fails fast);
- :mod:`~cstar_cli.mcp.server` — the SDK ``MCPServer``, strict arguments, error results, logging,
  stdio serving;
- :mod:`~cstar_cli.mcp.stdio` / :mod:`~cstar_cli.mcp.framing` — the stdio transport: bounded line
  reading, and the JSON-RPC error every malformed line gets, in front of the SDK;
- :mod:`~cstar_cli.mcp.tools` — each tool's description, schema, annotations and API call;
- :mod:`~cstar_cli.mcp.schemas` — the compact output schemas that keep ``tools/list`` small;
- :mod:`~cstar_cli.mcp.library` — the ``cstar://`` resources and the prompts;
- :mod:`~cstar_cli.mcp.client_config` — ``--print-config``: each client's config snippet (no SDK import);
- :mod:`~cstar_cli.mcp.views` / :mod:`~cstar_cli.mcp.outputs` — small structured results and their schemas;
- :mod:`~cstar_cli.mcp.results` — success and ``isError`` results;
- :mod:`~cstar_cli.mcp.sanitize` — stripping control and invisible characters from outsiders' text;
- :mod:`~cstar_cli.mcp.access` — the lazily made API client, and the secrets kept out of output.

This package never imports Rich or Typer, and importing it imports nothing heavy: the SDK loads with
:mod:`~cstar_cli.mcp.server`, httpx with the first tool call.
"""

from cstar_cli.mcp.toolset import TOOL_NAMES, WRITE_TOOLS, select_tools

__all__ = ["TOOL_NAMES", "WRITE_TOOLS", "select_tools"]
