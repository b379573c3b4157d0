"""The MCP server's pure parts: sanitising, tool selection, result shaping and error text."""

from __future__ import annotations

import logging
import sys
from typing import Any

import pytest

from cstar_cli.api import ResponseMeta, Result
from cstar_cli.errors import (
    CStarConflictError,
    CStarError,
    CStarNotFoundError,
    CStarPermissionError,
    CStarUsageError,
    CStarValidationError,
)
from cstar_cli.mcp import sanitize, views
from cstar_cli.mcp.access import Secrets
from cstar_cli.mcp.toolset import TOOL_NAMES, WRITE_TOOLS, select_tools

KEY = "sk_test_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4"


def secrets_with(*keys: str) -> Secrets:
    s = Secrets()
    for k in keys:
        s.add(k)
    return s


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("plain text", "plain text"),
        ("keep\nnew\tlines", "keep\nnew\tlines"),
        ("bell\x07 null\x00 del\x7f cr\r", "bell null del cr"),
        ("\x1b[31mred\x1b[0m and \x1b]0;title\x07osc", "red and osc"),
        ("rtl \u202eoverride\u202c here", "rtl override here"),
        ("zero\u200bwidth\u200c\u200d\u200e\u200f", "zerowidth"),
        ("isolates \u2066x\u2069 bom\ufeff", "isolates x bom"),
        ("tag smuggling \U000e0041\U000e0042", "tag smuggling "),
        ("soft\u00adhyphen", "softhyphen"),
        ("line\u2028sep", "line\nsep"),
        ("c1 \x85\x9b31m csi", "c1  csi"),
        ("lone \ud800 surrogate", "lone  surrogate"),
        ("accents: café, 東京, emoji 🎉", "accents: café, 東京, emoji 🎉"),
    ],
)
def test_clean_text_strips_controls_and_invisible_characters(raw: str, expected: str) -> None:
    assert sanitize.clean_text(raw) == expected


def test_clean_walks_nested_values_and_scrubs() -> None:
    value = {"a\u200b": ["x\x1b[1m", {"k": "v\u202e"}], "n": 3, "b": None, "t": True, "key": KEY}
    out = sanitize.clean(value, secrets_with(KEY).scrub)
    assert out == {"a": ["x", {"k": "v"}], "n": 3, "b": None, "t": True, "key": "sk_test_…M3n4"}


def test_trim_marks_the_cut() -> None:
    assert sanitize.trim("short", 10) == ("short", False)
    assert sanitize.trim(None, 10) == (None, False)
    text, trimmed = sanitize.trim("word " * 100, 20)
    assert trimmed and len(text) <= 20 and text.endswith("…") and not text.endswith(" …")


def test_secrets_scrub_replaces_every_known_key() -> None:
    other = "pk_live_" + "Z" * 30
    s = secrets_with(KEY, other)
    assert s.scrub(f"a {KEY} b {other} c") == "a sk_test_…M3n4 b pk_live_…ZZZZ c"
    assert KEY not in s.scrub(f"Bearer {KEY}")


def test_select_tools_defaults_and_read_only() -> None:
    assert select_tools() == list(TOOL_NAMES)
    ro = select_tools(read_only=True)
    assert len(ro) == 10 and not set(ro) & WRITE_TOOLS


def test_select_tools_accepts_lists_and_short_names() -> None:
    assert select_tools(["list_tickets,cstar_get_ticket", "get-status"]) == [
        "cstar_list_tickets",
        "cstar_get_ticket",
        "cstar_get_status",
    ]


def test_select_tools_unknown_name_suggests() -> None:
    with pytest.raises(CStarUsageError) as e:
        select_tools(["cstar_list_tikets"])
    assert e.value.exit_code == 2
    assert "Did you mean cstar_list_tickets" in (e.value.hint or "")


def test_select_tools_refuses_write_tool_with_read_only_and_empty_lists() -> None:
    with pytest.raises(CStarUsageError, match="read-only"):
        select_tools(["create_ticket"], read_only=True)
    with pytest.raises(CStarUsageError, match="names no tool"):
        select_tools([" , "])


