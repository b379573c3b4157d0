"""``cstar keys list | create | revoke`` against the emulator (one shared instance: every test makes
its own keys)."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.support.cli import cstar, cstar_env

CLOSED_PORT_URL = "http://127.0.0.1:9"
LIST_FIELDS = {"id", "name", "type", "mode", "redacted", "createdAt", "lastUsedAt", "revokedAt"}
FULL_KEY_RE = re.compile(r"\b(sk|pk)_(test|live)_[A-Za-z0-9]{24,}\b")


@pytest.fixture
def emu(emulator_session: Any) -> Any:
    return emulator_session


def env_for(emu: Any, key: str = "sk_test") -> dict[str, str]:
    return {"CSTAR_BASE_URL": emu.base_url, "CSTAR_API_KEY": emu.keys[key]}


def create(emu: Any, *args: str, key: str = "sk_test") -> dict[str, Any]:
    r = cstar("keys", "create", "--json", *args, env=env_for(emu, key))
    assert r.code == 0, r.stderr
    return json.loads(r.stdout)


def run_on_terminal(args: list[str], answer: str, env: dict[str, str], timeout: float = 20) -> tuple[int, str]:
    """Run ``cstar ARGS`` with stdin/stdout/stderr on a pseudo-terminal, answer its y/N question,
    and return ``(exit code, everything it wrote)``."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cstar_cli", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=cstar_env(env),
        close_fds=True,
    )
    os.close(slave)
    buf = b""
    answered = False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                buf += chunk
            if not answered and b"[y/N]" in buf:
                os.write(master, answer.encode() + b"\n")
                answered = True
            if proc.poll() is not None and not ready:
                break
        return proc.wait(timeout=10), buf.decode(errors="replace").replace("\r\n", "\n")
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()


# list ------------------------------------------------------------------------------------------


def test_list_shows_redacted_keys_only(emu: Any) -> None:
    r = cstar("keys", "list", "--json", env=env_for(emu))
    assert r.code == 0, r.stderr
    keys = json.loads(r.stdout)
    assert keys and all(set(k) == LIST_FIELDS for k in keys)
    assert all(k["id"].startswith("key_") and "…" in k["redacted"] for k in keys)
    assert {k["mode"] for k in keys} <= {"test", "live"}
    for full in emu.keys.values():
        assert full not in r.output
    assert not FULL_KEY_RE.search(r.output)

    piped = cstar("keys", "list", env=env_for(emu))
    assert piped.code == 0 and not FULL_KEY_RE.search(piped.output)
    rows = [line.split("\t") for line in piped.stdout.splitlines()]
    assert len(rows) == len(keys) and all(len(row) == 8 for row in rows)
    assert [row[0] for row in rows] == [k["id"] for k in keys]


def test_list_needs_a_secret_key(emu: Any) -> None:
    r = cstar("keys", "list", env=env_for(emu, "pk_test"))
    assert r.code == 4 and "Hint:" in r.stderr


# create ----------------------------------------------------------------------------------------


def test_create_prints_the_key_once_on_stdout(emu: Any) -> None:
    r = cstar("keys", "create", "--name", "CI deploys", env=env_for(emu))
    assert r.code == 0, r.stderr
    key = r.stdout.strip()
    assert r.stdout == key + "\n" and re.fullmatch(r"sk_test_[A-Za-z0-9]{24,}", key)
    assert "only time the full key is shown" in r.stderr and key not in r.stderr

    listed = json.loads(cstar("keys", "list", "--json", env=env_for(emu)).stdout)
    mine = [k for k in listed if k["name"] == "CI deploys"]
    assert len(mine) == 1 and mine[0]["redacted"].endswith(key[-4:]) and mine[0]["type"] == "secret"
    assert mine == listed[:1]  # newest first
    assert key not in json.dumps(listed)

    # The new key works.
    status = cstar("status", "--json", env={"CSTAR_BASE_URL": emu.base_url, "CSTAR_API_KEY": key})
    assert status.code == 0 and json.loads(status.stdout)["keyId"] == mine[0]["id"]


def test_create_json_includes_the_key_and_options(emu: Any) -> None:
    created = create(emu, "--name", "widget", "--type", "publishable", "--mode", "live")
    assert set(created) == LIST_FIELDS | {"key"}
    assert created["type"] == "publishable" and created["mode"] == "live"
    assert created["key"].startswith("pk_live_") and created["redacted"].endswith(created["key"][-4:])
    assert created["revokedAt"] is None


def test_create_defaults_to_a_secret_key_in_the_calling_mode(emu: Any) -> None:
    created = create(emu, "--name", "live one", key="sk_live")
    assert created["type"] == "secret" and created["mode"] == "live" and created["key"].startswith("sk_live_")


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_create_validates_the_name_before_any_request(name: str) -> None:
    r = cstar(
        "keys",
        "create",
        "--name",
        name,
        env={"CSTAR_BASE_URL": CLOSED_PORT_URL, "CSTAR_API_KEY": "sk_test_" + "a" * 32},
    )
    assert r.code == 2 and "1 to 100 characters" in r.stderr and r.stdout == ""


def test_create_rejects_an_unknown_type() -> None:
    r = cstar("keys", "create", "--name", "x", "--type", "admin", "--json")
    assert r.code == 2 and r.stdout == ""
    assert json.loads(r.stderr)["error"]["type"] == "usage_error"


def test_create_with_a_publishable_key_is_refused(emu: Any) -> None:
    r = cstar("keys", "create", "--name", "nope", "--json", env=env_for(emu, "pk_test"))
    assert r.code == 4 and r.stdout == ""
    assert json.loads(r.stderr)["error"]["type"] == "permission_error"


