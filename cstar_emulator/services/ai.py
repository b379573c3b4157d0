"""AI actions (reference: "AI Actions") as deterministic local stand-ins: no model runs. Each answer
is built by fixed rules from the ticket's real title, notes and messages, so the same data always
gives the same result and tests can assert on it.

- ``auto-tag``: tags from a fixed keyword table (:data:`TOPICS`) matched as whole words; new ones
  are added to the ticket (through the ticket service: ``ticket.updated`` fires when one is added).
- ``suggest-reply``: a reply addressed to the customer by first name, on the ticket's topic.
- ``summarize``: who opened it, status and priority, the first and latest message, and counts.
- ``improve``: whitespace tidied, common misspellings fixed (:data:`SPELLING`), a lone "i"
  capitalised, sentences capitalised and ended with a full stop.
"""

from __future__ import annotations

import re
from typing import Any

from cstar_emulator.db import Scope
from cstar_emulator.models import Resource
from cstar_emulator.services.tickets import TicketService

__all__ = ["SPELLING", "TOPICS", "AiService"]

#: Tag → the words and phrases that suggest it, in the order tags are suggested.
TOPICS: dict[str, tuple[str, ...]] = {
    "billing": ("billing", "invoice", "charge", "charged", "payment", "subscription", "price", "receipt"),
    "refund": ("refund", "money back", "reimburse"),
    "account": ("login", "log in", "sign in", "password", "2fa", "locked out", "account"),
    "bug": ("bug", "error", "crash", "crashes", "broken", "not working", "fails", "exception"),
    "shipping": ("shipping", "delivery", "package", "tracking", "shipment"),
    "feature-request": ("feature", "suggestion", "would be nice", "wish"),
    "urgent": ("urgent", "asap", "immediately", "emergency"),
}

_TOPIC_LINES = {
    "billing": "I've pulled up your billing details and will sort out the charge with you.",
    "refund": "I'm checking your refund request now and will confirm the next steps.",
    "account": "Let's get you back into your account; I'm looking at it now.",
    "bug": "Sorry about the trouble. I'm reproducing the problem so we can fix it.",
    "shipping": "I'm checking the status of your delivery with our shipping team.",
    "feature-request": "Thanks for the suggestion; I've passed it on to our product team.",
    "urgent": "I understand this is urgent and I'm on it right away.",
}

#: Misspelling → correction, applied to whole words (any case; a capitalised word stays so).
SPELLING = {
    "teh": "the",
    "adn": "and",
    "recieve": "receive",
    "recieved": "received",
    "respons": "response",
    "cusomer": "customer",
    "costumer": "customer",
    "definately": "definitely",
    "seperate": "separate",
    "occured": "occurred",
    "untill": "until",
    "wich": "which",
    "thier": "their",
    "acount": "account",
    "adress": "address",
    "sucess": "success",
    "apologise": "apologize",
    "pls": "please",
    "thx": "thanks",
    "u": "you",
    "ur": "your",
}


def _topics(text: str) -> list[str]:
    lowered = text.lower()
    return [
        tag
        for tag, words in TOPICS.items()
        if any(re.search(r"(?<!\w)" + re.escape(w) + r"(?!\w)", lowered) for w in words)
    ]


def _clip(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def improve(text: str) -> tuple[str, int]:
    """``text`` tidied by the rules in the module docstring, and how many words were corrected."""
    fixes = 0

    def fix(match: re.Match[str]) -> str:
        nonlocal fixes
        word = match.group(0)
        right = SPELLING.get(word.lower())
        if right is None:
            if word == "i":
                fixes += 1
                return "I"
            return word
        fixes += 1
        return right[0].upper() + right[1:] if word[0].isupper() else right

    out = re.sub(r"[A-Za-z]+", fix, " ".join(text.split()))
    # Capitalise the first letter of each sentence.
    out = re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m.group(1) + m.group(2).upper(), out)
    if out and out[-1] not in ".!?":
        out += "."
    return out, fixes