def _page(items: list[dict], page: int, total: int, size: int = 2) -> Result[list[Any]]:
    pages = -(-total // size)
    pagination = {"page": page, "pageSize": size, "total": total, "totalPages": pages}
    return Result(items, ResponseMeta(request_id=f"req_{page}", pagination=pagination))


def test_list_result_says_how_to_get_the_next_page() -> None:
    result = views.ticket_list(_page([{"id": "tkt_1"}, {"id": "tkt_2"}], 1, 5), requested_page=1, page_size=2)
    assert result["nextPage"] == 2 and result["requestId"] == "req_1"
    assert "page=2" in result["note"] and "5" in result["note"]
    last = views.ticket_list(_page([{"id": "tkt_5"}], 3, 5), requested_page=3, page_size=2)
    assert last["nextPage"] is None and "last page" in last["note"]
    empty = views.ticket_list(_page([], 9, 5), requested_page=9, page_size=2)
    assert empty["nextPage"] is None and "past the last page" in empty["note"]


def test_ticket_detail_trims_long_messages_and_threads() -> None:
    messages = [{"id": f"msg_{i}", "content": f"m{i}", "sender": "customer"} for i in range(60)]
    messages[-1]["content"] = "x" * (views.TEXT_LIMIT + 500)
    result = views.ticket_detail({"id": "tkt_1", "title": "T", "messages": messages}, request_id="req_1")
    shown = result["ticket"]["messages"]
    assert len(shown) == views.MAX_MESSAGES and result["messagesOmitted"] == 10
    assert shown[0]["id"] == "msg_0" and shown[-1]["id"] == "msg_59"
    assert shown[-1]["contentTrimmed"] and len(shown[-1]["content"]) == views.TEXT_LIMIT
    assert shown[-1]["content"].endswith("…")
    assert "10 omitted" in (result["note"] or "") and "trimmed" in (result["note"] or "")


def test_article_excerpt_is_short_and_flagged() -> None:
    page = Result(
        [{"id": "art_1", "content": "# Title\n\n" + "body " * 200}],
        ResponseMeta(pagination={"page": 1, "totalPages": 1}),
    )
    article = views.article_list(page, requested_page=1, page_size=20)["articles"][0]
    assert article["excerptTrimmed"] and len(article["excerpt"] or "") <= views.EXCERPT_LIMIT


def test_shapes_survive_missing_and_odd_fields() -> None:
    summary, _ = views.ticket_summary({"id": "tkt_1", "messageCount": "3", "tags": "a,b", "priority": None})
    assert summary["messageCount"] == 3 and summary["tags"] == ["a", "b"] and summary["title"] is None


def test_error_text_carries_code_request_id_and_hint() -> None:
    from cstar_cli.mcp import results

    err = CStarNotFoundError("No ticket with id 'tkt_x'.", request_id="req_9", hint="Look elsewhere.")
    result = results.failure(err, secrets_with(KEY).scrub)
    assert result.is_error
    text = result.content[0].text
    assert text.splitlines() == [
        "Error (not_found): No ticket with id 'tkt_x'.",
        "Request ID: req_9",
        "Hint: Look elsewhere.",
    ]


def test_errors_without_a_hint_get_one_by_class() -> None:
    from cstar_cli.mcp.results import add_hint

    def hint(err: CStarError, not_found_hint: str | None = None) -> str:
        return add_hint(err, "cstar_create_ticket", not_found_hint).hint or ""

    assert hint(CStarValidationError("title is required.", field="title")).startswith(
        "Check the argument named in the message and call cstar_create_ticket again"
    )
    assert hint(CStarValidationError("No customer with id 'cus_x'.", field="customerId")) == (
        "List first with cstar_list_customers to get a valid customerId."
    )
    assert hint(CStarNotFoundError("No such thing.")).startswith("List first with cstar_list_tickets")
    assert hint(CStarNotFoundError("No such customer."), "Try cstar_list_customers.") == "Try cstar_list_customers."
    assert hint(CStarConflictError("Reused.", code="idempotency_key_reused")).startswith(
        "Use a new idempotencyKey for a different ticket"
    )
    assert "still running" in hint(CStarConflictError("Busy.", code="idempotency_key_in_use"))
    # A hint the error already has (the API's, or the class default) is kept.
    assert hint(CStarValidationError("Bad.", hint="Do this.")) == "Do this."
    assert hint(CStarPermissionError("No.")).startswith("Publishable keys are read-only")


def test_log_lines_and_tracebacks_are_scrubbed() -> None:
    from cstar_cli.mcp.server import _ScrubbingFormatter

    formatter = _ScrubbingFormatter(secrets_with(KEY))
    try:
        raise RuntimeError(f"boom with {KEY}")
    except RuntimeError:
        record = logging.LogRecord("cstar.mcp", logging.ERROR, __file__, 1, "key was %s", (KEY,), sys.exc_info())
    line = formatter.format(record)
    assert KEY not in line and "sk_test_…M3n4" in line and "RuntimeError" in line
