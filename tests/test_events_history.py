"""Event history and resend end to end: the emulator in a thread, real ``cstar events …`` calls, a
real ``cstar listen`` subprocess and signature-verifying receivers (server contract: "Event history
and resend")."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from cstar_cli.receiver import Receiver
from tests.support.cli import cstar
from tests.support.emulator import EmulatorThread
from tests.test_listen import Listen

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


def env(emu: EmulatorThread, kind: str = "sk_test") -> dict[str, str]:
    return {"CSTAR_API_KEY": emu.keys[kind], "CSTAR_BASE_URL": emu.base_url}


def until(test: Callable[[], Any], timeout: float = 15, what: str = "condition") -> Any:
    """``test()``'s first truthy value, polling up to ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = test()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def ticket(api: httpx.Client, title: str = "Printer on fire") -> str:
    """Create a ticket; return the id of the ``ticket.created`` event it caused."""
    r = api.post("/tickets", json={"title": title})
    assert r.status_code == 201, r.text
    rid = r.json()["meta"]["requestId"]
    events = api.get("/events", params={"type": "ticket.created", "limit": 100}).json()["data"]
    return next(e["id"] for e in events if e["requestId"] == rid)


def history(emu: EmulatorThread, event_id: str) -> dict[str, Any]:
    r = cstar("events", "get", event_id, "--json", env=env(emu))
    assert r.code == 0, r.stderr
    return json.loads(r.stdout)


@pytest.fixture
def api(emulator: EmulatorThread) -> Iterator[httpx.Client]:
    with emulator.client() as client:
        yield client


@pytest.fixture
def webhook(api: httpx.Client) -> Iterator[tuple[str, Receiver]]:
    """A registered webhook for ticket.created pointing at a verifying receiver."""
    with Receiver("pending") as rx:
        r = api.post("/webhooks", json={"name": "history", "url": rx.url, "events": ["ticket.created"]})
        assert r.status_code == 201, r.text
        rx.secret = r.json()["data"]["secret"]
        yield r.json()["data"]["id"], rx
        api.delete(f"/webhooks/{r.json()['data']['id']}")


# the API -----------------------------------------------------------------------------------------


def test_history_lists_webhook_outcomes_newest_first_with_a_cursor(
    emulator: EmulatorThread, api: httpx.Client, webhook: tuple[str, Receiver]
) -> None:
    hook_id, rx = webhook
    first, second = ticket(api, "one"), ticket(api, "two")
    assert rx.wait_for(2)
    page = until(
        lambda: (p := api.get("/events", params={"type": "ticket.*", "limit": 1}).json())["data"][0]["deliveries"] and p
    )
    assert [e["id"] for e in page["data"]] == [second]
    assert page["meta"]["pagination"] == {"limit": 1, "hasMore": True, "nextCursor": second}
    [outcome] = page["data"][0]["deliveries"]
    assert outcome["target"] == hook_id and outcome["targetType"] == "webhook"
    assert outcome["status"] == 200 and outcome["attempts"] == 1 and outcome["error"] is None
    assert "payload" not in page["data"][0]
    older = api.get("/events", params={"type": "ticket.*", "limit": 1, "before": second}).json()["data"]
    assert [e["id"] for e in older] == [first]
    one = api.get(f"/events/{first}").json()["data"]
    assert one["payload"] == next(d.body.decode() for d in rx.received if d.event_id == first)


def test_the_api_answers_bad_calls_with_clear_codes(emulator: EmulatorThread, api: httpx.Client) -> None:
    event_id = ticket(api)
    cases = [
        (api.get("/events/evt_nope"), 404, "event_not_found"),
        (api.post("/events/evt_nope/resend", json={}), 404, "event_not_found"),
        (api.post(f"/events/{event_id}/resend", json={"webhookId": "whk_nope"}), 404, "webhook_not_found"),
        (api.post(f"/events/{event_id}/resend", json={"sessionId": "cls_nope"}), 404, "session_not_found"),
        (api.post(f"/events/{event_id}/resend", json={}), 409, "no_listener"),
        (
            api.post(f"/events/{event_id}/resend", json={"webhookId": "whk_a", "sessionId": "cls_b"}),
            400,
            "INVALID_FIELD",
        ),
        (api.get("/events", params={"limit": 101}), 400, "INVALID_FIELD"),
        (api.get("/events", params={"type": "nope.*"}), 400, "INVALID_FIELD"),
        (api.get("/events", params={"before": "evt_nope"}), 400, "INVALID_FIELD"),
    ]
    for r, status, code in cases:
        assert (r.status_code, r.json()["error"]["code"]) == (status, code), r.text
    with emulator.client("pk_test") as public:
        assert public.get("/events").status_code == 403


