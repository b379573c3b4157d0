"""HTTP client for the cStar API (see :mod:`cstar_cli.api._client`)."""

from cstar_cli.api._client import USER_AGENT, CStarClient, Page, RateLimit, ResponseMeta

__all__ = ["USER_AGENT", "CStarClient", "Page", "RateLimit", "ResponseMeta"]
