"""The listen WebSocket itself: which URLs it may open, the handshake, and what each way of losing
it means (server contract "Listening — CLI sessions", steps 2 and 4; docs/protocol.md).

- a handshake answered 401 or 403, or close 4401: the key is refused, the run ends (exit 3);
- close 4403: the key may not attach to the session, the run ends (exit 4);
- a handshake answered 404, or close 4404: the session is gone, a new one is needed;
- close 1009 (sent or received): a frame over the relay's limit;
- anything else (other closes, network errors, other statuses): transient, reconnect.

Keepalive (server contract "Listening", step 4) counts *any* data from the server as proof that it
is alive: a ping is sent only after :data:`KEEPALIVE_INTERVAL` seconds without a single byte from
the server, and the connection is given up only when nothing at all (no frame, no pong) arrived for
:data:`KEEPALIVE_TIMEOUT` seconds after it, while the relay was reading. A server writing a long
backlog never waits on a pong queued behind that backlog, and a dead peer is still found. While
the relay itself holds reading back (its queue of received frames is full because the receiver is
slow), silence is not the server's fault and never times out. ``CSTAR_LISTEN_KEEPALIVE=INTERVAL[,TIMEOUT]``
(seconds) overrides both, for tests.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI, WebSocketException
from websockets.frames import Close
from websockets.protocol import State

from cstar_cli.api import USER_AGENT
from cstar_cli.errors import CStarAuthenticationError, CStarConnectionError, CStarPermissionError, CStarServerError
from cstar_cli.protocol.frames import (
    CLOSE_FORBIDDEN,
    CLOSE_SESSION_UNKNOWN,
    CLOSE_TOO_BIG,
    CLOSE_UNAUTHORIZED,
    LAST_EVENT_ID_HEADER,
    MAX_FRAME_HEADER,
)
from cstar_cli.protocol.urls import is_loopback

__all__ = [
    "Loss",
    "Lost",
    "SessionGone",
    "before_data",
    "check_session",
    "classify_close",
    "frame_ready",
    "keepalive_settings",
    "open_socket",
    "revoked",
    "write_texts",
]

#: How long (s) the opening handshake may take.
OPEN_TIMEOUT = 10.0
#: How long (s) closing waits for the peer's close frame.
CLOSE_TIMEOUT = 0.5
#: How long (s) without any data from the server before a keepalive ping is sent.
KEEPALIVE_INTERVAL = 20.0
#: How long (s) without any data at all (frames or pong) after a ping before the connection is lost.
KEEPALIVE_TIMEOUT = 20.0
#: ``INTERVAL[,TIMEOUT]`` in seconds: overrides the two above (tests use a short keepalive).
KEEPALIVE_ENV = "CSTAR_LISTEN_KEEPALIVE"


def keepalive_settings(environ: Mapping[str, str] = os.environ) -> tuple[float, float]:
    """``(interval, timeout)`` in seconds: :data:`KEEPALIVE_ENV` when it holds one or two positive
    numbers, else the defaults (a malformed value is ignored rather than failing the run)."""
    raw = environ.get(KEEPALIVE_ENV, "").strip()
    if not raw:
        return KEEPALIVE_INTERVAL, KEEPALIVE_TIMEOUT
    try:
        values = [float(v) for v in raw.split(",")]
    except ValueError:
        return KEEPALIVE_INTERVAL, KEEPALIVE_TIMEOUT
    if not 1 <= len(values) <= 2 or not all(0 < v < 86_400 for v in values):
        return KEEPALIVE_INTERVAL, KEEPALIVE_TIMEOUT
    return values[0], values[-1] if len(values) == 2 else KEEPALIVE_TIMEOUT


class _Socket(ClientConnection):
    """A client connection whose keepalive counts any received data as a sign of life (module
    docs). ``ping_interval`` and ``ping_timeout`` (s) keep their ``websockets`` meaning otherwise:
    the library starts :meth:`keepalive` after the handshake and cancels it when the connection is
    lost."""

    #: Event-loop time of the last bytes received (0: none yet).
    last_data = 0.0
    #: Called before received bytes are parsed (see :func:`before_data`).
    before_data: Callable[[], None] | None = None
    #: Event-loop time silence is counted from at the earliest: keepalive's start, then the last ping.
    _since = 0.0

    def data_received(self, data: bytes) -> None:
        self.last_data = self.loop.time()
        if self.before_data is not None:
            self.before_data()
        super().data_received(data)

    def _quiet_for(self) -> float:
        """Seconds since the server last sent anything; 0 while reading is paused by this side."""
        if not self.transport.is_reading():
            return 0.0
        return self.loop.time() - max(self.last_data, self._since)

    async def keepalive(self) -> None:
        interval, timeout = self.ping_interval, self.ping_timeout
        if interval is None:
            return
        self._since = self.loop.time()
        try:
            while True:
                quiet = self._quiet_for()
                if quiet < interval:
                    await asyncio.sleep(interval - quiet)
                    continue
                pong = asyncio.ensure_future(await self.ping())
                if timeout is None:
                    continue
                self._since = self.loop.time()
                while not pong.done():
                    quiet = self._quiet_for()
                    if quiet >= timeout:
                        # Nothing at all for the whole timeout: the peer (or the path to it) is gone.
                        self.transport.abort()
                        return
                    await asyncio.wait([pong], timeout=timeout - quiet)
                if not pong.cancelled() and pong.exception() is not None:
                    return  # the connection closed while waiting: its reader reports why
        except ConnectionClosed:
            return


class SessionGone(Exception):
    """The server no longer knows the session: create a new one."""


class Lost(Exception):
    """A transient failure to open the socket; ``reason`` is what the user is told."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Loss:
    """Why an open connection ended: ``reason`` (a phrase shown to the user), ``session_gone``
    (create a new session before reconnecting) and ``too_big`` (it ended over a frame above the
    relay's limit, close 1009)."""

    reason: str
    session_gone: bool = False
    too_big: bool = False


