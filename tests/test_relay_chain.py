"""The next request is written the moment the one before gets a 2xx, and never earlier: the
HTTP/1.1 client's ``chain`` against a real loopback server, ``cstar listen`` (the in-process relay
and the CLI) forwarding bursts from the emulator, and the emulator's own webhook delivery.

Every receiver here is a real asyncio server on 127.0.0.1 that checks the rules as it goes: it
answers request *k* only after reading all of it, and notes any byte of another request read before
that answer went out (``overlaps``), the most requests it ever held unanswered at once, over all
its connections (``max_outstanding``), and any event arriving before the one before it got a 2xx
(``early``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest

from cstar_cli.protocol.http1 import HttpClient, HttpError, Sent
from cstar_cli.protocol.webhook import verify_signature
from cstar_cli.relay import Delivered, DeliveryAttempted, DeliveryFailed, Element, ForwardOptions, Ready, Relay
from tests.support.emulator import LocalEmulator, start_emulator_thread
from tests.test_listen import Listen

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

T = TypeVar("T")

#: A receiver's work on each request before it answers (s): the window in which a request written
#: too early would be read ahead of the answer.
WORK = 0.002
#: Short pauses between the relay's attempts, so retries do not slow the tests down.
FAST = (0.05,)


# --- the receiver -------------------------------------------------------------------------------


@dataclass
class Arrival:
    """One request as the receiver read it (header names lower-cased) and the status it got."""

    index: int
    conn: int
    headers: dict[str, str]
    body: bytes
    status: int | None = None

    @property
    def event_id(self) -> str:
        return self.headers.get("x-event-id", "")

    @property
    def attempt(self) -> int:
        return int(self.headers.get("x-delivery-attempt", "0"))

    def signed_by(self, secret: str) -> bool:
        return verify_signature(self.body, self.headers.get("x-signature"), secret)


@dataclass(frozen=True)
class Reply:
    """An answer: ``status``, then keep the connection (``close`` None), close it after saying
    ``Connection: close`` (``"announced"``) or close it without a word (``"silent"``); or close it
    without answering at all (``"mute"``)."""

    status: int = 200
    close: str | None = None

    def encode(self) -> bytes:
        head = f"HTTP/1.1 {self.status} X\r\nContent-Length: 2\r\n"
        if self.close == "announced":
            head += "Connection: close\r\n"
        return head.encode() + b"\r\nok"


#: Chooses the reply to an arrival, given every arrival so far (that one last).
Policy = Callable[[Arrival, list[Arrival]], Reply]


def _always_200(arrival: Arrival, arrivals: list[Arrival]) -> Reply:
    return Reply()


def _ordinal(arrival: Arrival, arrivals: list[Arrival]) -> int:
    """Which distinct event (0-based, in order of first arrival) ``arrival`` is for."""
    return list(dict.fromkeys(a.event_id for a in arrivals)).index(arrival.event_id)


def fail_first_attempt_of(n: int) -> Policy:
    """500 to the first attempt of the ``n``-th event to arrive (1-based), 200 to everything else."""

    def policy(arrival: Arrival, arrivals: list[Arrival]) -> Reply:
        return Reply(500) if arrival.attempt == 1 and _ordinal(arrival, arrivals) == n - 1 else Reply()

    return policy


def _split(buf: bytearray) -> tuple[dict[str, str], bytes, int] | None:
    """The first complete request in ``buf``: (headers, body, bytes it takes), or None."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    lines = bytes(buf[:end]).decode("latin-1").split("\r\n")[1:]
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    start = end + 4
    if len(buf) < start + length:
        return None
    return headers, bytes(buf[start : start + length]), start + length