def test_resend_to_a_webhook_sends_the_same_bytes_freshly_signed(
    emulator: EmulatorThread, api: httpx.Client, webhook: tuple[str, Receiver]
) -> None:
    hook_id, rx = webhook
    event_id = ticket(api)
    assert rx.wait_for(1)
    r = cstar("events", "resend", event_id, "--webhook", hook_id, "--json", env=env(emulator))
    assert r.code == 0, r.stderr
    assert json.loads(r.stdout) == {"eventId": event_id, "target": hook_id, "queued": True}
    assert rx.wait_for(2)
    first, again = rx.received
    assert again.verified and again.event_id == event_id and again.body == first.body
    outcome = until(lambda: [d for d in history(emulator, event_id)["deliveries"] if d["status"] == 200])
    assert outcome[0]["target"] == hook_id


# the CLI ----------------------------------------------------------------------------------------


def test_cli_errors_exit_with_the_documented_codes(emulator: EmulatorThread, api: httpx.Client) -> None:
    event_id = ticket(api)
    missing = cstar("events", "get", "evt_000000000000", env=env(emulator))
    assert missing.code == 5 and "cstar events recent" in missing.stderr
    nobody = cstar("events", "resend", event_id, env=env(emulator))
    assert nobody.code == 6 and "No `cstar listen` is running" in nobody.stderr
    assert "Start `cstar listen" in nobody.stderr and "--webhook" in nobody.stderr
    no_hook = cstar("events", "resend", event_id, "--webhook", "whk_nope", env=env(emulator))
    assert no_hook.code == 5 and "webhook" in no_hook.stderr
    for args in (
        ["get", "ticket_1"],
        ["resend", event_id, "--webhook", "cls_1"],
        ["recent", "--limit", "0"],
        ["recent", "--type", "tickets.*"],
        ["--category", "csat", "recent"],
    ):
        r = cstar("events", *args, env=env(emulator))
        assert r.code == 2 and r.stderr.count("\n") <= 3, (args, r.stderr)
    assert emulator.keys["sk_test"] not in missing.output + nobody.output


def test_a_given_up_listen_delivery_is_listed_failed_and_resent_to_the_listener(
    emulator: EmulatorThread, api: httpx.Client
) -> None:
    with Receiver("pending", status=500) as rx:
        listen = Listen(emulator, "--forward-to", rx.url, "--events", "ticket.created", "--retry-for", "250ms")
        rx.secret = listen.ready()
        event_id = ticket(api)
        listen.wait(listen.out, lambda s: event_id in s and "gave up" in s)
        failed = until(
            lambda: json.loads(cstar("events", "recent", "--failed", "--json", env=env(emulator)).stdout),
            what="the failed ack to be listed",
        )
        assert [e["id"] for e in failed] == [event_id]
        [outcome] = failed[0]["deliveries"]
        assert outcome["targetType"] == "listen" and outcome["target"].startswith("cls_")
        assert outcome["status"] == 500 and outcome["error"]
        human = cstar("events", "recent", "--failed", env=env(emulator))
        assert event_id in human.stdout and "failed" in human.stdout

        rx.status = 200
        r = cstar("events", "resend", event_id, env=env(emulator))
        assert r.code == 0 and f"Resent {event_id}" in r.stdout and outcome["target"] in r.stdout, r.stderr
        listen.wait(listen.out, lambda s: event_id in s and "(resent)" in s)
        until(lambda: any(d.status == 200 and d.event_id == event_id for d in rx.received), what="the resend")
        ok = [d for d in rx.received if d.status == 200]
        assert len(ok) == 1 and ok[0].verified and ok[0].body == rx.received[0].body
        until(lambda: not json.loads(cstar("events", "recent", "--failed", "--json", env=env(emulator)).stdout))
        # The resent event is not a resume point: the next new event still arrives once.
        later = ticket(api, "after the resend")
        until(lambda: any(d.event_id == later for d in rx.received), what="the next event")
        assert listen.finish() == 130
    assert [d.event_id for d in rx.received].count(later) == 1


def test_get_shows_the_payload_and_outcomes(emulator: EmulatorThread, api: httpx.Client) -> None:
    event_id = ticket(api, "Shown in full")
    r = cstar("events", "get", event_id, env=env(emulator))
    assert r.code == 0, r.stderr
    assert event_id in r.stdout and "No delivery attempt recorded yet (it may still be queued)." in r.stdout
    assert '"title": "Shown in full"' in r.stdout
    listed = json.loads(cstar("events", "recent", "--type", "ticket.created", "--json", env=env(emulator)).stdout)
    assert listed[0]["id"] == event_id and listed[0]["deliveries"] == []


def test_events_completes_its_subcommands_and_type_patterns() -> None:
    from tests.test_completions import complete

    assert complete("cstar events ") == ["recent", "get", "resend"]
    assert "ticket.*" in complete("cstar events recent --type tick")
    assert complete("cstar events --category cu") == ["customers"]
