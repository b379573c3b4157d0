"""Catch-up across runs: a ``cstar listen`` killed with -9 (events received but never acknowledged,
and events created while it was down) is caught up by the next run of the same device and profile,
each event exactly once and in order; ``--no-resume`` and another profile start from now."""

from __future__ import annotations

import re
import signal
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cstar_cli.receiver import Receiver
from tests.support.emulator import EmulatorThread
from tests.test_listen import Listen, burst, secret_for

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def api(emulator: EmulatorThread) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=emulator.base_url, headers={"Authorization": f"Bearer {emulator.keys['sk_test']}"}, timeout=15
    ) as client:
        yield client


def history(emu: Any, api: httpx.Client) -> list[str]:
    """Every stored event id of the test partition, oldest first."""
    ids: list[str] = []
    before: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 100, **({"before": before} if before else {})}
        r = api.get(f"/api/v1/teams/{emu.team_id}/events", params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        ids.extend(item["id"] for item in body["data"])
        page = body["meta"]["pagination"]
        if not page["hasMore"]:
            return ids[::-1]
        before = page["nextCursor"]


def since(ids: list[str], first: str) -> list[str]:
    return ids[ids.index(first) :]


def wait_acked(emu: Any, event_id: str, timeout: float = 20) -> None:
    """Wait until the server has recorded a listen session's ack of ``event_id``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = httpx.get(f"{emu.base_url}/_emulator/deliveries", params={"kind": "cli", "eventId": event_id}, timeout=15)
        r.raise_for_status()
        if r.json()["data"]:
            return
        time.sleep(0.05)
    raise AssertionError(f"{event_id} was never acked")


def kill(listen: Listen) -> None:
    listen.proc.send_signal(signal.SIGKILL)
    listen.proc.wait(15)
    for t in listen._readers:
        t.join(5)
    for stream in (listen.proc.stdout, listen.proc.stderr):
        if stream is not None:
            stream.close()


def create_session(emu: Any, body: dict[str, Any]) -> dict[str, Any]:
    r = httpx.post(
        f"{emu.base_url}/api/v1/teams/{emu.team_id}/cli/sessions",
        json=body,
        headers={"Authorization": f"Bearer {emu.keys['sk_test']}"},
        timeout=15,
    )
    assert r.status_code == 201, r.text
    return r.json()["data"]


def test_killed_listener_is_caught_up_exactly_once_in_order(emulator: EmulatorThread, api: httpx.Client) -> None:
    secret = secret_for(emulator)
    stall = socket.socket()  # accepts connections, never answers: events are received, never acked
    stall.bind(("127.0.0.1", 0))
    stall.listen()
    try:
        with Receiver(secret) as rx:
            # Run 1: 20 events delivered and acked, then 99 received by a stalled receiver, then -9.
            first = Listen(emulator, "-f", rx.url)
            first.ready()
            sent = burst(emulator, 20)
            acked_first = sent["firstEventId"]
            assert rx.wait_for(20)
            wait_acked(emulator, sent["lastEventId"])
            kill(first)
            second = Listen(emulator, "-f", str(stall.getsockname()[1]))
            second.ready()
            unacked = burst(emulator, 99)["firstEventId"]
            second.wait(second.out, lambda s: f"--> ticket.created [{unacked}]" in s)
            kill(second)
            # 350 more while nothing listens.
            burst(emulator, 350)
            third = Listen(emulator, "-f", rx.url)
            third.ready()
            line = third.wait(third.err, lambda s: s.startswith("Catching up:"))
            assert re.fullmatch(r"Catching up: 449 events since \d\d:\d\d…", line), line
            assert rx.wait_for(20 + 449)
            live = burst(emulator, 1)["firstEventId"]
            assert rx.wait_for(20 + 450)
            assert third.finish() == 130
    finally:
        stall.close()
    delivered = [d.event_id for d in rx.received if d.status == 200]
    assert all(d.verified for d in rx.received)
    expected = since(history(emulator, api), acked_first)
    assert delivered == expected, (len(delivered), len(expected))
    assert len(set(delivered)) == len(delivered) == 470
    assert delivered[20] == unacked and delivered[-1] == live


def test_no_resume_starts_from_now_and_profiles_are_separate_devices(emulator: EmulatorThread) -> None:
    first = create_session(emulator, {"deviceName": "box", "resumeKey": "box/default", "resume": True})
    assert first["resume"] == {"after": None, "count": 0, "since": None, "missingBefore": None}
    burst(emulator, 5)
    # Same key: the 5 events since the last session are caught up.
    again = create_session(emulator, {"deviceName": "box", "resumeKey": "box/default", "resume": True})
    assert again["resume"]["count"] == 5 and again["resume"]["since"]
    # Another profile on the same machine: its own place (none yet), the same signing secret.
    other = create_session(emulator, {"deviceName": "box", "resumeKey": "box/work", "resume": True})
    assert other["resume"]["count"] == 0 and other["secret"] == first["secret"]
    # resume false (--no-resume) starts from now and moves the place to now.
    fresh = create_session(emulator, {"deviceName": "box", "resumeKey": "box/default", "resume": False})
    assert fresh["resume"] is None
    after = create_session(emulator, {"deviceName": "box", "resumeKey": "box/default", "resume": True})
    assert after["resume"]["count"] == 0
    # Without a resume key nothing changes for existing clients.
    plain = create_session(emulator, {"deviceName": "box"})
    assert plain["resume"] is None and plain["secret"] == first["secret"]


def test_catch_up_counts_only_the_filter(emulator: EmulatorThread) -> None:
    create_session(emulator, {"events": ["customer.*"], "resumeKey": "k", "resume": True})
    burst(emulator, 3)  # ticket.created: not in the filter
    r = httpx.post(
        f"{emulator.base_url}/_emulator/burst", json={"count": 2, "event": "customer.created"}, timeout=15
    )
    r.raise_for_status()
    caught = create_session(emulator, {"events": ["customer.*"], "resumeKey": "k", "resume": True})
    assert caught["resume"]["count"] == 2


def test_no_resume_flag_delivers_only_new_events(emulator: EmulatorThread) -> None:
    secret = secret_for(emulator)
    with Receiver(secret) as rx:
        first = Listen(emulator, "-f", rx.url)
        first.ready()
        kill(first)
        burst(emulator, 10)
        second = Listen(emulator, "-f", rx.url, "--no-resume")
        second.ready()
        live = burst(emulator, 1)["firstEventId"]
        assert rx.wait_for(1)
        assert second.finish() == 130
    assert [d.event_id for d in rx.received] == [live]
    assert not any(s.startswith("Catching up") for s in second.err)
