"""The typed cStar API layer.

- :mod:`~cstar_cli.api._transport`: httpx, the envelope, retries, errors; every call is a
  :class:`Result` (``data`` and its :class:`ResponseMeta`);
- :mod:`~cstar_cli.api.client`: :class:`CStarClient`, one method per endpoint the CLI and MCP use;
- :mod:`~cstar_cli.api.models`: the API's objects;
- :mod:`~cstar_cli.api.streams`: the request-log stream.
"""

from cstar_cli.api._transport import USER_AGENT, RateLimit, ResponseMeta, Result, Transport
from cstar_cli.api.client import CStarClient

__all__ = ["USER_AGENT", "CStarClient", "RateLimit", "ResponseMeta", "Result", "Transport"]
