"""Shaped test events (server contract, "Shaped triggers"), one implementation for ``cstar trigger``
and the MCP tool ``cstar_trigger_webhook``: the server's synthetic sample, or a whole ``data``
object, with ``--override``/``--add``/``--remove`` edits (:mod:`cstar_cli.fields`) applied locally,
so a path that does not exist is refused before anything is sent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cstar_cli.errors import CStarError, CStarNotFoundError
from cstar_cli.fields import Edit, apply_edits

if TYPE_CHECKING:
    from cstar_cli.api import CStarClient

__all__ = ["fetch_sample", "shaped_data"]


def fetch_sample(client: CStarClient, event: str, *, payload_name: str = "--payload FILE") -> dict[str, Any]:
    """The server's synthetic ``data`` for ``event`` (``GET …/webhooks/trigger-test/sample``).
    ``payload_name`` is how the caller's surface names "the whole data", for the hints. Raises
    :class:`CStarNotFoundError` (no sample endpoint) and :class:`CStarError` ``bad_response`` (no
    ``data`` object in the answer), besides the client's errors."""
    try:
        data = client.trigger_sample(event).data.get("data")
    except CStarNotFoundError as e:
        give = f"give the whole data with {payload_name}."
        e.hint = f"{e.hint} Or {give}" if e.hint else give[0].upper() + give[1:]
        raise
    if not isinstance(data, dict):
        raise CStarError(
            f"The API's sample for {event} has no data object.",
            code="bad_response",
            hint=f"Give the whole data with {payload_name}.",
        )
    return data


def shaped_data(
    client: CStarClient | None,
    event: str,
    edits: list[Edit],
    payload: dict[str, Any] | None,
    *,
    payload_name: str = "--payload FILE",
) -> dict[str, Any] | None:
    """The ``data`` to send: ``payload`` (or the server's sample when there are edits and no payload;
    ``client`` fetches it) with ``edits`` applied; None when there is nothing to shape (the server's
    own sample goes out). Raises :class:`~cstar_cli.errors.CStarUsageError` ``path_not_found`` /
    ``path_exists`` for an edit that does not fit the data, and :func:`fetch_sample`'s errors."""
    if payload is None and not edits:
        return None
    if payload is not None:
        base = payload
    else:
        base = fetch_sample(client, event, payload_name=payload_name) if client is not None else {}
    return apply_edits(base, edits)
