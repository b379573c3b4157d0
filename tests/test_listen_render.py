"""How ``cstar listen`` shows an event too large to receive and a stop during a delivery (offline:
the renderer fed the relay's elements)."""

from __future__ import annotations

import json

import pytest

from cstar_cli.commands.listen import Renderer
from cstar_cli.output import Output
from cstar_cli.relay import EventTooLarge, Ready, Stopped

NOTICE = EventTooLarge("evt_big", "ticket.created", 17_000_000, 16_777_216)


@pytest.mark.parametrize("json_mode", [False, True])
def test_event_too_large_is_named_on_stderr_and_a_json_line(
    json_mode: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    render = Renderer(Output(json=json_mode, no_color=True), json=json_mode, forwarding=True)
    render(NOTICE)
    render.stopped(Stopped(received=1, forwarded=1, too_large=1))
    out, err = capsys.readouterr()
    assert (
        "Event ticket.created [evt_big] was not received: it is 17000000 bytes, over the 16777216-byte frame limit."
        in err
    )
    assert err.strip().splitlines()[-1] == "Stopped: 1 forwarded, 0 failed, 1 too large to receive."
    if json_mode:
        assert json.loads(out) == {
            "type": "event_too_large",
            "eventId": "evt_big",
            "eventType": "ticket.created",
            "size": 17_000_000,
            "limit": 16_777_216,
            "error": "event_too_large: 17000000 bytes over the 16777216-byte limit",
        }
    else:
        assert out == ""


def test_the_event_in_flight_is_named_before_the_summary(capsys: pytest.CaptureFixture[str]) -> None:
    render = Renderer(Output(no_color=True), json=False, forwarding=True)
    render.stopped(Stopped(received=1, in_flight="evt_1"))
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[0].startswith("Stopped while evt_1 was being delivered: it is not acknowledged")
    assert lines[1] == "Stopped: 0 forwarded, 0 failed."


def test_the_ready_line_shows_what_the_relay_gives_it(capsys: pytest.CaptureFixture[str]) -> None:
    render = Renderer(Output(no_color=True), json=False, forwarding=True)
    render(Ready("cls_1", "whsec_x", ("*",), "http://ops:***@localhost:3000/"))
    assert "Forwarding all events to http://ops:***@localhost:3000/" in capsys.readouterr().err
