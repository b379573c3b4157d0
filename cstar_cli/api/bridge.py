"""Run the synchronous API client on an event loop without a worker thread.

The MCP server's tool bodies are plain functions over :class:`~cstar_cli.api.CStarClient`, the same
client the commands use. Run in a worker thread, every tool call pays two thread switches (and, on
a quiet machine, two wake-ups of a sleeping thread): about as much as the API call itself. With
:func:`run` the body runs instead in a greenlet on the loop's own thread; where the client would
block on the network it calls :func:`wait` with an awaitable (an ``httpx.AsyncClient`` request, a
sleep, a blocking call sent to a thread), which suspends the greenlet while the loop awaits it, then
resumes the body with the result or the exception. This is how SQLAlchemy runs its ORM over asyncio
drivers (``greenlet_spawn`` / ``await_only``).

So, while a tool waits for the API, the loop goes on serving other requests, cancellations and
pings, and a cancellation (the client's, or a deadline's) is raised inside the body at the point it
waits, which cancels the HTTP request. Code that blocks without :func:`wait` (a keychain read) must
not run inside: :func:`active` tells it to hand that call to a thread with :func:`blocking`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

import anyio.to_thread
import greenlet

__all__ = ["active", "blocking", "run", "wait"]

_T = TypeVar("_T")


class _Body(greenlet.greenlet):
    """The greenlet running one :func:`run` body; ``driver`` is the greenlet of the coroutine awaiting it."""

    def __init__(self, fn: Callable[..., Any], driver: greenlet.greenlet) -> None:
        super().__init__(fn, driver)
        self.driver = driver
        # The body sees the awaiting task's context variables, as code run in that task would.
        self.gr_context = driver.gr_context


class _Awaiting:
    """What a body hands its driver to await (a plain tuple could be a body's own return value)."""

    __slots__ = ("awaitable",)

    def __init__(self, awaitable: Awaitable[Any]) -> None:
        self.awaitable = awaitable


def active() -> bool:
    """Whether the caller runs inside :func:`run`, where blocking I/O must go through :func:`wait`."""
    return isinstance(greenlet.getcurrent(), _Body)


def wait(awaitable: Awaitable[_T]) -> _T:
    """Inside :func:`run`: suspend the body until the loop has awaited ``awaitable``; return its
    result or raise its exception (a cancellation included). Raises RuntimeError outside."""
    current = greenlet.getcurrent()
    if not isinstance(current, _Body):
        raise RuntimeError("bridge.wait() called outside bridge.run()")
    return cast(_T, current.driver.switch(_Awaiting(awaitable)))


def blocking(fn: Callable[..., _T], *args: Any) -> _T:
    """``fn(*args)``: in a worker thread when inside :func:`run` (so the loop is not blocked),
    directly otherwise. For the few blocking calls that have no awaitable form (a keychain read)."""
    if not active():
        return fn(*args)
    return wait(anyio.to_thread.run_sync(lambda: fn(*args)))


async def run(fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
    """Await ``fn(*args, **kwargs)`` run on this thread, with its :func:`wait` calls awaited here.
    Returns what ``fn`` returns and raises what it raises; a cancellation of the awaiting task is
    raised inside ``fn`` where it waits (and then out of here once ``fn`` lets it through)."""
    body = _Body(lambda: fn(*args, **kwargs), greenlet.getcurrent())
    step = body.switch()
    while not body.dead:
        assert isinstance(step, _Awaiting)
        try:
            value = await step.awaitable
        except BaseException as e:  # noqa: BLE001 - every outcome, cancellation included, goes back in
            step = body.throw(e)
        else:
            step = body.switch(value)
    return cast(_T, step)
