"""Realistic synthetic ``data`` for test events (trigger-test and the burst control), shaped like the
reference's resource objects. Nothing here is stored as a resource."""

from __future__ import annotations

from typing import Any

from cstar_emulator.ids import iso_now, new_id

__all__ = ["sample_data"]


def _customer(now: str) -> dict[str, Any]:
    return {
        "id": new_id("cus_", 32),
        "name": "Jane Smith",
        "email": "jane@example.com",
        "status": "active",
        "sentiment": "positive",
        "tags": ["vip"],
        "notes": None,
        "metadata": {},
        "ticketCount": 3,
        "createdAt": now,
        "updatedAt": now,
    }


def _ticket(now: str, customer_id: str, *, status: str = "new", messages: int = 1) -> dict[str, Any]:
    return {
        "id": new_id("tkt_", 32),
        "title": "Cannot log in to my account",
        "status": status,
        "priority": "high",
        "customerId": customer_id,
        "assignedTo": None,
        "tags": ["login", "authentication"],
        "notes": None,
        "metadata": {},
        "messageCount": messages,
        "createdAt": now,
        "updatedAt": now,
        "resolvedAt": now if status in ("resolved", "closed") else None,
    }


def _article(now: str, *, status: str) -> dict[str, Any]:
    return {
        "id": new_id("art_", 32),
        "title": "How to reset your password",
        "content": '# Password Reset\n\n1. Go to the login page\n2. Click "Forgot Password"',
        "category": "Account",
        "status": status,
        "isPublic": status == "published",
        "tags": ["password", "account"],
        "viewCount": 0,
        "useCount": 0,
        "metadata": {},
        "createdAt": now,
        "updatedAt": now,
    }


def _boss(now: str, *, defeated: bool) -> dict[str, Any]:
    return {
        "id": new_id("boss_", 12),
        "name": "Backlog Beast",
        "level": 4,
        "maxHp": 1200,
        "currentHp": 0 if defeated else 1200,
        "status": "defeated" if defeated else "active",
        "spawnedAt": now,
        "defeatedAt": now if defeated else None,
    }


def sample_data(event_type: str) -> dict[str, Any]:
    """The ``data`` object of a synthetic ``event_type`` event (any catalog type; types without a
    specific sample get a generic ``{"object": {...}}`` keyed by their resource)."""
    now = iso_now()
    resource, _, action = event_type.partition(".")
    if resource == "ticket":
        cust = _customer(now)
        status = "resolved" if action == "closed" else ("open" if action != "created" else "new")
        data: dict[str, Any] = {"ticket": _ticket(now, cust["id"], status=status, messages=2), "customer": cust}
        if action == "message_added":
            data["message"] = {
                "id": new_id("msg_", 12),
                "ticketId": data["ticket"]["id"],
                "content": "I've reset your password. Please try logging in again.",
                "sender": "agent",
                "senderName": "Bob (Support)",
                "isInternal": False,
                "createdAt": now,
            }
        return data
    if resource == "customer":
        return {"customer": _customer(now)}
    if resource == "article":
        return {"article": _article(now, status="draft" if action == "created" else "published")}
    if resource == "boss":
        return {"boss": _boss(now, defeated=action == "defeated")}
    if resource == "player":
        return {
            "player": {
                "memberId": new_id("mem_", 12),
                "name": "Bob (Support)",
                "level": 12,
                "previousLevel": 11,
                "xp": 15400,
                "xpToNextLevel": 1800,
            }
        }
    return {resource: {"id": new_id(resource[:4] + "_", 12), "createdAt": now}}
