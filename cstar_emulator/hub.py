"""In-process fan-out of new events and request-log entries to open streams, per :class:`Scope`.

A stream subscribes *before* it reads its backlog from the database, so nothing written in between is
missed; items carry their database sequence number, which the stream uses to drop the ones it has
already sent from the backlog.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Hashable, Sequence
from typing import Any, Generic, Protocol, TypeVar

__all__ = ["Hub", "Sequenced", "Subscription", "replay_then_live"]


class Sequenced(Protocol):
    """An item with its database sequence number."""

    @property
    def seq(self) -> int: ...


T = TypeVar("T")
S = TypeVar("S", bound=Sequenced)


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
        """Wake the reader with None after what is already queued (the hub's side of closing)."""
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
        """A new subscription to items published under ``key``."""
        sub: Subscription[T] = Subscription(self, key, tag)
        self._subs.setdefault(key, set()).add(sub)
        return sub

    def publish(self, key: Hashable, item: T) -> None:
        """Queue ``item`` for every subscriber of ``key``."""
        for sub in self._subs.get(key, ()):
            sub.queue.put_nowait(item)

    def publish_many(self, key: Hashable, items: list[T]) -> None:
        """Queue ``items``, in order, for every subscriber of ``key``."""
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


async def replay_then_live(
    sub: Subscription[S],
    after: int | None,
    backlog: Callable[[int], Sequence[S]],
    *,
    idle: float | None = None,
) -> AsyncIterator[S | None]:
    """Every item after sequence ``after`` (None: only new ones), each once and in order: first the
    stored ones, read in batches by ``backlog(seq)`` (items above ``seq``, ascending, empty at the
    end), then live ones from ``sub``, which must have been subscribed before the first backlog read.
    Yields None after each ``idle`` seconds without an item; stops when the hub ends ``sub``."""
    last = -1
    if after is not None:
        last = after
        while batch := backlog(last):
            for item in batch:
                last = item.seq
                yield item
    while True:
        try:
            live: S | None = await asyncio.wait_for(sub.get(), timeout=idle)
        except asyncio.TimeoutError:
            yield None
            continue
        if live is None:
            return
        if live.seq > last:
            last = live.seq
            yield live
