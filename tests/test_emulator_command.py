"""``cstar emulator start`` as a process: ready line, human output, signals, port clash, persistence,
rate limits and the fail-next control."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.cli import ROOT, close_pipes, cstar_env, cstar_subprocess
from tests.support.emulator import EmulatorProcess, LocalEmulator, start_emulator

pytestmark = pytest.mark.e2e


def test_ready_line(emulator_process: EmulatorProcess) -> None:
    ready = emulator_process.ready
    assert set(ready) == {"baseUrl", "teamId", "keys", "db"}
    assert ready["baseUrl"] == f"http://127.0.0.1:{emulator_process.port}"
    assert set(ready["keys"]) == {"sk_test", "sk_live", "pk_test", "pk_live"}
    assert Path(ready["db"]) == emulator_process.db.resolve()
    health = httpx.get(emulator_process.url("/_emulator/health"), trust_env=False)
    assert health.status_code == 200 and health.json()["data"]["teamId"] == ready["teamId"]


def test_human_summary_and_clean_exit_on_ctrl_c(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "cstar_cli", "emulator", "start", "--port", "0", "--db", str(tmp_path / "e.db")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=cstar_env(),
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if "cstar login --api-key" in line:
                break
        text = "\n".join(lines)
        assert "listening on http://127.0.0.1:" in text
        assert "export CSTAR_BASE_URL=http://127.0.0.1:" in text
        for kind in ("sk_test", "sk_live", "pk_test", "pk_live"):
            assert f"{kind}: {kind}_" in text
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert "Traceback" not in err and "Press Ctrl-C to stop." in err


def test_sigterm_exits_zero_and_restart_keeps_team_and_keys(emulator_process: EmulatorProcess) -> None:
    emulator = emulator_process
    team, keys, port = emulator.team_id, dict(emulator.keys), emulator.port
    with emulator.client() as api:
        ticket = api.post("/tickets", json={"title": "persisted"}).json()["data"]
    assert emulator.stop() == 0
    assert "Traceback" not in emulator.stderr_text()
    emulator.restart()
    assert (emulator.team_id, emulator.keys, emulator.port) == (team, keys, port)
    with emulator.client() as api:
        assert api.get(f"/tickets/{ticket['id']}").json()["data"]["title"] == "persisted"
        # A revoked seeded key is replaced by a fresh one on the next start.
        me = api.get(emulator.url("/api/v1/me")).json()["data"]
        api.delete(f"/api-keys/{me['keyId']}")
    emulator.restart()
    assert emulator.keys["sk_test"] != keys["sk_test"] and emulator.keys["sk_live"] == keys["sk_live"]
    with emulator.client() as api:
        assert api.get("/tickets").status_code == 200


def test_port_in_use_exits_9(emulator_session: LocalEmulator, tmp_path: Path) -> None:
    result = cstar_subprocess("emulator", "start", "--port", str(emulator_session.port), "--db", str(tmp_path / "x.db"))
    assert result.code == 9
    assert result.stdout == ""
    assert f"port {emulator_session.port}" in result.stderr and "already in use" in result.stderr
    assert "Traceback" not in result.stderr


def test_same_database_cannot_be_served_twice(emulator_session: LocalEmulator) -> None:
    result = cstar_subprocess("emulator", "start", "--port", "0", "--db", str(emulator_session.db))
    assert result.code == 2 and "in use by another emulator" in result.stderr


def test_default_database_lives_in_the_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    args = [sys.executable, "-m", "cstar_cli", "emulator", "start", "--json", "--port", "0"]
    popen = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=cstar_env({"CSTAR_DATA_DIR": str(data_dir)}),
        cwd=ROOT,
    )
    try:
        assert popen.stdout is not None
        ready = json.loads(popen.stdout.readline())
        assert ready["db"] == str((data_dir / "emulator.db").resolve())
    finally:
        popen.send_signal(signal.SIGTERM)
        assert popen.wait(10) == 0
        close_pipes(popen)


def test_rate_limit(tmp_path: Path) -> None:
    with start_emulator(tmp_path / "e.db", extra_args=("--rate-limit", "2")) as emu, emu.client() as api:
        first = api.get("/tickets")
        assert first.headers["x-ratelimit-limit"] == "2" and first.headers["x-ratelimit-remaining"] == "1"
        assert first.headers["x-ratelimit-window"] == "3600" and int(first.headers["x-ratelimit-reset"]) > 0
        assert api.get("/tickets").headers["x-ratelimit-remaining"] == "0"
        limited = api.get("/tickets")
        assert limited.status_code == 429
        assert limited.json()["error"]["code"] == "rate_limit_exceeded"
        assert 0 < int(limited.headers["retry-after"]) <= 3600
        assert limited.headers["x-ratelimit-remaining"] == "0"
        with emu.client("sk_live") as live:
            assert live.get("/tickets").status_code == 200, "limits are per key"


def test_fail_next(emulator: LocalEmulator) -> None:
    with httpx.Client(base_url=emulator.url("/_emulator"), trust_env=False) as controls:
        tickets = f"/api/v1/teams/{emulator.team_id}/tickets"
        armed = controls.post("/fail-next", json={"count": 2, "status": 503, "path": tickets})
        assert armed.json()["data"]["armed"] == {"count": 2, "status": 503, "path": tickets, "method": None}
        with emulator.client() as api:
            assert api.get("/customers").status_code == 200, "other paths are not affected"
            failed = [api.get("/tickets"), api.post("/tickets", json={"title": "x"})]
            assert [r.status_code for r in failed] == [503, 503]
            err = failed[0].json()["error"]
            assert err["type"] == "server_error" and failed[0].headers["x-cstar-request-id"].startswith("req_")
            assert api.get("/tickets").status_code == 200

            controls.post("/fail-next", json={"status": 429})
            limited = api.get("/articles")
            assert limited.status_code == 429 and limited.headers["retry-after"] == "1"

            # An injected 500 is not stored for idempotency: the retry performs the write.
            controls.post("/fail-next", json={"status": 500, "method": "POST"})
            key = {"Idempotency-Key": "retry-me"}
            assert api.post("/tickets", json={"title": "retried"}, headers=key).status_code == 500
            retried = api.post("/tickets", json={"title": "retried"}, headers=key)
            assert retried.status_code == 201 and "idempotent-replayed" not in retried.headers

        assert controls.post("/fail-next", json={"status": 200}).json()["error"]["field"] == "status"