class Receiver:
    """An HTTP/1.1 receiver on 127.0.0.1 (:meth:`start` serves it on the running loop; see
    :func:`serving` for one in a thread of its own). ``policy`` picks each reply; ``hold`` says
    which arrivals wait for :meth:`release` before they are answered."""

    def __init__(
        self, policy: Policy = _always_200, *, work: float = WORK, hold: Callable[[Arrival], bool] | None = None
    ) -> None:
        self.policy = policy
        self.work = work
        self.hold = hold
        self.arrivals: list[Arrival] = []
        self.connections = 0
        self.max_outstanding = 0
        self.overlaps: list[str] = []
        self.early: list[str] = []
        #: ("read" | "answered", index) in the order they happened.
        self.timeline: list[tuple[str, int]] = []
        self._outstanding = 0
        self._cond = threading.Condition()
        self._peers: set[_Peer] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.AbstractServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._gate: asyncio.Event | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._gate = asyncio.Event()
        server = await self._loop.create_server(lambda: _Peer(self), "127.0.0.1", 0)
        self._server = server
        self.port = server.sockets[0].getsockname()[1]

    async def aclose(self) -> None:
        assert self._server is not None
        self._server.close()
        for peer in list(self._peers):
            peer.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def release(self) -> None:
        """Answer the held arrivals (and any later one that would be held)."""
        if self._loop is not None and self._gate is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop already stopped
                self._loop.call_soon_threadsafe(self._gate.set)

    def snapshot(self) -> list[Arrival]:
        with self._cond:
            return list(self.arrivals)

    def wait_for(self, test: Callable[[list[Arrival]], bool], timeout: float = 30) -> list[Arrival]:
        """The arrivals once ``test`` holds for them; AssertionError after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not test(self.arrivals):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"receiver got {[(a.event_id, a.attempt) for a in self.arrivals]}")
                self._cond.wait(min(left, 0.1))
            return list(self.arrivals)

    def stays(self, count: int, window: float = 0.5) -> list[Arrival]:
        """Poll for ``window`` s that no arrival beyond the first ``count`` comes; the arrivals."""
        deadline = time.monotonic() + window
        while time.monotonic() < deadline:
            got = self.snapshot()
            assert len(got) == count, [(a.event_id, a.attempt) for a in got]
            time.sleep(0.02)
        return self.snapshot()

    # Called by _Peer on the receiver's loop.

    def _connected(self, peer: _Peer) -> int:
        self._peers.add(peer)
        with self._cond:
            self.connections += 1
            return self.connections

    def _arrived(self, conn: int, headers: dict[str, str], body: bytes) -> Arrival:
        with self._cond:
            arrival = Arrival(len(self.arrivals), conn, headers, body)
            before = self.arrivals[-1] if self.arrivals else None
            if (
                before is not None
                and arrival.event_id
                and before.event_id != arrival.event_id
                and not (before.status is not None and 200 <= before.status < 300)
            ):
                self.early.append(f"{arrival.event_id} arrived while {before.event_id} had {before.status}")
            self.arrivals.append(arrival)
            self.timeline.append(("read", arrival.index))
            self._outstanding += 1
            self.max_outstanding = max(self.max_outstanding, self._outstanding)
            self._cond.notify_all()
            return arrival

    def _overlap(self, arrival: Arrival, size: int) -> None:
        with self._cond:
            self.overlaps.append(f"{size} bytes read before request {arrival.index} was answered")

    def _reply(self, arrival: Arrival) -> Reply:
        with self._cond:
            reply = self.policy(arrival, self.arrivals)
            arrival.status = reply.status
            self.timeline.append(("answered", arrival.index))
            self._outstanding -= 1
            self._cond.notify_all()
            return reply

    def _abandoned(self, arrival: Arrival) -> None:
        with self._cond:
            self._outstanding -= 1

    async def _serve(self, peer: _Peer, arrival: Arrival) -> None:
        await asyncio.sleep(self.work)
        if self.hold is not None and self.hold(arrival):
            assert self._gate is not None
            await self._gate.wait()
        peer.answer(arrival, self._reply(arrival))

    def _spawn(self, peer: _Peer, arrival: Arrival) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(peer, arrival))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class _Peer(asyncio.Protocol):
    """One connection to the :class:`Receiver`: requests are read one at a time and answered in turn."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.current: Arrival | None = None
        self.closed = False
        self.conn = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.conn = self.receiver._connected(self)

    def data_received(self, data: bytes) -> None:
        if self.current is not None:
            self.receiver._overlap(self.current, len(data))
        self.buf += data
        self._next()

    def _next(self) -> None:
        if self.current is not None or self.closed:
            return
        parsed = _split(self.buf)
        if parsed is None:
            return
        headers, body, used = parsed
        del self.buf[:used]
        arrival = self.current = self.receiver._arrived(self.conn, headers, body)
        if self.buf:
            self.receiver._overlap(arrival, len(self.buf))
        self.receiver._spawn(self, arrival)

    def answer(self, arrival: Arrival, reply: Reply) -> None:
        if self.closed or self.transport is None:
            return
        if self.buf:
            self.receiver._overlap(arrival, len(self.buf))
        self.current = None
        if reply.close != "mute":
            self.transport.write(reply.encode())
        if reply.close is not None:
            self.closed = True
            self.transport.close()
            return
        self._next()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.receiver._peers.discard(self)
        if self.current is not None:
            self.receiver._abandoned(self.current)
            self.current = None