def test_keys_without_subcommand_shows_help() -> None:
    r = cstar("keys")
    assert r.code == 0 and all(word in r.output for word in ("list", "create", "revoke"))


# revoke ----------------------------------------------------------------------------------------


def test_revoke_with_yes_revokes_at_once(emu: Any) -> None:
    created = create(emu, "--name", "to revoke")
    r = cstar("keys", "revoke", created["id"], "--yes", "--json", env=env_for(emu))
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout) == {"id": created["id"], "revoked": True, "inUse": False}

    gone = cstar("status", "--json", env={"CSTAR_BASE_URL": emu.base_url, "CSTAR_API_KEY": created["key"]})
    assert gone.code == 3
    assert json.loads(gone.stderr.splitlines()[-1])["error"]["code"] == "key_revoked"
    listed = json.loads(cstar("keys", "list", "--json", env=env_for(emu)).stdout)
    assert next(k for k in listed if k["id"] == created["id"])["revokedAt"]


def test_revoking_twice_is_not_an_error(emu: Any) -> None:
    created = create(emu, "--name", "twice")
    first = cstar("keys", "revoke", created["id"], "--yes", "--json", env=env_for(emu))
    second = cstar("keys", "revoke", created["id"], "--yes", "--json", env=env_for(emu))
    assert first.code == second.code == 0
    assert json.loads(second.stdout)["revoked"] is True


def test_revoke_without_terminal_or_yes_refuses(emu: Any) -> None:
    created = create(emu, "--name", "kept")
    r = cstar("keys", "revoke", created["id"], env=env_for(emu))
    assert r.code == 2 and "--yes" in r.stderr and r.stdout == ""
    ok = cstar("status", env={"CSTAR_BASE_URL": emu.base_url, "CSTAR_API_KEY": created["key"]})
    assert ok.code == 0


def test_revoking_the_key_in_use_says_so_first(emu: Any) -> None:
    created = create(emu, "--name", "self")
    env = {"CSTAR_BASE_URL": emu.base_url, "CSTAR_API_KEY": created["key"]}
    r = cstar("keys", "revoke", created["id"], "--yes", "--json", env=env)
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout)["inUse"] is True
    assert "is the key this command is using" in r.stderr
    assert cstar("keys", "list", env=env).code == 3


@pytest.mark.parametrize("bad", ["abc", "sk_test_" + "a" * 32, "key_", "key_has space"])
def test_revoke_checks_the_id_format_before_any_request(bad: str) -> None:
    r = cstar(
        "keys", "revoke", bad, "--yes", env={"CSTAR_BASE_URL": CLOSED_PORT_URL, "CSTAR_API_KEY": "sk_test_" + "a" * 32}
    )
    assert r.code == 2 and "key_" in r.stderr
    assert "a" * 32 not in r.output  # a pasted key is not echoed back


def test_revoke_unknown_id_is_not_found(emu: Any) -> None:
    r = cstar("keys", "revoke", "key_000000000000000000000000", "--yes", "--json", env=env_for(emu))
    assert r.code == 5 and r.stdout == ""
    err = json.loads(r.stderr)["error"]
    assert err["type"] == "not_found_error" and err["requestId"].startswith("req_")


def test_revoke_asks_on_a_terminal(emu: Any) -> None:
    created = create(emu, "--name", "asked")
    env = env_for(emu)
    code, text = run_on_terminal(["keys", "revoke", created["id"]], "n", env)
    question = f"Revoke {created['id']} (asked, {created['redacted']})? This cannot be undone."
    assert code == 1 and question in text and "Not revoked" in text
    assert created["key"] not in text
    assert cstar("status", env={"CSTAR_BASE_URL": emu.base_url, "CSTAR_API_KEY": created["key"]}).code == 0

    code, text = run_on_terminal(["keys", "revoke", created["id"]], "y", env)
    assert code == 0 and f"Revoked {created['id']}." in text
    assert cstar("status", env={"CSTAR_BASE_URL": emu.base_url, "CSTAR_API_KEY": created["key"]}).code == 3


def test_revoke_confirmation_names_the_key_in_use(emu: Any) -> None:
    created = create(emu, "--name", "self, asked")
    env = {"CSTAR_BASE_URL": emu.base_url, "CSTAR_API_KEY": created["key"]}
    code, text = run_on_terminal(["keys", "revoke", created["id"]], "n", env)
    assert code == 1
    assert "is the key this command is using" in text and "Revoke the key in use" in text


def test_revoke_on_a_terminal_refuses_an_unknown_id_before_asking(emu: Any) -> None:
    code, text = run_on_terminal(["keys", "revoke", "key_000000000000000000000000"], "y", env_for(emu))
    assert code == 5 and "[y/N]" not in text and "key_000000000000000000000000" in text
    assert "cstar keys list" in text and "Traceback" not in text


def test_revoke_on_a_terminal_does_not_ask_about_a_revoked_key(emu: Any) -> None:
    created = create(emu, "--name", "already gone")
    assert cstar("keys", "revoke", created["id"], "--yes", env=env_for(emu)).code == 0
    code, text = run_on_terminal(["keys", "revoke", created["id"]], "n", env_for(emu))
    assert code == 0 and "[y/N]" not in text and "already revoked" in text


def test_revoke_question_escapes_control_characters_in_the_name(emu: Any) -> None:
    created = create(emu, "--name", "evil\x1b[2Jname")
    code, text = run_on_terminal(["keys", "revoke", created["id"]], "n", env_for(emu))
    assert code == 1 and "evil\\x1b[2Jname" in text and "\x1b[2J" not in text
