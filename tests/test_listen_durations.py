"""Duration flags (``--retry-for``, ``--max-wait``, ``replay --pace``) and the forwarder's time
budget, offline: the parser is strict, and a budget bounds when attempts start."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cstar_cli.commands.replay import parse_pace
from cstar_cli.durations import MAX_DURATION, parse_duration
from cstar_cli.errors import CStarUsageError
from cstar_cli.relay import EventReceived, Forwarder, ForwardOptions


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h", 3600), ("1h30m", 5400), ("250ms", 0.25), ("90", 90), ("1.5s", 1.5), (" 2M ", 120)],
)
def test_valid_durations(text: str, seconds: float) -> None:
    assert parse_duration(text, "--retry-for") == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text",
    ["", "s", "5 minutes", "-1s", "1e3", "1e3s", "inf", "nan", "0", "0s", "1m1h", "1s1s", "5d", "1,5s", "+3s", "8d", "169h"],
)
def test_invalid_durations_are_usage_errors(text: str) -> None:
    with pytest.raises(CStarUsageError) as e:
        parse_duration(text, "--retry-for")
    assert e.value.exit_code == 2 and e.value.field == "retry_for" and "--retry-for" in e.value.message


units = st.sampled_from([("h", 3600), ("m", 60), ("s", 1), ("ms", 0.001)])


@given(st.lists(st.tuples(st.integers(0, 50), units), min_size=1, max_size=4, unique_by=lambda t: t[1][0]))
def test_composed_durations_sum_their_parts(parts: list[tuple[int, tuple[str, float]]]) -> None:
    order = ["h", "m", "s", "ms"]
    parts.sort(key=lambda p: order.index(p[1][0]))
    text = "".join(f"{n}{u}" for n, (u, _) in parts)
    total = sum(n * f for n, (_, f) in parts)
    if total == 0:
        with pytest.raises(CStarUsageError):
            parse_duration(text, "--max-wait")
    else:
        assert parse_duration(text, "--max-wait") == pytest.approx(total)


@given(st.text(max_size=12))
def test_any_text_parses_or_is_a_usage_error(text: str) -> None:
    try:
        value = parse_duration(text, "--max-wait")
    except CStarUsageError:
        return
    assert 0 < value <= MAX_DURATION


def test_paces() -> None:
    assert parse_pace("fast") == 0 and parse_pace("realtime") is None and parse_pace("250ms") == 0.25
    assert parse_pace("0ms") == 0
    with pytest.raises(CStarUsageError):
        parse_pace("slowly")


def test_a_time_budget_stops_retrying_once_the_next_attempt_would_start_late() -> None:
    # Nothing listens on port 9: every attempt is refused at once, so only the pauses count.
    fwd = Forwarder(ForwardOptions("http://127.0.0.1:9/", retry_for=1.9), "whsec_x")
    event = EventReceived("evt_1", "ticket.created", "{}", None, "cls_1", 0.0)

    async def run() -> list[object]:
        try:
            return [step async for step in fwd.deliver(event)]
        finally:
            await fwd.aclose()

    steps = asyncio.run(run())
    # Pauses 0.5 s then 1 s fit in 1.9 s; the next (2 s) would not.
    assert [getattr(s, "retry_in", "outcome") for s in steps] == [0.5, 1.0, None, "outcome"]
    assert all(getattr(s, "max_attempts", 0) == 0 for s in steps[:-1])
    assert steps[-1].attempts == 3 and steps[-1].error == "connection refused"  # type: ignore[attr-defined]


def test_the_default_budget_is_still_four_attempts() -> None:
    fwd = Forwarder(ForwardOptions("http://127.0.0.1:9/", backoff=(0.0,)), "whsec_x")
    event = EventReceived("evt_1", "ticket.created", "{}", None, "cls_1", 0.0)

    async def run() -> list[object]:
        try:
            return [step async for step in fwd.deliver(event)]
        finally:
            await fwd.aclose()

    steps = asyncio.run(run())
    assert [getattr(s, "max_attempts", None) for s in steps[:-1]] == [4, 4, 4, 4]
    assert steps[-1].attempts == 4  # type: ignore[attr-defined]