@contextlib.contextmanager
def serving(receiver: Receiver) -> Iterator[Receiver]:
    """Serve ``receiver`` on an event loop in a thread of its own until the block ends."""
    started = threading.Event()
    stop: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    async def main() -> None:
        await receiver.start()
        done = asyncio.Event()
        stop.append((asyncio.get_running_loop(), done))
        started.set()
        try:
            await done.wait()
        finally:
            await receiver.aclose()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    assert started.wait(10), "the receiver did not start"
    try:
        yield receiver
    finally:
        receiver.release()
        loop, done = stop[0]
        loop.call_soon_threadsafe(done.set)
        thread.join(10)


def run(coro: Callable[[], Awaitable[T]]) -> T:
    """Run ``coro()`` on a fresh loop, failing on anything the loop reports unhandled (an exception
    in a callback, a task's exception nobody retrieved)."""
    problems: list[str] = []

    async def main() -> T:
        asyncio.get_running_loop().set_exception_handler(lambda _, ctx: problems.append(str(ctx.get("message"))))
        return await coro()

    result = asyncio.run(main())
    assert problems == []
    return result


# --- the HTTP/1.1 client ------------------------------------------------------------------------

HEADERS = {"Content-Type": "text/plain"}


async def _opened(rx: Receiver) -> HttpClient:
    """A client for ``rx`` with its kept-alive connection open (one request ``warm`` sent)."""
    client = HttpClient(rx.url, timeout=30)
    assert await client.post(HEADERS, b"warm") == 200
    return client


def _sent(sent: Sent | None) -> Sent:
    assert sent is not None, "send() wrote nothing on the open connection"
    return sent


def test_a_request_chained_to_a_200_goes_out_only_after_that_answer() -> None:
    written_when_answered: list[bool] = []
    chained: list[Sent] = []

    def policy(arrival: Arrival, arrivals: list[Arrival]) -> Reply:
        if arrival.body == b"one":
            written_when_answered.append(chained[0].written)
        return Reply()

    async def main() -> Receiver:
        rx = Receiver(policy, work=0.02)
        await rx.start()
        client = await _opened(rx)
        try:
            first = _sent(client.send(HEADERS, b"one"))
            later = client.chain(first, HEADERS, b"two")
            chained.append(later)
            assert not later.written
            assert await client.answer(first) == 200
            assert later.written  # from the callback that read the 200, before answer() returned
            assert await client.answer(later) == 200
        finally:
            await client.aclose()
            await rx.aclose()
        return rx

    rx = run(main)
    assert [a.body for a in rx.arrivals] == [b"warm", b"one", b"two"]
    assert written_when_answered == [False]
    assert rx.timeline == [("read", 0), ("answered", 0), ("read", 1), ("answered", 1), ("read", 2), ("answered", 2)]
    assert rx.overlaps == [] and rx.max_outstanding == 1 and rx.connections == 1