def revoked(detail: str | None = None) -> CStarAuthenticationError:
    """The error that ends the run when the server refuses the key (``detail``: e.g. ``HTTP 401``)."""
    return CStarAuthenticationError(
        "The API key was rejected while listening: it is invalid or was revoked" + (f" ({detail})." if detail else "."),
        code="key_revoked",
        hint="Create a new key (`cstar keys create`) and run `cstar login` again, or pass --api-key.",
    )


def check_session(url: str, secret: str, base_url: str | None = None) -> None:
    """Check a new session's ``websocketUrl`` and ``secret`` before any key is sent.

    With ``base_url`` (the API's, as :func:`cstar_cli.settings.check_base_url` returns it) the URL
    must be on the API's own origin: the same host and port, ``wss://`` for an ``https://`` API and
    ``ws://`` for an ``http://`` one, so a server (or a proxy rewriting its answer) cannot send the
    key anywhere else. Without one, only the scheme rule below applies.

    Raises :class:`CStarServerError` (exit 8) when either is empty or the URL cannot be parsed,
    :class:`CStarConnectionError` (exit 9) when ``url`` is neither ``wss://`` nor ``ws://`` to a
    loopback host, or not on ``base_url``'s origin. Messages name the host, never the key.
    """
    if not url or not secret:
        raise CStarServerError(
            "The server's CLI session has no websocketUrl or secret.",
            code="bad_session",
            hint="Check --base-url / CSTAR_BASE_URL points at the cStar API.",
        )
    target = _origin(url)
    if target is None:
        raise CStarServerError(
            "The server's CLI session has an invalid websocketUrl.",
            code="bad_session",
            hint="Check --base-url / CSTAR_BASE_URL points at the cStar API.",
        )
    scheme, host, _ = target
    if scheme not in ("ws", "wss") or (scheme == "ws" and not is_loopback(host)):
        # A key must never travel unencrypted to a non-local host, whatever the server says.
        raise CStarConnectionError(
            f"Refusing to open the listen WebSocket at {scheme}://{host}: not wss://.",
            code="insecure_websocket",
            hint="Use an https:// base URL, or http:// only with localhost.",
        )
    api = _origin(base_url) if base_url is not None else None
    if base_url is not None and (api is None or (_WS_SCHEME.get(api[0]), api[1], api[2]) != target):
        raise CStarConnectionError(
            f"Refusing to open the listen WebSocket at {_shown(target)}: it is not on the API's origin"
            f" ({_shown(api) if api else base_url}), and the API key is only sent there.",
            code="foreign_websocket",
            hint="Check --base-url / CSTAR_BASE_URL points straight at the cStar API (not through a proxy "
            "that rewrites its answers).",
        )


