"""Each class of failure ends with its documented exit code (cstar_cli.errors.EXIT_CODES), without a
traceback and without printing a full key, in human and ``--json`` form."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from cstar_cli.errors import EXIT_CODES
from tests.support.cli import Run, cstar
from tests.support.emulator import EmulatorThread, start_emulator_thread
from tests.test_logs import TailProcess

FULL_KEY_RE = re.compile(r"\b(sk|pk)_(test|live)_[A-Za-z0-9]{24,}\b")
CLOSED_PORT_URL = "http://127.0.0.1:9"


def env_for(emu: Any, key: str = "sk_test") -> dict[str, str]:
    return {"CSTAR_BASE_URL": emu.base_url, "CSTAR_API_KEY": emu.keys[key]}


def fail_next(emu: Any, status: int, count: int = 1, path: str | None = None, method: str | None = None) -> None:
    body = {"count": count, "status": status, "path": path, "method": method}
    r = httpx.post(f"{emu.base_url}/_emulator/fail-next", json=body, timeout=10)
    assert r.status_code == 200, r.text


def check(r: Run, code: int, error_type: str | None = None, *, json_mode: bool = False) -> dict[str, Any] | None:
    """The run ended with ``code``, no traceback, no full key; with ``--json`` the last stderr line is
    the error document (returned), and stdout holds no error text."""
    assert r.code == code, (r.code, r.stdout, r.stderr)
    assert "Traceback" not in r.output
    assert not FULL_KEY_RE.search(r.output), r.output
    if not json_mode:
        assert "Error:" in r.stderr and "Hint:" in r.stderr
        return None
    err = json.loads(r.stderr.strip().splitlines()[-1])["error"]
    assert set(err) == {"type", "code", "message", "requestId", "docUrl", "hint"}
    if error_type:
        assert err["type"] == error_type
    return err


def test_the_table_is_the_documented_one() -> None:
    assert {k: v.split(" ")[0] for k, v in EXIT_CODES.items()} == {
        0: "success",
        1: "unexpected",
        2: "usage",
        3: "authentication:",
        4: "permission:",
        5: "not",
        6: "conflict",
        7: "rate",
        8: "server",
        9: "network:",
        10: "feature",
        11: "output",
        12: "delivery",
        13: "time",
        14: "webhook",
        130: "interrupted",
    }


def test_help_lists_the_exit_codes() -> None:
    r = cstar("--help")
    assert r.code == 0 and "Exit codes:" in r.stdout and "130 interrupted" in r.stdout


# 2 usage ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["logs", "--method", "FETCH"],
        ["keys", "revoke", "nope", "--yes"],
        ["keys", "create", "--name", ""],
        ["trigger", "ticket.nope"],
        ["events", "--bogus"],
        ["nosuchcommand"],
        ["keys", "create"],  # missing --name
    ],
)
@pytest.mark.parametrize("json_mode", [False, True])
def test_usage_errors_exit_2(args: list[str], json_mode: bool) -> None:
    r = cstar(*args, *(["--json"] if json_mode else []), env={"CSTAR_BASE_URL": CLOSED_PORT_URL})
    err = check(r, 2, json_mode=json_mode)
    assert r.stdout == ""
    if err:
        assert err["type"] == "usage_error" and err["hint"]


# 3 auth ----------------------------------------------------------------------------------------


def test_no_key_exits_3() -> None:
    for args in (["status"], ["keys", "list"], ["logs"], ["trigger", "ticket.created"]):
        err = check(cstar(*args, "--json"), 3, "authentication_error", json_mode=True)
        assert err and err["code"] == "not_logged_in" and "cstar login" in err["hint"]


def test_bad_key_exits_3(emulator_session: Any) -> None:
    env = {"CSTAR_BASE_URL": emulator_session.base_url, "CSTAR_API_KEY": "sk_test_" + "Z" * 32}
    err = check(cstar("keys", "list", "--json", env=env), 3, "authentication_error", json_mode=True)
    assert err and err["requestId"].startswith("req_")
    check(cstar("keys", "list", env=env), 3)


def test_revoked_key_exits_3(emulator_session: Any) -> None:
    created = json.loads(cstar("keys", "create", "--name", "rev", "--json", env=env_for(emulator_session)).stdout)
    assert cstar("keys", "revoke", created["id"], "--yes", env=env_for(emulator_session)).code == 0
    env = {"CSTAR_BASE_URL": emulator_session.base_url, "CSTAR_API_KEY": created["key"]}
    for args in (["status"], ["keys", "list"], ["logs"], ["trigger", "ticket.created"]):
        err = check(cstar(*args, "--json", env=env), 3, "authentication_error", json_mode=True)
        assert err and err["code"] == "key_revoked" and "revoked" in err["hint"]


# 4 permission ----------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [["keys", "create", "--name", "x"], ["trigger", "ticket.created"]])
def test_publishable_key_on_a_write_exits_4(emulator_session: Any, args: list[str]) -> None:
    env = env_for(emulator_session, "pk_test")
    check(cstar(*args, env=env), 4)
    err = check(cstar(*args, "--json", env=env), 4, "permission_error", json_mode=True)
    assert err and err["requestId"]


# 5 not found -----------------------------------------------------------------------------------


def test_revoking_an_unknown_key_exits_5(emulator_session: Any) -> None:
    env = env_for(emulator_session)
    check(cstar("keys", "revoke", "key_ffffffffffffffffffffffff", "--yes", env=env), 5)
    check(
        cstar("keys", "revoke", "key_ffffffffffffffffffffffff", "--yes", "--json", env=env),
        5,
        "not_found_error",
        json_mode=True,
    )


# 6 conflict, 7 rate limit, 8 server: injected faults, on an emulator of their own. Each test uses up
# every fault it arms, so they can share it.


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorThread]:
    with start_emulator_thread(tmp_path_factory.mktemp("faults") / "emulator.db") as emu:
        yield emu


@pytest.mark.e2e
def test_conflict_exits_6(faulty: EmulatorThread) -> None:
    fail_next(faulty, 409, path="/api/v1/teams/", method="POST")
    err = check(cstar("trigger", "ticket.created", "--json", env=env_for(faulty)), 6, "conflict_error", json_mode=True)
    assert err and err["requestId"].startswith("req_")


@pytest.mark.e2e
def test_rate_limit_exits_7_after_the_retries(faulty: EmulatorThread) -> None:
    # The client retries a 429 twice when Retry-After is short (1 s here): three in a row end it.
    fail_next(faulty, 429, count=3)
    err = check(cstar("keys", "list", "--json", env=env_for(faulty)), 7, "rate_limit_error", json_mode=True)
    assert err and err["code"] == "rate_limit_exceeded"
    fail_next(faulty, 429, count=3)
    check(cstar("status", env=env_for(faulty)), 7)  # status retries like the others: three in a row end it


@pytest.mark.e2e
def test_rate_limit_is_retried_when_it_passes(faulty: EmulatorThread) -> None:
    fail_next(faulty, 429, count=1)
    assert cstar("keys", "list", "--json", env=env_for(faulty)).code == 0


@pytest.mark.e2e
def test_server_error_exits_8_after_the_retries(faulty: EmulatorThread) -> None:
    fail_next(faulty, 500, count=3)
    check(cstar("keys", "list", "--json", env=env_for(faulty)), 8, "server_error", json_mode=True)
    fail_next(faulty, 500, count=3)
    check(cstar("keys", "list", env=env_for(faulty)), 8)


# 9 network -------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [["status"], ["keys", "list"], ["logs"], ["trigger", "ticket.created"]])
def test_unreachable_api_exits_9(args: list[str]) -> None:
    env = {"CSTAR_BASE_URL": CLOSED_PORT_URL, "CSTAR_API_KEY": "sk_test_" + "a" * 32}
    err = check(cstar(*args, "--json", env=env), 9, "connection_error", json_mode=True)
    assert err and "127.0.0.1:9" in err["message"]


def test_unreachable_api_for_a_tail_exits_9() -> None:
    r = cstar("logs", "--tail", env={"CSTAR_BASE_URL": CLOSED_PORT_URL, "CSTAR_API_KEY": "sk_test_" + "a" * 32})
    check(r, 9)


# 130 interrupted -------------------------------------------------------------------------------


def test_ctrl_c_exits_130(emulator_session: Any) -> None:
    tail = TailProcess(env=env_for(emulator_session))
    try:
        tail.wait_stderr("Tailing")
        assert tail.interrupt() == 130
        assert "Traceback" not in tail.stderr and "Interrupted" in tail.stderr
    finally:
        tail.close()
