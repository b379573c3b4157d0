"""In-process fan-out of new events and request-log entries to open streams, per :class:`Scope`.

A stream subscribes *before* it reads its backlog from the database, so nothing written in between is
missed; items carry their database sequence number, which the stream uses to drop the ones it has
already sent from the backlog.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

__all__ = ["Hub", "Subscription"]

T = TypeVar("T")


class Subscription(Generic[T]):
    """One stream's queue. ``tag`` identifies its owner (e.g. the API key id) for :meth:`Hub.close`."""

    def __init__(self, hub: Hub[T], key: Hashable, tag: Any = None) -> None:
        self._hub = hub
        self.key = key
        self.tag = tag
        self.queue: asyncio.Queue[T | None] = asyncio.Queue()
        self.closed = False

    async def get(self) -> T | None:
        """The next item, or None once the subscription was ended by :meth:`Hub.close`."""
        if self.closed and self.queue.empty():
            return None
        return await self.queue.get()

    def end(self) -> None:
        if not self.closed:
            self.closed = True
            self.queue.put_nowait(None)

    def close(self) -> None:
        """Unsubscribe (idempotent)."""
        self.closed = True
        self._hub._remove(self)


class Hub(Generic[T]):
    """Publish/subscribe keyed by scope; unbounded queues, so a slow reader delays only itself."""

    def __init__(self) -> None:
        self._subs: dict[Hashable, set[Subscription[T]]] = {}

    def subscribe(self, key: Hashable, tag: Any = None) -> Subscription[T]:
        sub: Subscription[T] = Subscription(self, key, tag)
        self._subs.setdefault(key, set()).add(sub)
        return sub

    def publish(self, key: Hashable, item: T) -> None:
        for sub in self._subs.get(key, ()):
            sub.queue.put_nowait(item)

    def publish_many(self, key: Hashable, items: list[T]) -> None:
        for sub in self._subs.get(key, ()):
            for item in items:
                sub.queue.put_nowait(item)

    def close(self, where: Callable[[Subscription[T]], bool] | None = None) -> int:
        """End every subscription (or those ``where`` accepts); their readers get None. Returns how many."""
        ended = [s for subs in self._subs.values() for s in subs if where is None or where(s)]
        for sub in ended:
            sub.end()
            self._remove(sub)
        return len(ended)

    def _remove(self, sub: Subscription[T]) -> None:
        subs = self._subs.get(sub.key)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.key]