#: The WebSocket scheme of each API scheme, and the port each scheme means when none is given.
_WS_SCHEME = {"http": "ws", "https": "wss"}
_DEFAULT_PORT = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _origin(url: str) -> tuple[str, str, int | None] | None:
    """``(scheme, host, port)`` of ``url``, lower-cased with the scheme's default port filled in; None
    when it cannot be parsed (a bad ``[IPv6]`` host or port)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    return scheme, host, port if port is not None else _DEFAULT_PORT.get(scheme)


def _shown(origin: tuple[str, str, int | None]) -> str:
    scheme, host, port = origin
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + (f":{port}" if port is not None else "")


async def open_socket(url: str, *, api_key: str, max_frame_bytes: int, last_event_id: str | None) -> ClientConnection:
    """Open the session's WebSocket at ``url``, announcing ``max_frame_bytes`` and resuming after
    ``last_event_id`` (when not None); messages above ``max_frame_bytes`` close it with 1009.

    Raises :class:`SessionGone` (HTTP 404), :class:`CStarAuthenticationError` (HTTP 401 or 403),
    :class:`CStarServerError` (an invalid URL) and :class:`Lost` for anything transient.
    """
    headers = {"Authorization": f"Bearer {api_key}", MAX_FRAME_HEADER: str(max_frame_bytes)}
    if last_event_id:
        headers[LAST_EVENT_ID_HEADER] = last_event_id
    interval, timeout = keepalive_settings()
    try:
        return await connect(
            url,
            additional_headers=headers,
            user_agent_header=USER_AGENT,
            open_timeout=OPEN_TIMEOUT,
            close_timeout=CLOSE_TIMEOUT,
            max_size=max_frame_bytes,
            # Frames are small JSON and mostly on loopback: compression would only cost CPU.
            compression=None,
            create_connection=_Socket,
            ping_interval=interval,
            ping_timeout=timeout,
        )
    except InvalidStatus as e:
        raise _refused(e.response.status_code) from None
    except InvalidURI as e:
        raise CStarServerError(f"The server sent an invalid WebSocket URL ({e}).", code="bad_session") from None
    except (OSError, asyncio.TimeoutError, WebSocketException) as e:
        raise Lost(_describe_network(e)) from None


def before_data(ws: ClientConnection, callback: Callable[[], None] | None) -> None:
    """Have ``callback`` run each time bytes arrive on ``ws``, before they are parsed: the relay
    writes its waiting acks there, so they leave before a frame read in the same bytes can close
    the connection (an oversized one, 1009)."""
    if isinstance(ws, _Socket):
        ws.before_data = callback


def frame_ready(ws: ClientConnection) -> bool:
    """Whether a whole message has already arrived on ``ws``, so ``ws.recv()`` returns it without
    waiting. False when unsure (the queue of ``websockets`` 13–17 is not where it was looked for):
    the caller then only loses a chance to work ahead."""
    queue = getattr(getattr(getattr(ws, "recv_messages", None), "frames", None), "queue", None)
    if not queue:
        return False
    return getattr(queue[0], "fin", False) is True


def write_texts(ws: ClientConnection, texts: Sequence[str]) -> bool:
    """Write ``texts`` as text frames in order, in one write and without waiting (for small frames,
    such as acks, sent many at a time: one write instead of one per frame). Returns False, having
    sent nothing, when the connection is not open."""
    protocol = ws.protocol
    if protocol.state is not State.OPEN:
        return False
    for text in texts:
        protocol.send_text(text.encode())
    ws.transport.write(b"".join(protocol.data_to_send()))
    return True


def _refused(status: int) -> Exception:
    """What a handshake answered with HTTP ``status`` (not 101) means."""
    if status in (401, 403):
        return revoked(f"HTTP {status}")
    if status == 404:
        return SessionGone()
    return Lost(f"the server answered HTTP {status}")


def classify_close(e: ConnectionClosed, max_frame_bytes: int) -> Loss:
    """What the end of an open connection means (``max_frame_bytes`` only words the 1009 reason).

    Raises :class:`CStarAuthenticationError` (exit 3) for close 4401 and
    :class:`CStarPermissionError` (exit 4) for close 4403: neither is worth retrying.
    """
    if _has_code(e.sent, CLOSE_TOO_BIG) or _has_code(e.rcvd, CLOSE_TOO_BIG):
        return Loss(f"the server sent a frame over the {max_frame_bytes}-byte limit ({CLOSE_TOO_BIG})", too_big=True)
    if e.rcvd is None:
        return Loss("the connection was lost")
    code, why = e.rcvd.code, e.rcvd.reason
    if code == CLOSE_UNAUTHORIZED:
        raise revoked() from None
    if code == CLOSE_FORBIDDEN:
        raise CStarPermissionError(
            f"The server refused the listen WebSocket for this key (close {CLOSE_FORBIDDEN}): it needs a secret key"
            " of the session's team and mode.",
            code="secret_key_required",
        ) from None
    if code == CLOSE_SESSION_UNKNOWN:
        return Loss("the session expired", session_gone=True)
    return Loss(f"the server closed the connection ({code}{' ' + why if why else ''})")


def _has_code(frame: Close | None, code: int) -> bool:
    return frame is not None and frame.code == code


def _describe_network(e: BaseException) -> str:
    """A short phrase for a network failure: ``timed out``, ``connection refused``, the OS's words."""
    if isinstance(e, asyncio.TimeoutError):
        return "timed out"
    if isinstance(e, ConnectionRefusedError):
        return "connection refused"
    text = str(e)
    if isinstance(e, OSError) and e.strerror:
        text = e.strerror.lower()
    return text or type(e).__name__
