"""``cstar listen`` for CI, end to end on the emulator: ``--exit-after`` (0 when delivered, 12 when
given up), ``--max-wait`` (13), the docs' bash example run as written, ``--retry-for``, the
timestamps on human lines and the one-time signature hint."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cstar_cli.receiver import Receiver
from tests.support.cli import cstar_env
from tests.support.emulator import start_emulator
from tests.test_listen import Listen, burst, secret_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    proc = start_emulator(tmp_path_factory.mktemp("listen-ci-emulator") / "emulator.db")
    yield proc
    proc.stop()


def test_exit_after_exits_0_once_n_events_were_delivered(emu: Any) -> None:
    with Receiver(secret_for(emu)) as rx:
        listen = Listen(emu, "--forward-to", rx.url, "--exit-after", "2", "--max-wait", "60")
        listen.ready()
        burst(emu, 2)
        assert listen.finish(sig=None) == 0
    delivered = [line for line in listen.out if line.startswith("<-- [200]")]
    assert len(delivered) == 2
    assert listen.err[-1] == "Stopped: 2 forwarded, 0 failed."
    # Acknowledged before the exit: the server holds both as delivered (not in flight).
    assert not any("was being delivered" in line for line in listen.err)


def test_a_delivery_given_up_exits_12_after_the_summary(emu: Any) -> None:
    with Receiver(secret_for(emu), status=500) as rx:
        listen = Listen(emu, "--forward-to", rx.url, "--exit-after", "5", "--retry-for", "1.2s")
        listen.ready()
        burst(emu, 1)
        assert listen.finish(sig=None) == 12
    evt = rx.received[0].event_id
    # 0.5 s pause fits the 1.2 s budget, the next 1 s pause does not: two attempts.
    assert [(d.status, d.attempt) for d in rx.received] == [(500, 1), (500, 2)]
    assert re.search(rf"\[{evt}\] \d+ ms, retrying in 0\.5 s \(attempt 2\)$", listen.out[1])
    assert "gave up after 2 attempts" in listen.out[-1]
    assert listen.err[-3] == "Stopped: 0 forwarded, 1 failed."
    assert listen.err[-2] == f"Error: The receiver failed event {evt} after 2 attempts (receiver answered 500)."
    assert listen.err[-1].startswith("Hint: ")


def test_max_wait_exits_13_with_its_own_error(emu: Any) -> None:
    listen = Listen(emu, "--exit-after", "1", "--max-wait", "1s", "--json")
    listen.ready()
    assert listen.finish(sig=None) == 13
    err = json.loads(listen.err[-1])["error"]
    assert err["type"] == "max_wait_elapsed" and err["code"] == "max_wait_elapsed"
    assert err["message"] == "--max-wait 1 s passed; 0 of 1 events delivered."


def test_exit_after_without_forward_to_counts_received_events(emu: Any) -> None:
    listen = Listen(emu, "--exit-after", "1", "--format", "json")
    listen.ready()
    evt = burst(emu, 1)["firstEventId"]
    assert listen.finish(sig=None) == 0
    assert [line["eventId"] for line in listen.json_lines()] == [evt]


def _ci_example() -> str:
    text = (ROOT / "docs" / "listen.md").read_text(encoding="utf-8")
    section = text.split("## In CI", 1)[1]
    return section.split("```bash\n", 1)[1].split("```", 1)[0]


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize("receiver_status", [200, 500])
def test_the_documented_ci_example_runs_as_written(emu: Any, tmp_path: Path, receiver_status: int) -> None:
    """The bash block of docs/listen.md "In CI", with only the port and `cstar` on PATH supplied."""
    script = _ci_example()
    assert "localhost:3000/webhooks" in script
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "cstar").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m cstar_cli "$@"\n')
    (bin_dir / "cstar").chmod(0o755)
    with Receiver(secret_for(emu), path="/webhooks", status=receiver_status) as rx:
        env = cstar_env(
            {"CSTAR_API_KEY": emu.keys["sk_test"], "CSTAR_BASE_URL": emu.base_url, "PATH": f"{bin_dir}:/usr/bin:/bin"}
        )
        run = subprocess.run(
            ["bash", "-c", script.replace("localhost:3000", f"localhost:{rx.port}")],
            capture_output=True,
            text=True,
            env=env,
            timeout=80,
        )
    assert "Traceback" not in run.stdout + run.stderr
    if receiver_status == 200:
        assert run.returncode == 0, run.stdout + run.stderr
        assert "Stopped: 1 forwarded, 0 failed." in run.stdout  # the script cats the log
        assert [d.status for d in rx.received] == [200]
    else:
        assert run.returncode == 12, run.stdout + run.stderr
        assert "Error: The receiver failed event" in run.stdout


def test_the_ci_example_stops_when_the_listener_cannot_start(emu: Any) -> None:
    env = cstar_env({"CSTAR_API_KEY": "sk_test_" + "x" * 24, "CSTAR_BASE_URL": emu.base_url})
    script = _ci_example().replace("cstar ", f"{sys.executable} -m cstar_cli ")
    run = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert run.returncode == 3, run.stdout + run.stderr


def test_human_lines_start_with_the_local_time_to_the_second(emu: Any) -> None:
    with Receiver(secret_for(emu)) as rx:
        listen = Listen(emu, "--forward-to", rx.url)
        listen.ready()
        before = time.time()
        burst(emu, 1)
        listen.wait(listen.out, lambda s: s.startswith("<-- [200]"))
        after = time.time()
        assert listen.finish() == 130
    assert len(listen.stamps) == 2 and all(listen.stamps)
    for stamp in listen.stamps:
        shown = time.mktime(time.strptime(stamp, "%Y-%m-%d %H:%M:%S"))
        assert int(before) - 1 <= shown <= after


def test_json_lines_carry_no_timestamp_prefix(emu: Any) -> None:
    listen = Listen(emu, "--json")
    listen.ready()
    burst(emu, 1)
    listen.wait(listen.out, lambda s: "eventId" in s)
    assert listen.finish() == 130
    assert listen.stamps == [""] and listen.json_lines()[0]["receivedAt"].endswith("Z")


@pytest.mark.parametrize("status", [401, 400])
def test_a_signature_failure_gets_one_raw_body_hint(emu: Any, status: int) -> None:
    # A receiver verifying with the wrong secret answers 401 to every attempt; --status 400 stands
    # for a framework that rejects what it cannot verify with 400.
    secret = "whsec_wrong" if status == 401 else secret_for(emu)
    with Receiver(secret, status=status) as rx:
        listen = Listen(emu, "--forward-to", rx.url, "--retry-for", "0.1s")
        listen.ready()
        burst(emu, 2)
        listen.wait(listen.out, lambda s: "gave up" in s and s != listen.out[1])
        listen.wait(listen.out, lambda s: len([x for x in listen.out if "gave up" in x]) == 2)
        assert listen.finish() == 130
    assert len(rx.received) == 2
    hints = [line for line in listen.err if "raw request bytes" in line]
    assert hints == [
        f"Hint: the receiver answered {status}. If it checks X-Signature, verify the raw request bytes, before "
        "any JSON parsing (re-serialised JSON never matches); `cstar webhooks verify --help` checks one delivery by hand."
    ]


def test_no_hint_for_other_failures(emu: Any) -> None:
    with Receiver(secret_for(emu), status=500) as rx:
        listen = Listen(emu, "--forward-to", rx.url, "--retry-for", "0.1s")
        listen.ready()
        burst(emu, 1)
        listen.wait(listen.out, lambda s: "gave up" in s)
        assert listen.finish() == 130
    assert rx.received and not any("raw request bytes" in line for line in listen.err)


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--retry-for", "5 minutes"),
        ("--retry-for", "-1s"),
        ("--retry-for", "0"),
        ("--max-wait", "inf"),
        ("--max-wait", "1e3"),
        ("--exit-after", "0"),
        ("--exit-after", "two"),
    ],
)
def test_bad_ci_flags_exit_2_before_any_request(emu: Any, flag: str, value: str) -> None:
    listen = Listen(emu, "--forward-to", "3000", flag, value)
    assert listen.finish(sig=None) == 2
    assert listen.err and ("Error:" in listen.err[0] or "Usage:" in "\n".join(listen.err))