@pytest.mark.parametrize(
    "case",
    ["500", "connection-close", "unchain"],
)
def test_a_chained_request_is_never_written_unless_the_answer_before_is_a_kept_alive_2xx(case: str) -> None:
    def policy(arrival: Arrival, arrivals: list[Arrival]) -> Reply:
        if arrival.body != b"one":
            return Reply()
        return Reply(500) if case == "500" else Reply(200, "announced" if case == "connection-close" else None)

    async def main() -> Receiver:
        rx = Receiver(policy, work=0.02)
        await rx.start()
        client = await _opened(rx)
        try:
            first = _sent(client.send(HEADERS, b"one"))
            later = client.chain(first, HEADERS, b"two")
            if case == "unchain":
                client.unchain()
            assert await client.answer(first) == (500 if case == "500" else 200)
            assert not later.written
            # The same client goes on: on the same connection, or a new one after Connection: close.
            assert await client.post(HEADERS, b"three") == 200
        finally:
            await client.aclose()
            await rx.aclose()
        return rx

    rx = run(main)
    assert [a.body for a in rx.arrivals] == [b"warm", b"one", b"three"]
    assert [a.status for a in rx.arrivals] == [200, 500 if case == "500" else 200, 200]
    assert rx.connections == (2 if case == "connection-close" else 1)
    assert rx.overlaps == [] and rx.max_outstanding == 1


def test_a_chained_request_lost_to_an_unannounced_close_is_written_again_on_a_new_connection() -> None:
    def policy(arrival: Arrival, arrivals: list[Arrival]) -> Reply:
        return Reply(200, "silent") if arrival.body == b"one" else Reply()

    async def main() -> Receiver:
        rx = Receiver(policy)
        await rx.start()
        client = await _opened(rx)
        try:
            first = _sent(client.send(HEADERS, b"one"))
            later = client.chain(first, HEADERS, b"two")
            assert await client.answer(first) == 200
            assert later.written  # the 200 came before the close, and said nothing of it
            # Not a byte of answer on the kept-alive connection: written once more, on a new one.
            assert await client.answer(later) == 200
            assert await client.post(HEADERS, b"three") == 200
        finally:
            await client.aclose()
            await rx.aclose()
        return rx

    rx = run(main)
    answered = [(a.body, a.conn) for a in rx.arrivals if a.body != b"two" or a.conn == 2]
    assert answered == [(b"warm", 1), (b"one", 1), (b"two", 2), (b"three", 2)]
    assert rx.overlaps == [] and rx.max_outstanding == 1


def test_a_request_is_written_again_only_once_and_only_after_a_kept_alive_connection() -> None:
    """A receiver that closes without answering: a request on a fresh connection fails at once; one
    on a kept-alive connection is written once more on a new connection, and fails there."""

    def policy(arrival: Arrival, arrivals: list[Arrival]) -> Reply:
        return Reply(close="mute") if arrival.body != b"warm" else Reply()

    async def main() -> Receiver:
        rx = Receiver(policy)
        await rx.start()
        client = await _opened(rx)
        try:
            with pytest.raises(HttpError) as kept:
                await client.post(HEADERS, b"on the kept-alive connection")
            assert kept.value.reason == "connection closed without a response"
            with pytest.raises(HttpError) as fresh:
                await client.post(HEADERS, b"on a fresh connection")
            assert fresh.value.reason == "connection closed without a response"
        finally:
            await client.aclose()
            await rx.aclose()
        return rx

    rx = run(main)
    assert [(a.body, a.conn) for a in rx.arrivals] == [
        (b"warm", 1),
        (b"on the kept-alive connection", 1),
        (b"on the kept-alive connection", 2),
        (b"on a fresh connection", 3),
    ]


