"""Reading what an emulator's event hub published, for tests of its services without HTTP."""

from __future__ import annotations

import json
from typing import Any

from cstar_emulator.hub import Subscription
from cstar_emulator.repositories.events import Event

__all__ = ["drain"]


def drain(sub: Subscription[Event]) -> list[tuple[str, dict[str, Any]]]:
    """The ``(type, data)`` of every event published to ``sub`` so far, oldest first."""
    out = []
    while not sub.queue.empty():
        event = sub.queue.get_nowait()
        assert event is not None
        out.append((event.type, json.loads(event.payload)["data"]))
    return out
