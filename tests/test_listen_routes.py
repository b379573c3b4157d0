"""Several targets for one ``cstar listen``: ``-f PATTERNS=URL`` parsing, the ``.cstar.toml``
``[listen]`` section, and end to end: each target gets its events in order, a target that is down
holds up no other, the ack waits for every matching target."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cstar_cli.errors import CStarUsageError
from cstar_cli.relay import ForwardOptions, load_project_routes, parse_route, union_patterns
from cstar_cli.relay._routes import split_route
from tests.support.cli import cstar_subprocess

BASE = ForwardOptions("http://localhost/")


# --- parsing (fast) -------------------------------------------------------------------------------


def test_plain_url_takes_every_event() -> None:
    route = parse_route("3000", BASE)
    assert route.patterns is None and route.options.url == "http://localhost:3000/"
    assert route.wants("ticket.created")


def test_patterns_equals_url() -> None:
    route = parse_route("ticket.*, customer.created=localhost:3001/tickets?x=1", BASE)
    assert route.patterns == ("ticket.*", "customer.created")
    assert route.options.url == "http://localhost:3001/tickets?x=1"
    assert route.wants("ticket.updated") and route.wants("customer.created")
    assert not route.wants("customer.updated")


def test_a_query_equals_sign_is_not_a_route() -> None:
    assert split_route("3000/hooks?a=b") == (None, "3000/hooks?a=b")
    assert split_route("http://h.test/?ticket.created=1") == (None, "http://h.test/?ticket.created=1")
    assert split_route("3000=4000") == (None, "3000=4000")


def test_unknown_pattern_is_refused_with_a_suggestion() -> None:
    with pytest.raises(CStarUsageError) as e:
        parse_route("tickt.*=3000", BASE)
    assert e.value.exit_code == 2 and "tickt.*" in e.value.message
    assert "ticket.*" in (e.value.hint or "")


def test_options_other_than_the_url_are_kept() -> None:
    base = ForwardOptions("http://localhost/", (("X-A", "1"),), timeout=5, verify=False)
    route = parse_route("ticket.*=3001", base)
    assert route.options.headers == (("X-A", "1"),) and route.options.timeout == 5 and not route.options.verify


def test_union_of_patterns() -> None:
    a, b = parse_route("ticket.*=3001", BASE), parse_route("customer.*,ticket.*=3002", BASE)
    assert union_patterns([a, b]) == ("ticket.*", "customer.*")
    assert union_patterns([a, parse_route("3003", BASE)]) == ("*",)


@given(st.text(max_size=40))
def test_route_parsing_never_fails_other_than_a_usage_error(value: str) -> None:
    try:
        route = parse_route(value, BASE)
    except CStarUsageError as e:
        assert e.exit_code == 2
    else:
        assert route.options.url.startswith(("http://", "https://"))


# --- project file (fast) --------------------------------------------------------------------------


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / ".cstar.toml").write_text(text, encoding="utf-8")
    return tmp_path


def test_project_file_routes(tmp_path: Path) -> None:
    write(
        tmp_path,
        '[listen]\n\n[[listen.forward]]\nevents = ["ticket.*"]\nurl = "localhost:3001/tickets"\n\n'
        '[[listen.forward]]\nurl = "3002"\n',
    )
    routes = load_project_routes(tmp_path, BASE)
    assert routes is not None
    assert [(r.patterns, r.options.url) for r in routes] == [
        (("ticket.*",), "http://localhost:3001/tickets"),
        (None, "http://localhost:3002/"),
    ]


def test_no_file_or_no_section_means_no_routes(tmp_path: Path) -> None:
    assert load_project_routes(tmp_path, BASE) is None
    write(tmp_path, '[other]\nx = 1\n')
    assert load_project_routes(tmp_path, BASE) is None


@pytest.mark.parametrize(
    ("text", "line", "why"),
    [
        ('[listen]\n[[listen.forward]]\nurl = "3000\n', 3, "Illegal character"),
        ('[listen]\n\n[[listen.forward]]\nurl = "3000"\n\n[[listen.forward]]\nevents = ["ticket.*"]\n', 6, "needs url"),
        ('[[listen.forward]]\nurl = "3000"\nevents = ["nope"]\n', 1, "Unknown event type 'nope'"),
        ('[[listen.forward]]\nurl = "3000"\nport = 1\n', 1, "unknown key 'port'"),
        ('[[listen.forward]]\nurl = "ftp://x"\n', 1, "scheme"),
        ('[[listen.forward]]\nurl = "3000"\nevents = [1]\n', 1, "list of strings"),
    ],
)
def test_malformed_project_file_is_a_usage_error_naming_the_line(
    tmp_path: Path, text: str, line: int, why: str
) -> None:
    write(tmp_path, text)
    with pytest.raises(CStarUsageError) as e:
        load_project_routes(tmp_path, BASE)
    assert e.value.exit_code == 2
    assert f".cstar.toml, line {line}:" in e.value.message, e.value.message
    assert why.lower() in e.value.message.lower(), e.value.message


@pytest.mark.e2e  # a subprocess
def test_malformed_project_file_exits_2_from_the_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, '[[listen.forward]]\nurl = 3000\nevents = "ticket.nope"\n')
    monkeypatch.chdir(tmp_path)
    r = cstar_subprocess("listen", env={"CSTAR_API_KEY": "sk_test_" + "a" * 32, "CSTAR_BASE_URL": "http://127.0.0.1:9"})
    assert r.code == 2, r.stderr
    assert ".cstar.toml, line 1" in r.stderr and "Traceback" not in r.stderr


# --- end to end -----------------------------------------------------------------------------------


def _listen(emu: Any, *args: str) -> Any:
    from tests.test_listen import Listen

    return Listen(emu, *args)


@pytest.mark.timeout(90)
def test_each_target_gets_its_events_in_order_and_a_down_one_holds_up_none(emulator: Any) -> None:
    from cstar_cli.receiver import Receiver
    from tests.test_listen import burst, secret_for

    secret = secret_for(emulator)
    down = socket.socket()  # accepts, never answers
    down.bind(("127.0.0.1", 0))
    down.listen()
    try:
        with Receiver(secret, path="/tickets") as tickets, Receiver(secret, path="/crm") as crm:
            listen = _listen(
                emulator,
                "-f",
                f"ticket.*={tickets.url}",
                "-f",
                f"customer.*={crm.url}",
                "-f",
                f"customer.*=localhost:{down.getsockname()[1]}/stuck",
                "--timeout",
                "60",
            )
            listen.ready()
            listen.wait(listen.err, lambda s: s.startswith("Forwarding customer.* to http://localhost:"))
            lines = [s for s in listen.err if s.startswith("Forwarding ")]
            assert lines[0] == f"Forwarding ticket.* to {tickets.url}"
            assert lines[1] == f"Forwarding customer.* to {crm.url}"
            sent_c = httpx.post(
                f"{emulator.base_url}/_emulator/burst", json={"count": 5, "event": "customer.created"}, timeout=15
            ).json()["data"]
            sent_t = burst(emulator, 30)
            # The crm target and the tickets one are served although the third target never answers.
            assert tickets.wait_for(30) and crm.wait_for(5)
            listen.wait(listen.out, lambda s: f"[{sent_t['lastEventId']}]" in s and s.startswith("<-- [200]"))
            assert listen.finish() == 130
    finally:
        down.close()
    assert all(d.verified for d in tickets.received + crm.received)
    assert {d.event_type for d in tickets.received} == {"ticket.created"}
    assert {d.event_type for d in crm.received} == {"customer.created"}
    t_ids = [d.event_id for d in tickets.received]
    assert t_ids[0] == sent_t["firstEventId"] and t_ids[-1] == sent_t["lastEventId"] and len(set(t_ids)) == 30
    assert crm.received[0].event_id == sent_c["firstEventId"]
    # The customer events wait for the stuck target, so the ack of the first one, and of every
    # ticket event after it, never went out: the summary names it as in flight.
    assert any(f"Stopped while {sent_c['firstEventId']} was being delivered" in s for s in listen.err)


@pytest.mark.timeout(90)
def test_acks_wait_for_every_target_and_the_next_run_catches_up(emulator: Any) -> None:
    from cstar_cli.receiver import Receiver
    from tests.test_listen import burst, secret_for

    secret = secret_for(emulator)
    with Receiver(secret) as a, Receiver(secret) as b:
        listen = _listen(emulator, "-f", f"ticket.*={a.url}", "-f", b.url)
        listen.ready()
        sent = burst(emulator, 40)
        assert a.wait_for(40) and b.wait_for(40)
        last = sent["lastEventId"]
        for url in (a.url, b.url):
            listen.wait(listen.out, lambda s, url=url: s.startswith(f"<-- [200] POST {url} [{last}]"))
        assert listen.finish() == 130
    assert [d.event_id for d in a.received] == [d.event_id for d in b.received]
    assert a.received[0].event_id == sent["firstEventId"]
    assert any(s == "Stopped: 80 forwarded, 0 failed." for s in listen.err), listen.err[-3:]


@pytest.mark.timeout(90)
def test_project_file_targets_are_used_and_flags_override_them(
    emulator: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cstar_cli.receiver import Receiver
    from tests.test_listen import burst, secret_for

    secret = secret_for(emulator)
    with Receiver(secret) as from_file, Receiver(secret) as from_flag:
        write(tmp_path, f'[[listen.forward]]\nevents = ["ticket.*"]\nurl = "{from_file.url}"\n')
        monkeypatch.chdir(tmp_path)
        listen = _listen(emulator)
        listen.wait(listen.err, lambda s: s == f"Forwarding ticket.* to {from_file.url}")
        sent = burst(emulator, 3)
        assert from_file.wait_for(3)
        listen.wait(listen.out, lambda s: s.startswith("<-- [200]") and sent["lastEventId"] in s)
        assert listen.finish() == 130
        flagged = _listen(emulator, "-f", from_flag.url, "--no-resume")
        flagged.wait(flagged.err, lambda s: s == f"Forwarding all events to {from_flag.url}")
        burst(emulator, 1)
        assert from_flag.wait_for(1)
        assert flagged.finish() == 130
    assert len(from_file.received) == 3