# --- cstar listen -------------------------------------------------------------------------------
#
# The relay writes an event ahead only on a connection that is already open: the first event of a
# run has to connect, so most tests send one event first (``warm``) and then the burst.


@pytest.fixture
def emu(tmp_path: Any) -> Iterator[LocalEmulator]:
    with start_emulator_thread(tmp_path / "emulator.db", webhook_retry_delay=0.05) as emulator:
        yield emulator


def _burst(emu: LocalEmulator, count: int) -> dict[str, Any]:
    r = httpx.post(emu.url("/_emulator/burst"), json={"count": count, "event": "ticket.created"}, timeout=60)
    r.raise_for_status()
    data: dict[str, Any] = r.json()["data"]
    return data


def _stored(emu: LocalEmulator, *bursts: dict[str, Any]) -> list[str]:
    """The ids of the bursts' events, oldest first, as the emulator stored them."""
    ids: list[str] = []
    params: dict[str, Any] = {"limit": 100}
    first = bursts[0]["firstEventId"]
    with emu.client() as api:
        while first not in ids:
            page = api.get("/events", params=params).json()
            ids += [item["id"] for item in page["data"]]
            pagination = page["meta"]["pagination"]
            if not pagination["hasMore"]:
                break
            params["before"] = pagination["nextCursor"]
    ids.reverse()
    got = ids[ids.index(first) : ids.index(bursts[-1]["lastEventId"]) + 1]
    assert len(got) == sum(b["count"] for b in bursts)
    return got


Hook = Callable[[Element], Awaitable[None]]


def _relay(
    emu: LocalEmulator, forward: ForwardOptions, count: int, *, warm: bool = True, each: Hook | None = None
) -> tuple[list[Element], list[str]]:
    """Run the relay in process and send a burst of ``count`` events once it is ready (``warm``:
    one event first, the burst once that one is delivered); stop once each event has an outcome.
    ``each`` sees every element as the frontend gets it. Returns the elements and the ids of the
    events sent, oldest first."""
    key = emu.keys["sk_test"]
    api = emu.client()

    def open_session() -> Any:
        return api.post("/cli/sessions", json={"events": ["*"], "deviceName": uuid.uuid4().hex}).json()["data"]

    async def main() -> tuple[list[Element], list[dict[str, Any]]]:
        relay = Relay(open_session, api_key=key, forward=forward, base_url=emu.base_url)
        elements: list[Element] = []
        bursts: list[dict[str, Any]] = []
        outcomes = 0
        try:
            async for element in relay.run():
                elements.append(element)
                if isinstance(element, Ready):
                    bursts.append(await asyncio.to_thread(_burst, emu, 1 if warm else count))
                elif isinstance(element, Delivered | DeliveryFailed):
                    outcomes += 1
                    if warm and outcomes == 1:
                        bursts.append(await asyncio.to_thread(_burst, emu, count))
                    if outcomes == count + warm:
                        relay.stop()
                if each is not None:
                    await each(element)
        finally:
            await relay.aclose()
        return elements, bursts

    try:
        elements, bursts = run(main)
    finally:
        api.close()
    return elements, _stored(emu, *bursts)


def _secret(elements: list[Element]) -> str:
    ready = elements[0]
    assert isinstance(ready, Ready)
    return ready.secret


def _first_arrivals(arrivals: list[Arrival]) -> list[str]:
    return list(dict.fromkeys(a.event_id for a in arrivals))


def _delivered(elements: list[Element]) -> list[str]:
    assert not any(isinstance(e, DeliveryFailed) for e in elements)
    return [e.event.event_id for e in elements if isinstance(e, Delivered)]


