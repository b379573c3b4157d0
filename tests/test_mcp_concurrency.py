"""Tool calls share one client without a lock: two calls run at the same time, and each result carries
its own call's request ID (the metadata travels with the data, never on the client)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from cstar_cli.mcp.access import ApiAccess
from cstar_cli.mcp.tools import Tools
from cstar_cli.settings import resolve

KEY = "sk_test_" + "c" * 28


def test_two_tool_calls_overlap_and_keep_their_own_request_ids() -> None:
    both_in_flight = threading.Barrier(2, timeout=10)

    def handler(request: httpx.Request) -> httpx.Response:
        # Each request waits until the other one is in flight too: serialised calls would time out here.
        both_in_flight.wait()
        rid = "req_" + request.url.path.rsplit("/", 1)[-1]
        body = {"success": True, "data": [], "meta": {"requestId": rid, "pagination": {"page": 1, "totalPages": 0}}}
        return httpx.Response(200, json=body, headers={"x-cstar-request-id": rid})

    api = ApiAccess(
        lambda: resolve(api_key=KEY, base_url="http://127.0.0.1:9"),
        team_id="team",
        max_retries=0,
        transport=httpx.MockTransport(handler),
    )
    tools = Tools(api)
    try:
        with ThreadPoolExecutor(2) as pool:
            tickets = pool.submit(tools.list_tickets)
            customers = pool.submit(tools.list_customers)
            results = tickets.result(timeout=20), customers.result(timeout=20)
    finally:
        api.close()
    assert [r.structured_content["requestId"] for r in results] == ["req_tickets", "req_customers"]  # type: ignore[index]
