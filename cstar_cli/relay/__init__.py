"""The ``cstar listen`` relay: a CLI session's events, forwarded to a local receiver, as typed elements.

::

    relay = Relay(lambda: client.create_cli_session(events, host), api_key=key, events=tuple(events),
                  forward=ForwardOptions(parse_forward_url("3000")))
    try:
        async for element in relay.run():   # Ready, EventReceived, DeliveryAttempted, Delivered, …
            render(element)
    finally:
        totals = await relay.aclose()       # Stopped

The relay prints nothing and never exits the process; frontends render its elements.
"""

from cstar_cli.relay._elements import (
    CatchingUp,
    Delivered,
    DeliveryAttempted,
    DeliveryFailed,
    DuplicateIgnored,
    Element,
    EventReceived,
    EventTooLarge,
    FrameIgnored,
    Outcome,
    Ready,
    Reconnected,
    Reconnecting,
    SessionRenewed,
    Stopped,
)
from cstar_cli.relay._forwarder import DEFAULT_ATTEMPTS, DEFAULT_BACKOFF, DEFAULT_TIMEOUT, Forwarder, ForwardOptions
from cstar_cli.relay._relay import DEFAULT_MAX_FRAME_BYTES, Relay, SessionCloser, SessionOpener
from cstar_cli.relay._routes import PROJECT_FILE, Route, load_project_routes, parse_route, union_patterns
from cstar_cli.relay._target import display_url, merge_headers, parse_forward_url, parse_header

__all__ = [
    "PROJECT_FILE",
    "CatchingUp",
    "Route",
    "load_project_routes",
    "parse_route",
    "union_patterns",
    "DEFAULT_ATTEMPTS",
    "DEFAULT_BACKOFF",
    "DEFAULT_MAX_FRAME_BYTES",
    "DEFAULT_TIMEOUT",
    "Delivered",
    "DeliveryAttempted",
    "DeliveryFailed",
    "DuplicateIgnored",
    "Element",
    "EventReceived",
    "EventTooLarge",
    "ForwardOptions",
    "FrameIgnored",
    "Forwarder",
    "Outcome",
    "Ready",
    "Reconnected",
    "Reconnecting",
    "Relay",
    "SessionCloser",
    "SessionOpener",
    "SessionRenewed",
    "Stopped",
    "display_url",
    "merge_headers",
    "parse_forward_url",
    "parse_header",
]
