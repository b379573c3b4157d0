"""``POST /ai`` (reference: "AI Actions"): deterministic local stand-ins, no model runs."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from cstar_emulator import validate as v
from cstar_emulator.envelope import ApiError, ok
from cstar_emulator.routes._http import TEAM, api_routes, caller
from cstar_emulator.routes._records import checked_body

__all__ = ["ROUTES"]


async def run_ai(request: Request) -> Response:
    """``POST /ai {"action", "ticketId"?, "text"?}``: ``ticketId`` for auto-tag, suggest-reply and
    summarize; ``text`` (≤ 10,000 characters) for improve."""
    c = caller(request)
    body = checked_body(await v.body(request), "runAiAction")
    action = body["action"]
    ticket_id: str | None = None
    text: str | None = None
    if action == "improve":
        text = v.text(v.require(body, "text"), "text")
    else:
        if body.get("ticketId") is None or not str(body["ticketId"]).strip():
            raise ApiError.invalid("ticketId", f"ticketId is required for {action}.")
        ticket_id = v.text(body["ticketId"], "ticketId", max_len=v.MAX_TEXT["customerId"])
    return ok(request, c.emulator.ai.run(c.scope, c.request_id, action, ticket_id=ticket_id, text=text))


ROUTES = api_routes(TEAM, [("POST", "/ai", run_ai)])
