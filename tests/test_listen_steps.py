"""The relay's small steps on their own, without a socket: the replay count, the guard against a
server that ignores the frame limit, what each close means, the frame readers and writers, and
``--forward-to`` values that could be read as holding a password more than one way."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.frames import Close

from cstar_cli.errors import CStarAuthenticationError, CStarPermissionError, CStarUsageError
from cstar_cli.protocol.frames import CLOSE_FORBIDDEN, CLOSE_SESSION_UNKNOWN, CLOSE_TOO_BIG, CLOSE_UNAUTHORIZED
from cstar_cli.relay import Reconnected, display_url, parse_forward_url
from cstar_cli.relay._connection import Loss, classify_close
from cstar_cli.relay._frames import ack_frame, decode, event_id_of, event_received, payload_text, too_large_notice
from cstar_cli.relay._relay import TOO_BIG_TRIES, _Replay, _TooBigGuard

OLD = json.dumps({"id": "evt_old", "created_at": "2020-01-01T00:00:00Z"})
LIVE = json.dumps({"id": "evt_new", "created_at": "2999-01-01T00:00:00.000Z"})


def test_replay_counts_until_the_first_live_event() -> None:
    replay = _Replay("cls_1", "evt_0", active=True)
    replay.welcomed(None)
    assert replay.observe(OLD) is None and replay.observe(None) is None and replay.observe("{}") is None
    ended = replay.observe(LIVE)
    assert ended == Reconnected("cls_1", "evt_0", 3, gap=True)
    assert replay.observe(OLD) is None and replay.count == 3  # over: nothing more is counted


def test_replay_ends_quietly_and_a_held_resume_point_is_no_gap() -> None:
    replay = _Replay("cls_1", "evt_0", active=True)
    replay.welcomed("evt_0")
    assert replay.observe(OLD) is None
    assert replay.finish() == Reconnected("cls_1", "evt_0", 1, gap=False) and not replay.active


def test_a_first_connection_counts_nothing() -> None:
    replay = _Replay("cls_1", None, active=False)
    replay.welcomed(None)
    assert replay.observe(LIVE) is None and replay.observe(OLD) is None
    assert (replay.count, replay.gap) == (0, False)


def test_too_big_guard_stops_only_on_the_same_resume_point_without_progress() -> None:
    too_big, other = Loss("1009", too_big=True), Loss("lost")
    guard = _TooBigGuard()
    assert not any(guard.exhausted(too_big, progressed=False, cursor="evt_1") for _ in range(TOO_BIG_TRIES - 1))
    assert guard.exhausted(too_big, progressed=False, cursor="evt_1")
    guard = _TooBigGuard()
    for cursor in ("evt_1", "evt_1", "evt_2", "evt_2"):  # moved on in between: starts over
        assert not guard.exhausted(too_big, progressed=False, cursor=cursor)
    assert not guard.exhausted(other, progressed=False, cursor="evt_2")  # another loss resets it
    assert not guard.exhausted(too_big, progressed=False, cursor="evt_2")
    assert not guard.exhausted(too_big, progressed=True, cursor="evt_2")


def closed(rcvd: int | None, reason: str = "", sent: int | None = None) -> ConnectionClosed:
    return ConnectionClosed(
        Close(rcvd, reason) if rcvd is not None else None, Close(sent, "") if sent is not None else None
    )


def test_what_each_close_means() -> None:
    assert classify_close(closed(None, sent=CLOSE_TOO_BIG), 100) == Loss(
        "the server sent a frame over the 100-byte limit (1009)", too_big=True
    )
    assert classify_close(closed(CLOSE_TOO_BIG), 100).too_big
    assert classify_close(closed(None), 100) == Loss("the connection was lost")
    assert classify_close(closed(CLOSE_SESSION_UNKNOWN), 100) == Loss("the session expired", session_gone=True)
    assert classify_close(closed(1011, "boom"), 100) == Loss("the server closed the connection (1011 boom)")
    assert classify_close(closed(1001), 100) == Loss("the server closed the connection (1001)")
    with pytest.raises(CStarAuthenticationError) as auth:
        classify_close(closed(CLOSE_UNAUTHORIZED), 100)
    assert auth.value.code == "key_revoked" and auth.value.__suppress_context__
    with pytest.raises(CStarPermissionError) as perm:
        classify_close(closed(CLOSE_FORBIDDEN), 100)
    assert perm.value.code == "secret_key_required"


def test_frame_readers_skip_what_they_cannot_use() -> None:
    assert decode("not json") is None and decode("[1]") is None and decode(b'"x"') is None
    assert decode(b'{"type": "event"}') == {"type": "event"}
    assert event_id_of({"eventId": ""}) is None and event_id_of({"eventId": 7}) is None
    assert event_id_of({"eventId": "evt_1"}) == "evt_1"
    assert payload_text({"payload": '{"a": 1}'}) == '{"a": 1}'
    assert payload_text({"payload": {"a": "é", "b": [1]}}) == '{"a":"é","b":[1]}'
    # A size that is no byte count reads as unknown, and says so in the ack.
    for size in (True, -5, "huge", 2**53, 1.5, None):
        assert too_large_notice({"size": size}, "evt_1", 10).size is None
    assert too_large_notice({"size": -5}, "evt_1", 10).error == "event_too_large: unknown size over the 10-byte limit"
    assert too_large_notice({"size": 11, "eventType": "x"}, "evt_1", 10).error == (
        "event_too_large: 11 bytes over the 10-byte limit"
    )


def test_event_received_falls_back_to_headers_then_the_session() -> None:
    frame = {"headers": {"X-Event-Type": "ticket.created", "X-Cstar-Request-Id": "req_1"}}
    event = event_received(frame, "evt_1", "{}", "cls_9")
    assert (event.event_type, event.request_id, event.webhook_id) == ("ticket.created", "req_1", "cls_9")


def test_ack_frame_is_the_contract_shape() -> None:
    assert json.loads(ack_frame("evt_1", 200, 12, 1, None)) == {
        "type": "ack",
        "eventId": "evt_1",
        "status": 200,
        "durationMs": 12,
        "attempts": 1,
        "error": None,
    }


@pytest.mark.parametrize(
    "value",
    [
        "ops:s3cr3t@localhost/://",  # a "://" in the path is not a scheme
        "ops:s3cr3t@localhost:99999/a://b",
        "h ttp://ops:s3cr3t@localhost/",
        " http://ops:s3cr3t@localhost:0/",
        "ftp://ops:s3cr3t@localhost/",
    ],
)
def test_a_password_is_masked_however_the_value_reads(value: str) -> None:
    try:
        url = parse_forward_url(value)
    except CStarUsageError as e:
        # Masked from the first colon that may start a password: "h ttp:***@…" hides "//ops" too.
        assert "s3cr3t" not in e.message and ":***@" in e.message
    else:
        assert "s3cr3t" not in display_url(url) and "ops:***@localhost" in display_url(url)


def test_a_scheme_is_only_at_the_start() -> None:
    assert parse_forward_url("ops:pw@localhost/://") == "http://ops:pw@localhost/://"
    assert display_url("http://u:pw@h/x://a:b@c") == "http://u:***@h/x://a:b@c"


@given(st.text(alphabet=":/@?#ab ", max_size=24))
def test_no_password_survives_an_error_message(rest: str) -> None:
    try:
        parse_forward_url(f"{rest}u:s3cr3t@{rest}")
    except CStarUsageError as e:
        assert "s3cr3t" not in e.message
