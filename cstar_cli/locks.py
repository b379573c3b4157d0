"""For code that runs both in threads and inside :func:`cstar_cli.api.bridge.run`: a lock, and how
to tell where the caller runs (:func:`active_bridge`).

Bodies run by the bridge share the event loop's thread. A plain ``threading.Lock`` held by one of
them across a network wait would block that thread, and so the loop, as soon as a second body
asks for it: the holder could never resume (a hang). :class:`LoopSafeLock` waits differently
inside the bridge: it suspends the asking body on the loop, trying again every millisecond or
two, so the holder goes on. Elsewhere it is a ``threading.Lock``. Not reentrant.
"""

from __future__ import annotations

import sys
import threading
from types import TracebackType
from typing import Any

__all__ = ["LoopSafeLock", "active_bridge"]

#: How long (s) a body inside the bridge sleeps between two tries.
_RETRY = 0.002


def active_bridge() -> Any:
    """The bridge module when the caller runs inside one of its bodies, else None. Never imports it
    (nor greenlet): a command that does not use the bridge pays nothing for asking."""
    bridge = sys.modules.get("cstar_cli.api.bridge")
    return bridge if bridge is not None and bridge.active() else None


class LoopSafeLock:
    """``with lock:`` as with ``threading.Lock``; inside the bridge the wait never blocks the loop."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def __enter__(self) -> LoopSafeLock:
        if self._lock.acquire(blocking=False):
            return self
        bridge = active_bridge()
        if bridge is None:
            self._lock.acquire()
            return self
        import asyncio

        while not self._lock.acquire(blocking=False):
            bridge.wait(asyncio.sleep(_RETRY))
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._lock.release()