def test_listen_after_a_500_writes_nothing_early_and_resends_the_event_first(emu: LocalEmulator) -> None:
    # The 4th event to arrive is the burst's 3rd.
    with serving(Receiver(fail_first_attempt_of(4))) as rx:
        elements, ids = _relay(emu, ForwardOptions(rx.url, backoff=FAST), 20)
    warm, burst = ids[0], ids[1:]
    expected = [(warm, 1), (burst[0], 1), (burst[1], 1), (burst[2], 1), (burst[2], 2)] + [(i, 1) for i in burst[3:]]
    assert [(a.event_id, a.attempt) for a in rx.arrivals] == expected
    assert [a.status for a in rx.arrivals] == [200, 200, 200, 500] + [200] * 18
    secret = _secret(elements)
    assert all(a.signed_by(secret) for a in rx.arrivals)
    assert all(json.loads(a.body)["id"] == a.event_id for a in rx.arrivals)
    assert rx.early == [] and rx.overlaps == [] and rx.max_outstanding == 1
    steps = [(e.event_id, e.attempt, e.status) for e in elements if isinstance(e, DeliveryAttempted)]
    assert steps == [(i, n, 500 if (i, n) == (burst[2], 1) else 200) for i, n in expected]
    assert _delivered(elements) == ids


def test_listen_never_has_two_requests_at_the_receiver_during_a_long_burst(emu: LocalEmulator) -> None:
    with serving(Receiver(work=0.001)) as rx:
        elements, ids = _relay(emu, ForwardOptions(rx.url, backoff=FAST), 500)
    assert [(a.event_id, a.attempt) for a in rx.arrivals] == [(i, 1) for i in ids]
    assert rx.max_outstanding == 1 and rx.overlaps == [] and rx.early == []
    assert rx.connections == 1
    secret = _secret(elements)
    with emu.client() as api:
        for a in rx.arrivals:
            stored = api.get(f"/events/{a.event_id}").json()["data"]["payload"]
            assert a.body == stored.encode("utf-8")
            assert a.signed_by(secret)
    assert _delivered(elements) == ids


@pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])
def test_listen_exit_after_writes_no_event_past_the_last(emu: LocalEmulator, warm: bool) -> None:
    with serving(Receiver()) as rx:
        listen = Listen(emu, "--forward-to", rx.url, "--exit-after", "3", "--max-wait", "60")
        secret = listen.ready()
        bursts = []
        if warm:
            bursts.append(_burst(emu, 1))
            rx.wait_for(lambda got: len(got) == 1 and got[0].status is not None)
        bursts.append(_burst(emu, 10))
        assert listen.finish(sig=None) == 0
        arrivals = rx.stays(3)
    ids = _stored(emu, *bursts)
    assert [(a.event_id, a.attempt, a.status) for a in arrivals] == [(i, 1, 200) for i in ids[:3]]
    assert all(a.signed_by(secret) for a in arrivals)
    assert listen.err[-1] == "Stopped: 3 forwarded, 0 failed."
    assert rx.early == [] and rx.overlaps == [] and rx.max_outstanding == 1


@pytest.mark.parametrize("every", [1, 3], ids=["after-every-answer", "after-every-third-answer"])
def test_listen_delivers_everything_to_a_receiver_closing_unannounced(emu: LocalEmulator, every: int) -> None:
    """The receiver closes a connection after its ``every``-th 200 without ``Connection: close``: a
    request written ahead on it is lost, and the event is delivered by a later attempt."""
    served: dict[int, int] = {}

    def policy(arrival: Arrival, arrivals: list[Arrival]) -> Reply:
        served[arrival.conn] = served.get(arrival.conn, 0) + 1
        return Reply(200, "silent" if served[arrival.conn] % every == 0 else None)

    with serving(Receiver(policy)) as rx:
        elements, ids = _relay(emu, ForwardOptions(rx.url, backoff=FAST), 30)
    assert _first_arrivals(rx.arrivals) == ids
    assert {a.event_id for a in rx.arrivals if a.status == 200} == set(ids)
    assert all(a.status == 200 for a in rx.arrivals)
    assert all(a.signed_by(_secret(elements)) for a in rx.arrivals)
    assert rx.early == [] and rx.overlaps == [] and rx.max_outstanding == 1
    assert _delivered(elements) == ids