class AiService:
    """The AI actions on one partition's tickets."""

    def __init__(self, tickets: TicketService) -> None:
        self.tickets = tickets

    def run(
        self, scope: Scope, request_id: str | None, action: str, *, ticket_id: str | None, text: str | None
    ) -> Resource:
        """``{"object": "ai_result", "action", "result"}`` where ``result`` is ``{"ticketId",
        "tags", "added"}`` (auto-tag), ``{"ticketId", "suggestion"}`` (suggest-reply), ``{"ticketId",
        "summary", "messageCount"}`` (summarize) or ``{"original", "improved", "corrections"}``
        (improve). The route makes sure ``ticket_id`` (or ``text`` for improve) is given; 404 for an
        unknown ticket."""
        if action == "improve":
            assert text is not None
            improved, fixes = improve(text)
            result: dict[str, Any] = {"original": text, "improved": improved, "corrections": fixes}
        else:
            assert ticket_id is not None
            ticket = self.tickets.get(scope, ticket_id)
            if action == "auto-tag":
                result = self._auto_tag(scope, request_id, ticket)
            elif action == "suggest-reply":
                result = {"ticketId": ticket_id, "suggestion": self._reply(scope, ticket)}
            else:
                result = {
                    "ticketId": ticket_id,
                    "summary": self._summary(scope, ticket),
                    "messageCount": len(ticket["messages"]),
                }
        return {"object": "ai_result", "action": action, "result": result}

    @staticmethod
    def _text(ticket: Resource) -> str:
        public = [m["content"] for m in ticket["messages"] if not m["isInternal"]]
        return "\n".join([ticket["title"], ticket["notes"] or "", *public])

    def _auto_tag(self, scope: Scope, request_id: str | None, ticket: Resource) -> dict[str, Any]:
        added = [t for t in _topics(self._text(ticket)) if t not in ticket["tags"]]
        tags = list(ticket["tags"])
        if added:
            tags = self.tickets.update(scope, ticket["id"], request_id, {"tags": tags + added})["tags"]
        return {"ticketId": ticket["id"], "tags": tags, "added": added}

    def _customer_name(self, scope: Scope, ticket: Resource) -> str | None:
        customer = self.tickets.customers.get(scope, ticket["customerId"]) if ticket["customerId"] else None
        return str(customer["name"]) if customer else None

    def _reply(self, scope: Scope, ticket: Resource) -> str:
        name = self._customer_name(scope, ticket)
        greeting = f"Hi {name.split()[0]}," if name else "Hi there,"
        topics = _topics(self._text(ticket))
        line = _TOPIC_LINES[topics[0]] if topics else "I'm looking into this now."
        return (
            f'{greeting} thanks for reaching out about "{_clip(ticket["title"], 80)}". {line} '
            "I'll update you here as soon as I know more."
        )

    def _summary(self, scope: Scope, ticket: Resource) -> str:
        who = self._customer_name(scope, ticket) or "A customer"
        messages = [m for m in ticket["messages"] if not m["isInternal"]]
        parts = [
            f'{who} opened "{_clip(ticket["title"], 80)}" ({ticket["priority"]} priority, now {ticket["status"]}).'
        ]
        if not messages:
            parts.append("No messages yet.")
        else:
            by_customer = sum(1 for m in messages if m["sender"] == "customer")
            parts.append(f'First message: "{_clip(messages[0]["content"])}".')
            if len(messages) > 1:
                last = messages[-1]
                parts.append(f'Latest, from {last["senderName"] or last["sender"]}: "{_clip(last["content"])}".')
            parts.append(
                f"{len(messages)} message{'s' if len(messages) != 1 else ''} "
                f"({by_customer} from the customer, {len(messages) - by_customer} from the team)."
            )
        notes = len(ticket["messages"]) - len(messages)
        if notes:
            parts.append(f"{notes} internal note{'s' if notes != 1 else ''}.")
        return " ".join(parts)
