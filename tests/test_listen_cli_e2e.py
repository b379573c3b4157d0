"""``cstar listen`` as a subprocess on the emulator: credentials in ``--forward-to`` (sent as Basic
auth, never shown), the event a Ctrl-C leaves unacknowledged, and sessions deleted on exit."""

from __future__ import annotations

import base64
import json
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from cstar_cli.receiver import Receiver
from tests.support.cli import cstar_subprocess
from tests.support.emulator import LocalEmulator, start_emulator_thread
from tests.test_listen import Listen, burst, secret_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEmulator]:
    proc = start_emulator_thread(tmp_path_factory.mktemp("listen-cli-emulator") / "emulator.db")
    yield proc
    proc.stop()


def session_count(emu: LocalEmulator) -> int:
    """How many live listen sessions the test key's team and mode has (``GET /cli/sessions``)."""
    with emu.client() as api:
        r = api.get("/cli/sessions")
    assert r.status_code == 200, r.text
    return len(r.json()["data"])


# --- user:password@ in --forward-to -------------------------------------------------------------


@pytest.mark.parametrize("json_mode", [False, True])
def test_forward_to_credentials_are_sent_as_basic_auth_and_never_shown(emu: LocalEmulator, json_mode: bool) -> None:
    with Receiver(secret_for(emu), path="/hooks") as rx:
        url = f"http://ops:s3cr%40t-pw@127.0.0.1:{rx.port}/hooks"
        shown = f"http://ops:***@127.0.0.1:{rx.port}/hooks"
        listen = Listen(emu, "--forward-to", url, *(["--format", "json"] if json_mode else []))
        listen.ready()
        listen.wait(listen.err, lambda s: s.startswith("Forwarding"))
        evt = burst(emu, 1)["firstEventId"]
        listen.wait(listen.out, lambda s: evt in s and ("delivery" in s if json_mode else s.startswith("<--")))
        assert listen.finish() == 130
    (delivery,) = rx.received
    assert delivery.verified and delivery.status == 200
    # Percent-decoded before encoding, as curl does.
    assert delivery.header("Authorization") == "Basic " + base64.b64encode(b"ops:s3cr@t-pw").decode()
    assert delivery.header("Host") == f"127.0.0.1:{rx.port}"
    text = "\n".join(listen.out + listen.err)
    assert "s3cr" not in text
    assert f"Forwarding all events to {shown}" in listen.err
    if json_mode:
        assert listen.json_lines()[0]["delivery"]["url"] == shown
    else:
        assert any(line.startswith(f"<-- [200] POST {shown} [{evt}]") for line in listen.out)


def test_a_header_given_with_h_wins_over_the_urls_credentials(emu: LocalEmulator) -> None:
    with Receiver(secret_for(emu)) as rx:
        listen = Listen(emu, "--forward-to", f"http://u:p@127.0.0.1:{rx.port}/", "-H", "Authorization: Bearer dev")
        listen.ready()
        evt = burst(emu, 1)["firstEventId"]
        listen.wait(listen.out, lambda s: evt in s and s.startswith("<--"))
        assert listen.finish() == 130
    assert [d.header("Authorization") for d in rx.received] == ["Bearer dev"]
    assert rx.received[0].header_count("Authorization") == 1


def test_a_bad_forward_to_with_credentials_does_not_echo_the_password(emu: LocalEmulator) -> None:
    env = {"CSTAR_API_KEY": emu.keys["sk_test"], "CSTAR_BASE_URL": emu.base_url}
    for value in ("http://ops:hunter2@localhost:99999/", "ftp://ops:hunter2@localhost/", "http://ops:hunter2@[::1/"):
        r = cstar_subprocess("listen", "--forward-to", value, env=env)
        assert r.code == 2, r.stderr
        assert "hunter2" not in r.stdout + r.stderr
        assert "ops:***@" in r.stderr and "Traceback" not in r.stderr


# --- Ctrl-C during a delivery ------------------------------------------------------------------------


def test_ctrl_c_during_a_delivery_names_the_unacknowledged_event(emu: LocalEmulator) -> None:
    stall = socket.socket()  # accepts connections, never answers
    stall.bind(("127.0.0.1", 0))
    stall.listen()
    try:
        listen = Listen(emu, "--forward-to", str(stall.getsockname()[1]))
        listen.ready()
        evt = burst(emu, 1)["firstEventId"]
        listen.wait(listen.out, lambda s: s == f"--> ticket.created [{evt}]")
        assert listen.finish(signal.SIGINT) == 130
    finally:
        stall.close()
    assert listen.err[-2] == (
        f"Stopped while {evt} was being delivered: it is not acknowledged, so the next `cstar listen` "
        "on this device and profile delivers it again."
    )
    assert listen.err[-1] == "Stopped: 0 forwarded, 0 failed."


def test_a_stop_with_nothing_in_flight_says_nothing_about_it(emu: LocalEmulator) -> None:
    with Receiver(secret_for(emu)) as rx:
        listen = Listen(emu, "--forward-to", rx.url)
        listen.ready()
        evt = burst(emu, 1)["firstEventId"]
        listen.wait(listen.out, lambda s: evt in s and s.startswith("<-- [200]"))
        assert listen.finish(signal.SIGINT) == 130
    assert not any("being delivered" in line for line in listen.err)


# --- sessions do not pile up ----------------------------------------------------------------------


def test_print_secret_and_listen_leave_no_session_behind(tmp_path: Path) -> None:
    emu = start_emulator_thread(tmp_path / "emulator.db")
    try:
        env = {"CSTAR_API_KEY": emu.keys["sk_test"], "CSTAR_BASE_URL": emu.base_url}
        before = session_count(emu)
        secrets = {cstar_subprocess("listen", "--print-secret", env=env).stdout.strip() for _ in range(3)}
        assert len(secrets) == 1
        r = cstar_subprocess("listen", "--print-secret", "--json", env=env)
        assert r.code == 0 and json.loads(r.stdout) == {"secret": secrets.pop()}
        assert session_count(emu) == before
        for sig, code in ((signal.SIGINT, 130), (signal.SIGTERM, 0)):
            listen = Listen(emu)
            listen.ready()
            assert session_count(emu) == before + 1
            assert listen.finish(sig) == code
            assert session_count(emu) == before
    finally:
        emu.stop()
