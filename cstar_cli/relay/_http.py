"""The forwarder's HTTP/1.1 client: :class:`cstar_cli.protocol.http1.HttpClient` with the forward
URL's ``user:password@`` sent as Basic auth (:func:`cstar_cli.protocol.http1.basic_auth`).

The protocol itself (one write per request, httptools parsing, keep-alive, timeouts, TLS, header
checks and the user-facing reasons of :class:`HttpError`) lives in :mod:`cstar_cli.protocol.http1`,
shared with the emulator's webhook delivery.
"""

from __future__ import annotations

from cstar_cli.protocol.http1 import HttpClient as _BaseClient
from cstar_cli.protocol.http1 import HttpError, Sent, basic_auth

__all__ = ["HttpClient", "HttpError", "Sent"]


class HttpClient(_BaseClient):
    """POSTs to one URL over a reused connection; a ``user:password@`` in ``url`` is sent as
    ``Authorization: Basic …`` (unless the request's own headers name ``Authorization``). See
    :class:`cstar_cli.protocol.http1.HttpClient` for the rest."""

    def __init__(self, url: str, *, timeout: float, verify: bool = True, user_agent: str = "") -> None:
        super().__init__(url, timeout=timeout, verify=verify, user_agent=user_agent, authorization=basic_auth(url))