def test_listen_writes_ahead_again_after_a_retried_event(emu: LocalEmulator) -> None:
    """The burst's 3rd event gets a 500, so the 4th, chained to it, is not written ahead and goes
    out afresh after the retry; from then on events must be written ahead again. The frontend
    holds the next few ``Delivered`` until the next event reaches the receiver (it was written
    ahead, before the one before it was reported) or 0.5 s pass (it was not)."""
    window = range(5, 9)  # the burst's 4th to 7th event (the warm-up event is the 1st delivered)
    hits: list[int] = []
    delivered = 0

    async def each(element: Element) -> None:
        nonlocal delivered
        if not isinstance(element, Delivered):
            return
        delivered += 1
        if hits or delivered not in window:
            return
        try:
            await asyncio.to_thread(rx.wait_for, lambda got: len(_first_arrivals(got)) > delivered, 0.5)
        except AssertionError:
            return  # not written ahead: it goes out once this one is acked
        hits.append(delivered)

    with serving(Receiver(fail_first_attempt_of(4))) as rx:
        elements, ids = _relay(emu, ForwardOptions(rx.url, backoff=FAST), 12, each=each)
    assert _delivered(elements) == ids
    assert rx.early == [] and rx.overlaps == [] and rx.max_outstanding == 1
    assert hits, f"no event written ahead while the frontend held Delivered {list(window)}"


# --- the emulator's webhook delivery ------------------------------------------------------------


def _hook(emu: LocalEmulator, url: str) -> dict[str, Any]:
    with emu.client() as api:
        r = api.post("/webhooks", json={"name": f"chain-{uuid.uuid4().hex[:8]}", "url": url, "events": ["ticket.*"]})
    assert r.status_code == 201, r.text
    hook: dict[str, Any] = r.json()["data"]
    return hook


def test_webhook_delivery_after_a_500_resends_that_event_before_the_next(emu: LocalEmulator) -> None:
    with serving(Receiver(fail_first_attempt_of(2))) as rx:
        hook = _hook(emu, rx.url)
        burst = _burst(emu, 20)
        rx.wait_for(lambda got: len(got) >= 21)
        arrivals = rx.stays(21, 0.2)
    ids = _stored(emu, burst)
    expected = [(ids[0], 1), (ids[1], 1), (ids[1], 2)] + [(i, 1) for i in ids[2:]]
    assert [(a.event_id, a.attempt) for a in arrivals] == expected
    assert [a.status for a in arrivals] == [200, 500] + [200] * 19
    assert all(a.signed_by(hook["secret"]) and a.headers["x-webhook-id"] == hook["id"] for a in arrivals)
    assert rx.early == [] and rx.overlaps == [] and rx.max_outstanding == 1


@pytest.mark.parametrize("change", ["pause", "delete"])
def test_webhook_paused_or_deleted_mid_burst_gets_nothing_more(emu: LocalEmulator, change: str) -> None:
    """The 5th event's answer waits until the webhook is paused (deleted): the 6th, chained to it
    while it was in flight, is then never written, nor anything after it."""
    rx = Receiver(hold=lambda arrival: arrival.index == 4)
    with serving(rx):
        hook = _hook(emu, rx.url)
        burst = _burst(emu, 20)
        rx.wait_for(lambda got: len(got) >= 5)
        with emu.client() as api:
            if change == "pause":
                r = api.patch(f"/webhooks/{hook['id']}", json={"isActive": False})
            else:
                r = api.delete(f"/webhooks/{hook['id']}")
            assert r.status_code == 200, r.text
        rx.release()
        rx.wait_for(lambda got: got[4].status is not None)
        arrivals = rx.stays(5)
    ids = _stored(emu, burst)
    assert [(a.event_id, a.attempt, a.status) for a in arrivals] == [(i, 1, 200) for i in ids[:5]]
    assert rx.early == [] and rx.overlaps == [] and rx.max_outstanding == 1
