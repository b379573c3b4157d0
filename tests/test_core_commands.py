"""login, logout, status, events and trigger end to end against the emulator (one shared instance;
logins are per test, in the test's own config dir)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli import cstar

CLOSED_PORT_URL = "http://127.0.0.1:9"


@pytest.fixture
def emu(emulator_session: Any) -> Any:
    return emulator_session


def env_for(emu: Any, key: str = "sk_test") -> dict[str, str]:
    return {"CSTAR_BASE_URL": emu.base_url, "CSTAR_API_KEY": emu.keys[key]}


def login(emu: Any, key: str = "sk_test", *extra: str) -> dict[str, Any]:
    r = cstar("login", "--api-key", emu.keys[key], "--base-url", emu.base_url, "--json", *extra)
    assert r.code == 0, r.stderr
    return json.loads(r.stdout)


def config_dir() -> Path:
    return Path(os.environ["CSTAR_CONFIG_DIR"])


# login -----------------------------------------------------------------------------------------


def test_login_validates_stores_and_status_uses_the_stored_key(emu: Any) -> None:
    data = login(emu)
    assert data == {
        "profile": "default",
        "team": {"id": emu.team_id, "name": data["team"]["name"]},
        "mode": "test",
        "keyType": "secret",
        "key": data["key"],
        "storage": "file",
        "baseUrl": emu.base_url,
    }
    assert data["key"].startswith("sk_test_…") and data["key"].endswith(emu.keys["sk_test"][-4:])
    config = (config_dir() / "config.toml").read_text()
    assert emu.team_id in config and emu.keys["sk_test"] not in config

    r = cstar("status", "--json")  # no flags, no env: the profile's key and base URL
    assert r.code == 0, r.stderr
    status = json.loads(r.stdout)
    assert status["team"]["id"] == emu.team_id and status["keySource"] == "file"
    assert status["baseUrl"] == emu.base_url and status["baseUrlSource"] == "profile"
    assert status["api"]["reachable"] is True and status["api"]["requestId"].startswith("req_")
    # The test emulator runs without a rate limit, so the limit values themselves may be null.
    assert set(status["rateLimit"]) == {"limit", "remaining", "reset", "window"}
    assert status["keyId"].startswith("key_")


def test_login_human_output(emu: Any) -> None:
    r = cstar("login", "--api-key", emu.keys["sk_live"], "--base-url", emu.base_url)
    assert r.code == 0, r.stderr
    assert "Logged in to" in r.stdout and emu.team_id in r.stdout and "live" in r.stdout
    assert emu.keys["sk_live"] not in r.output


def test_login_reads_the_key_from_stdin(emu: Any) -> None:
    r = cstar(
        "login",
        "--api-key",
        "-",
        "--json",
        input=emu.keys["pk_test"] + "\n",
        env={"CSTAR_BASE_URL": emu.base_url},
    )
    assert r.code == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["keyType"] == "publishable" and data["mode"] == "test"


def test_login_refuses_a_malformed_key_offline() -> None:
    r = cstar("login", "--api-key", "not-a-key", "--base-url", CLOSED_PORT_URL)
    assert r.code == 2 and "does not look like a cStar API key" in r.stderr


def test_login_with_an_unknown_key_stores_nothing(emu: Any) -> None:
    r = cstar("login", "--api-key", "sk_test_" + "Q" * 32, "--base-url", emu.base_url)
    assert r.code == 3
    assert not (config_dir() / "config.toml").exists()
    assert cstar("status").code == 3


def test_login_without_a_key_or_terminal_is_a_usage_error() -> None:
    r = cstar("login")
    assert r.code == 2 and "--api-key" in r.stderr


def test_profiles_are_separate(emu: Any) -> None:
    login(emu, "sk_test")
    login(emu, "sk_live", "--profile", "prod")
    assert json.loads(cstar("status", "--json").stdout)["mode"] == "test"
    assert json.loads(cstar("status", "--json", "--profile", "prod").stdout)["mode"] == "live"
    assert json.loads(cstar("--profile", "prod", "status", "--json").stdout)["profile"] == "prod"


def test_env_key_overrides_the_stored_one_and_says_so_on_stderr(emu: Any) -> None:
    login(emu, "sk_test")
    r = cstar("status", "--json", env={"CSTAR_API_KEY": emu.keys["sk_live"]})
    assert r.code == 0
    assert json.loads(r.stdout)["mode"] == "live" and json.loads(r.stdout)["keySource"] == "env"
    assert "overrides the key stored" in r.stderr


# logout ----------------------------------------------------------------------------------------


def test_logout_forgets_the_key(emu: Any) -> None:
    login(emu)
    r = cstar("logout", "--json")
    assert r.code == 0 and json.loads(r.stdout) == {"loggedOut": ["default"]}
    assert cstar("status").code == 3
    again = cstar("logout")
    assert again.code == 0 and "Not logged in" in again.stderr and again.stdout == ""


def test_logout_all(emu: Any) -> None:
    login(emu, "sk_test")
    login(emu, "sk_live", "--profile", "prod")
    r = cstar("logout", "--all", "--json")
    assert r.code == 0 and sorted(json.loads(r.stdout)["loggedOut"]) == ["default", "prod"]
    assert cstar("status", "--profile", "prod").code == 3


# status ----------------------------------------------------------------------------------------


def test_status_human(emu: Any) -> None:
    r = cstar("status", env=env_for(emu))
    assert r.code == 0, r.stderr
    for label in ("Team:", "Mode:", "Key:", "Base URL:", "API:", "Rate limit:", "CLI:"):
        assert label in r.stdout
    assert "reachable" in r.stdout and "CSTAR_API_KEY" in r.stdout
    assert emu.keys["sk_test"] not in r.output


def test_status_with_the_api_down_prints_the_local_part_then_exits_9() -> None:
    r = cstar("status", "--json", env={"CSTAR_BASE_URL": CLOSED_PORT_URL, "CSTAR_API_KEY": "sk_test_" + "a" * 32})
    assert r.code == 9
    data = json.loads(r.stdout)
    assert data["api"]["reachable"] is False and data["team"] is None and data["mode"] == "test"
    assert json.loads(r.stderr.splitlines()[-1])["error"]["type"] == "connection_error"


def test_status_not_logged_in() -> None:
    r = cstar("status", "--json")
    assert r.code == 3 and r.stdout == ""
    assert json.loads(r.stderr)["error"]["code"] == "not_logged_in"


# events ----------------------------------------------------------------------------------------


def test_events_work_offline() -> None:
    r = cstar("events", "--category", "tickets", "--json", env={"CSTAR_BASE_URL": CLOSED_PORT_URL})
    assert r.code == 0
    types = json.loads(r.stdout)
    assert all(t["category"] == "tickets" for t in types) and "ticket.created" in {t["type"] for t in types}


# trigger ---------------------------------------------------------------------------------------


def test_trigger_fires_a_test_event(emu: Any) -> None:
    r = cstar("trigger", "ticket.created", "--json", env=env_for(emu))
    assert r.code == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["event"] == "ticket.created" and data["eventId"].startswith("evt_") and data["test"] is True
    assert isinstance(data["deliveries"], list) and data["requestId"].startswith("req_")
    logged = json.loads(cstar("logs", "--method", "POST", "--json", env=env_for(emu)).stdout)
    assert logged[0]["id"] == data["requestId"] and logged[0]["path"].endswith("/webhooks/trigger-test")


def test_trigger_human_output(emu: Any) -> None:
    r = cstar("trigger", "customer.created", env=env_for(emu, "sk_live"))
    assert r.code == 0, r.stderr
    assert r.stdout.startswith("Triggered customer.created evt_") and "Request ID: req_" in r.stdout


def test_trigger_says_deliveries_are_queued_not_delivered(emulator: Any) -> None:
    # A fresh emulator: the webhook (to a port nothing listens on) must not reach other tests.
    with emulator.client() as api:
        hook = api.post(
            "/webhooks", json={"name": "nowhere", "url": CLOSED_PORT_URL + "/hook", "events": ["ticket.closed"]}
        ).json()["data"]
    env = {"CSTAR_BASE_URL": emulator.base_url, "CSTAR_API_KEY": emulator.keys["sk_test"]}
    r = cstar("trigger", "ticket.closed", env=env)
    assert r.code == 0, r.stderr
    assert "Queued for 1 target(s):" in r.stdout and "Delivered" not in r.stdout
    assert f"  {hook['id']}\n" in r.stdout
    data = json.loads(cstar("trigger", "ticket.closed", "--json", env=env).stdout)
    assert [d["queued"] for d in data["deliveries"]] == [True]


def test_trigger_normalises_the_type(emu: Any) -> None:
    r = cstar("trigger", " Ticket.Created ", "--json", env=env_for(emu))
    assert r.code == 0 and json.loads(r.stdout)["event"] == "ticket.created"
