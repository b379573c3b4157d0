"""Which tools the server publishes: the names, which of them change data, and ``--tools`` /
``--read-only`` selection.

Imports nothing from the MCP SDK, so ``cstar mcp-server --tools typo`` fails (exit 2) at once,
before the slow part of start-up.
"""

from __future__ import annotations

from collections.abc import Iterable

from cstar_cli.errors import CStarUsageError

__all__ = ["PREFIX", "TOOL_NAMES", "WRITE_TOOLS", "select_tools"]

PREFIX = "cstar_"

#: The tool names, in the order they are listed: the nine the reference publishes ("CLI" → "MCP
#: tools"), then the event-loop tools of docs/mcp.md (history, waiting, resend, signatures).
TOOL_NAMES: tuple[str, ...] = (
    "cstar_list_tickets",
    "cstar_get_ticket",
    "cstar_create_ticket",
    "cstar_list_customers",
    "cstar_get_customer",
    "cstar_list_articles",
    "cstar_trigger_webhook",
    "cstar_get_status",
    "cstar_list_events",
    "cstar_recent_events",
    "cstar_wait_for_event",
    "cstar_resend_event",
    "cstar_verify_signature",
)

#: Tools that change something (a ticket is created, an event is delivered); ``--read-only`` hides them.
WRITE_TOOLS: frozenset[str] = frozenset({"cstar_create_ticket", "cstar_trigger_webhook", "cstar_resend_event"})


def _canonical(name: str) -> str:
    name = name.strip().lower().replace("-", "_")
    return name if name.startswith(PREFIX) else PREFIX + name


def select_tools(only: Iterable[str] | None = None, *, read_only: bool = False) -> list[str]:
    """The tool names to publish, in :data:`TOOL_NAMES` order.

    ``only`` holds names as given to ``--tools`` (each may be a comma-separated list; the ``cstar_``
    prefix is optional, so ``list_tickets`` works); None means all. ``read_only`` drops
    :data:`WRITE_TOOLS`. Raises :class:`CStarUsageError` (exit 2) for an unknown name, with the
    closest real ones, for an empty list, or for naming a write tool together with ``read_only``.
    """
    if only is None:
        chosen = set(TOOL_NAMES)
    else:
        given = [part for item in only for part in item.split(",") if part.strip()]
        if not given:
            raise CStarUsageError(
                "--tools names no tool.",
                code="invalid_tools",
                field="tools",
                hint="Give a comma-separated list, e.g. --tools cstar_list_tickets,cstar_get_ticket.",
            )
        chosen = set()
        for raw in given:
            name = _canonical(raw)
            if name not in TOOL_NAMES:
                import difflib  # only for a misspelt name

                close = difflib.get_close_matches(name, TOOL_NAMES, n=2, cutoff=0.6)
                did_you_mean = f"Did you mean {' or '.join(close)}? " if close else ""
                raise CStarUsageError(
                    f"Unknown tool {raw.strip()!r}.",
                    code="invalid_tools",
                    field="tools",
                    hint=f"{did_you_mean}Tools: {', '.join(TOOL_NAMES)}.",
                )
            if read_only and name in WRITE_TOOLS:
                raise CStarUsageError(
                    f"{name} changes data, and --read-only hides such tools.",
                    code="invalid_tools",
                    field="tools",
                    hint="Drop it from --tools, or drop --read-only.",
                )
            chosen.add(name)
    if read_only:
        chosen -= WRITE_TOOLS
    return [name for name in TOOL_NAMES if name in chosen]
