"""The MCP server's JSON-RPC framing, in-process: line splitting with a length cap, the answer each
kind of malformed line gets, and (with hypothesis) that arbitrary input never breaks it and every
line with a readable ID is answered exactly once with that ID.

The same behaviour through the real ``cstar mcp-server`` process: tests/test_mcp_stdio_framing.py.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp.shared.message import SessionMessage
from mcp_types import JSONRPCNotification, JSONRPCRequest, JSONRPCResponse

from cstar_cli.mcp.framing import MAX_LINE_BYTES, LineSplitter, Overflow, decode_line, readable_id
from cstar_cli.mcp.stdio import read_messages

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reply_of(line: bytes) -> Any:
    decoded = decode_line(line)
    assert decoded.message is None, decoded
    assert decoded.reply is not None
    return json.loads(decoded.reply)


def code_and_id(line: bytes) -> tuple[int, Any]:
    reply = reply_of(line)
    assert reply["jsonrpc"] == "2.0" and set(reply) == {"jsonrpc", "id", "error"}
    return reply["error"]["code"], reply["id"]


@pytest.mark.parametrize(
    ("line", "code", "id_"),
    [
        (b"not json", -32700, None),
        (b'{"jsonrpc":"2.0","id":1,"method":"tools/list"', -32700, None),  # cut short
        (b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":"\\ud800"}}', -32700, None),  # lone surrogate
        (b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":"\\udc00x"}}', -32700, None),
        (b'{"jsonrpc":"2.0","id":1,"method":"\xff\xfe"}', -32700, None),  # not UTF-8
        (b'{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":NaN}}', -32700, None),
        (b"[" * 5000, -32700, None),  # deeper than the parser goes
        (b'{"id":7,"method":"tools/list"}', -32600, 7),  # no jsonrpc
        (b'{"jsonrpc":"1.0","id":"a","method":"tools/list"}', -32600, "a"),
        (b'{"jsonrpc":2.0,"id":8,"method":"tools/list"}', -32600, 8),
        (b'{"jsonrpc":"2.0","id":9,"method":42}', -32600, 9),
        (b'{"jsonrpc":"2.0","id":10,"method":"tools/list","params":"x"}', -32600, 10),
        (b'{"jsonrpc":"2.0","id":11,"method":"tools/list","params":null}', -32600, 11),
        (b'{"jsonrpc":"2.0","id":12}', -32600, 12),  # neither request nor response
        (b'{"jsonrpc":"2.0","id":true,"method":"tools/list"}', -32600, None),
        (b'{"jsonrpc":"2.0","id":1.5,"method":"tools/list"}', -32600, None),
        (b'{"jsonrpc":"2.0","id":null,"method":"tools/list"}', -32600, None),
        (b'{"jsonrpc":"2.0","id":{"a":1},"method":"tools/list"}', -32600, None),
        (b'{"jsonrpc":"2.0","method":7}', -32600, None),  # not even a valid notification
        (b'{"jsonrpc":"2.0","result":{}}', -32600, None),  # a response without an id
        (b"42", -32600, None),
        (b'"tools/list"', -32600, None),
        (b"null", -32600, None),
        (b"[]", -32600, None),
        (b'{"jsonrpc":"2.0","id":13,"method":"tools/list","params":[1,2]}', -32602, 13),
    ],
)
def test_each_malformed_line_gets_its_error(line: bytes, code: int, id_: Any) -> None:
    assert code_and_id(line) == (code, id_)


def test_a_batch_gets_one_error_per_request_in_an_array() -> None:
    line = b'[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/x"},5,{"id":"b"}]'
    answers = reply_of(line)
    assert [(a["id"], a["error"]["code"]) for a in answers] == [(1, -32600), (None, -32600), ("b", -32600)]
    # Only notifications: nothing to answer.
    assert decode_line(b'[{"jsonrpc":"2.0","method":"notifications/x"}]').reply is None


@pytest.mark.parametrize(
    "line",
    [
        b"",
        b"   \r",
        b'{"jsonrpc":"2.0","method":"notifications/initialized"}',
        b'{"jsonrpc":"2.0","method":"notifications/x","params":[1]}',  # bad params, but no id: no answer
        b'{"jsonrpc":"2.0","id":5,"result":{}}',  # the client answering a server request
    ],
)
def test_notifications_responses_and_blank_lines_get_no_answer(line: bytes) -> None:
    assert decode_line(line).reply is None


def test_valid_messages_go_to_the_sdk_unchanged() -> None:
    request = decode_line(b'{"jsonrpc":"2.0","id":"r1","method":"tools/call","params":{"name":"x"}}\r').message
    assert isinstance(request, JSONRPCRequest) and request.id == "r1" and request.params == {"name": "x"}
    big = decode_line(b'{"jsonrpc":"2.0","id":12345678901234567890,"method":"ping"}').message
    assert isinstance(big, JSONRPCRequest) and big.id == 12345678901234567890
    note = decode_line(b'{"jsonrpc":"2.0","method":"notifications/initialized"}').message
    assert isinstance(note, JSONRPCNotification)
    assert isinstance(decode_line(b'{"jsonrpc":"2.0","id":5,"result":{}}').message, JSONRPCResponse)
    emoji = decode_line('{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":"\\ud83d\\ude00 é"}}'.encode()).message
    assert isinstance(emoji, JSONRPCRequest) and emoji.params == {"a": "😀 é"}


def test_the_splitter_caps_a_line_and_resynchronises_at_the_next_newline() -> None:
    s = LineSplitter(limit=8)
    assert s.feed(b"12345678\n") == [b"12345678"]  # exactly the limit is fine
    assert s.feed(b"123456789") == [Overflow(8)]  # one byte more: answered at once
    assert s.feed(b"more and more") == []  # the rest is dropped as it comes
    assert s.feed(b"tail\nnext\n") == [b"next"]
    assert s.feed(b"last") == [] and s.end() == [b"last"]
    assert s.end() == []
    cut = LineSplitter(limit=4)
    assert cut.feed(b"too long, never ended") == [Overflow(4)] and cut.end() == []
    assert LineSplitter().limit == MAX_LINE_BYTES == 4 * 1024 * 1024


# --- properties ---------------------------------------------------------------------------------

json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
ids = st.integers(min_value=-(2**70), max_value=2**70) | st.text(max_size=30)
envelope_keys = st.sampled_from(["jsonrpc", "method", "params", "result", "error", "extra"])
messages = st.dictionaries(
    envelope_keys,
    st.sampled_from(["2.0", "1.0", "ping", "tools/list", "initialize"]) | json_values,
    max_size=5,
)


@FAST
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_break_decoding(line: bytes) -> None:
    decoded = decode_line(line)
    if decoded.reply is not None:
        json.loads(decoded.reply)  # always one valid JSON text
        assert "\n" not in decoded.reply


@FAST
@given(messages, ids)
def test_every_object_with_a_readable_id_is_answered_exactly_once_with_that_id(msg: dict[str, Any], id_: Any) -> None:
    msg = {**msg, "id": id_}
    line = json.dumps(msg).encode()
    decoded = decode_line(line)
    answers = [] if decoded.reply is None else [json.loads(decoded.reply)]
    if isinstance(decoded.message, JSONRPCRequest):
        answers.append({"id": decoded.message.id, "sdk": True})  # the SDK answers every request it gets
    if "method" not in msg and {"result", "error"} & set(msg) and msg.get("jsonrpc") == "2.0":
        # A response from the client, valid or not: JSON-RPC forbids answering it.
        assert decoded.reply is None and not isinstance(decoded.message, JSONRPCRequest)
        return
    assert len(answers) == 1, (msg, decoded)
    assert answers[0]["id"] == id_


@FAST
@given(st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=8), st.data())
def test_splitting_is_the_same_for_any_chunking(lines: list[bytes], data: st.DataObject) -> None:
    limit = 16
    stream = b"".join(line + b"\n" for line in lines)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    splitter = LineSplitter(limit)
    got: list[bytes | Overflow] = []
    for start, stop in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        got += splitter.feed(stream[start:stop])
        assert len(splitter._buffer) <= limit  # never holds more than one capped line
    got += splitter.end()
    assert got == [line if len(line) <= limit else Overflow(limit) for line in lines]


def _run_reader(chunks: list[bytes], limit: int) -> tuple[list[SessionMessage], list[str]]:
    async def main() -> tuple[list[SessionMessage], list[str]]:
        pending = list(chunks) + [b""]
        messages_in, messages_out = anyio.create_memory_object_stream[Any](100)
        replies_in, replies_out = anyio.create_memory_object_stream[Any](100)

        async def read() -> bytes:
            return pending.pop(0)

        await read_messages(read, messages_in, replies_in, limit)
        async with messages_out, replies_out:
            return [m async for m in messages_out], [r async for r in replies_out]

    return anyio.run(main)


@FAST
@given(st.lists(st.tuples(ids, st.sampled_from(["ok", "bad-json", "no-jsonrpc", "too-long", "note"])), max_size=8))
def test_the_reader_answers_each_line_once_even_after_an_overlong_one(plan: list[tuple[Any, str]]) -> None:
    limit = 1000  # well above the longest ordinary line: an ID of 30 escaped characters is ~360 bytes
    lines = []
    for id_, kind in plan:
        req = {"jsonrpc": "2.0", "id": id_, "method": "tools/list"}
        if kind == "bad-json":
            lines.append(json.dumps(req)[:-1])
        elif kind == "no-jsonrpc":
            lines.append(json.dumps({"id": id_, "method": "tools/list"}))
        elif kind == "too-long":
            lines.append(json.dumps({**req, "params": {"pad": "x" * limit}}))
        elif kind == "note":
            lines.append(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        else:
            lines.append(json.dumps(req))
    stream = "".join(line + "\n" for line in lines).encode()
    chunks = [stream[i : i + 397] for i in range(0, len(stream), 397)]
    messages, replies = _run_reader(chunks, limit)
    answered = [m.message.id for m in messages if isinstance(m.message, JSONRPCRequest)]
    answered += [json.loads(r)["id"] for r in replies]
    readable = [id_ for id_, kind in plan if kind in ("ok", "no-jsonrpc")]
    unreadable = [id_ for id_, kind in plan if kind in ("bad-json", "too-long")]
    assert sorted(map(repr, answered)) == sorted(map(repr, readable + [None] * len(unreadable)))


def test_readable_id_takes_strings_and_integers_only() -> None:
    assert [readable_id(v) for v in ("a", 0, -3, True, 1.0, None, [1])] == ["a", 0, -3, None, None, None, None]
