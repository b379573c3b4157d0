"""``cstar listen --record FILE`` and ``cstar replay FILE`` end to end on the emulator (real
subprocesses, receivers verifying every signature), plus the recording reader and writer."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cstar_cli.errors import CStarUsageError
from cstar_cli.receiver import Receiver
from cstar_cli.recording import Recorder, read_recording
from cstar_cli.relay import Delivered, DeliveryAttempted, EventReceived
from tests.support.cli import cstar_subprocess
from tests.support.emulator import start_emulator
from tests.test_listen import Listen, burst, secret_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    proc = start_emulator(tmp_path_factory.mktemp("record-emulator") / "emulator.db")
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def recorded(emu: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes]]:
    """A recording of two events (one with non-ASCII text) and the bodies the receiver got."""
    path = tmp_path_factory.mktemp("recording") / "events.jsonl"
    with Receiver(secret_for(emu), path="/hooks") as rx:
        listen = Listen(emu, "--forward-to", rx.url, "--record", str(path), "--exit-after", "2")
        listen.ready()
        burst(emu, 1)
        r = httpx.post(
            f"{emu.base_url}/api/v1/teams/{emu.team_id}/tickets",
            json={"title": "Printer on fire 🔥 \u2028 é"},
            headers={"Authorization": f"Bearer {emu.keys['sk_test']}"},
            timeout=15,
        )
        assert r.status_code == 201, r.text
        assert listen.finish(sig=None) == 0
        assert all(d.verified for d in rx.received)
        return path, [d.body for d in rx.received]


def env(emu: Any) -> dict[str, str]:
    return {"CSTAR_API_KEY": emu.keys["sk_test"], "CSTAR_BASE_URL": emu.base_url}


def test_the_recording_is_0600_one_line_per_event_with_exact_payloads(emu: Any, recorded: Any) -> None:
    path, bodies = recorded
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text(encoding="utf-8")
    assert emu.keys["sk_test"] not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert [line["payload"].encode("utf-8") for line in lines] == bodies
    for line in lines:
        assert line["type"] == "event" and line["eventId"].startswith("evt_")
        assert line["headers"]["X-Signature"].startswith("t=") and line["headers"]["X-Event-ID"] == line["eventId"]
        assert line["delivery"]["status"] == 200 and line["delivery"]["attempts"] == 1
        assert line["receivedAt"].endswith("Z") and line["webhookId"].startswith("cls_")


def test_replay_delivers_the_same_bytes_in_order_signed_with_the_listen_secret(emu: Any, recorded: Any) -> None:
    path, bodies = recorded
    with Receiver(secret_for(emu), path="/again") as rx:
        r = cstar_subprocess("replay", str(path), "--forward-to", rx.url, env=env(emu))
        assert r.code == 0, r.stderr
    assert [d.body for d in rx.received] == bodies
    assert all(d.verified and d.attempt == 1 for d in rx.received)
    out = [line.split("  ", 1)[1] for line in r.stdout.splitlines()]
    assert [line[:3] for line in out] == ["-->", "<--", "-->", "<--"]
    assert r.stderr.splitlines()[-1] == "Stopped: 2 forwarded, 0 failed."
    assert emu.keys["sk_test"] not in r.stdout + r.stderr


def test_replay_with_secret_makes_no_api_call(recorded: Any) -> None:
    path, bodies = recorded
    secret = "whsec_" + "ab" * 24
    with Receiver(secret) as rx:
        # No key and an API that does not exist: only the receiver is contacted.
        r = cstar_subprocess(
            "replay", str(path), "-f", rx.url, "--secret", secret, "--pace", "10ms", "--json",
            env={"CSTAR_BASE_URL": "http://127.0.0.1:9", "CSTAR_API_KEY": ""},
        )  # fmt: skip
        assert r.code == 0, r.stderr
    assert [d.body for d in rx.received] == bodies and all(d.verified for d in rx.received)
    lines = [json.loads(line) for line in r.stdout.split("\n") if line]
    assert [line["delivery"]["status"] for line in lines] == [200, 200]


def test_replay_stops_at_the_first_delivery_given_up_with_12(recorded: Any) -> None:
    path, _ = recorded
    secret = "whsec_" + "cd" * 24
    with Receiver(secret, status=500) as rx:
        r = cstar_subprocess("replay", str(path), "-f", rx.url, "--secret", secret, "--retry-for", "0.1s")
    assert r.code == 12, r.stderr
    assert len({d.event_id for d in rx.received}) == 1
    assert "Stopped: 0 forwarded, 1 failed." in r.stderr and "Error: The receiver failed event" in r.stderr


def test_a_malformed_line_exits_2_naming_it_before_anything_is_sent(recorded: Any, tmp_path: Path) -> None:
    path, _ = recorded
    bad = tmp_path / "bad.jsonl"
    first = path.read_text(encoding="utf-8").splitlines()[0]
    bad.write_text(first + "\n\n{not json\n", encoding="utf-8")
    secret = "whsec_" + "ef" * 24
    with Receiver(secret) as rx:
        r = cstar_subprocess("replay", str(bad), "-f", rx.url, "--secret", secret)
        assert r.code == 2 and not rx.received
    assert f"Line 3 of '{bad}' is not a recorded event: not JSON." in r.stderr and "Hint:" in r.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--pace", "slow"], "Invalid --pace 'slow'."),
        (["--secret", "sk_test_nope"], "--secret is not a webhook signing secret."),
        (["--retry-for", "1e9"], "Invalid --retry-for '1e9'."),
    ],
)
def test_bad_replay_flags_exit_2(recorded: Any, args: list[str], needle: str) -> None:
    path, _ = recorded
    r = cstar_subprocess("replay", str(path), "-f", "3000", *args, env={"CSTAR_BASE_URL": "http://127.0.0.1:9"})
    assert r.code == 2 and needle in r.stderr and "Traceback" not in r.stderr


def test_a_missing_recording_exits_2(tmp_path: Path) -> None:
    r = cstar_subprocess("replay", str(tmp_path / "nope.jsonl"), "-f", "3000", "--secret", "whsec_x")
    assert r.code == 2 and "Cannot read recording" in r.stderr


# --- the reader and the writer, offline ------------------------------------------------------------


def _event(n: int = 1, payload: str = '{"id":"evt_1"}') -> EventReceived:
    return EventReceived(f"evt_{n}", "ticket.created", payload, "req_1", "cls_1", 1_764_597_731.5)


def test_an_existing_recording_readable_by_others_is_made_0600(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    path.write_text("")
    os.chmod(path, 0o644)
    rec = Recorder(path, forwarding=False)
    rec(_event())
    rec.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    (line,) = read_recording(path)
    assert line.event_id == "evt_1" and line.payload == '{"id":"evt_1"}' and line.received_at == 1_764_597_731.5


def test_credential_headers_and_api_keys_are_never_recorded(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    key = "sk_test_" + "A1b2" * 6
    ev = _event(payload='{"odd":"\ud800 lone surrogate"}')
    headers = {"X-Signature": "t=1,v1=ab", "Authorization": "Bearer tok", "X-Note": f"key {key}"}
    rec = Recorder(path, forwarding=True)
    rec(ev)
    rec(DeliveryAttempted("evt_1", "http://x/", 1, 4, 200, 1.0, None, None, headers))
    rec(Delivered(ev, "http://x/", 200, 1.0, 1, None))
    rec.close()
    text = path.read_text(encoding="utf-8")
    assert key not in text and "tok" not in text
    line = json.loads(text)
    assert line["headers"] == {"X-Signature": "t=1,v1=ab", "Authorization": "***", "X-Note": "key sk_test_…A1b2"}
    assert read_recording(path)[0].payload == ev.payload  # lone surrogates round-trip


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("[]", "not a JSON object"),
        ('{"type":"ack"}', '"type" is not "event"'),
        ('{"type":"event","receivedAt":"yesterday"}', "receivedAt is not an ISO 8601 time"),
        ('{"type":"event","receivedAt":"2026-12-01T14:02:11Z","eventId":""}', "eventId is not a non-empty string"),
        (
            '{"type":"event","receivedAt":"2026-12-01T14:02:11Z","eventId":"e","eventType":"t","webhookId":"w"}',
            "payload is not a string",
        ),
    ],
)
def test_reader_names_what_is_wrong(tmp_path: Path, text: str, why: str) -> None:
    path = tmp_path / "rec.jsonl"
    path.write_text(text + "\n", encoding="utf-8")
    with pytest.raises(CStarUsageError) as e:
        read_recording(path)
    assert e.value.message == f"Line 1 of '{path}' is not a recorded event: {why}."
    assert e.value.exit_code == 2


def test_an_empty_recording_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(CStarUsageError, match="holds no events"):
        read_recording(path)
