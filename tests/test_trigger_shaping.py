"""Shaped triggers: the PATH=VALUE parser and applier (cstar_cli.fields), the sample and ``data``
contract of ``/webhooks/trigger-test`` in the emulator, and ``cstar trigger --override/--add/--remove/
--payload/--dry-run`` end to end through a real ``cstar listen`` and a signature-verifying receiver."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cstar_cli.errors import CStarUsageError
from cstar_cli.fields import Edit, apply_edits, format_path, parse_edit, parse_edits, parse_path, typed_value
from cstar_cli.receiver import Receiver
from tests.support.cli import cstar
from tests.test_listen import Listen

SAMPLE: dict[str, Any] = {
    "ticket": {"id": "tkt_1", "priority": "high", "tags": ["login", "auth"], "metadata": {}},
    "customer": {"id": "cus_1", "name": "Jane"},
}


def shaped(*edits: tuple[str, str]) -> dict[str, Any]:
    return apply_edits(SAMPLE, [parse_edit(op, text) for op, text in edits])  # type: ignore[arg-type]


def usage_error(*edits: tuple[str, str]) -> CStarUsageError:
    with pytest.raises(CStarUsageError) as info:
        shaped(*edits)
    assert info.value.exit_code == 2
    return info.value


# the parser and the applier ------------------------------------------------------------------------


def test_paths_are_dotted_with_escapes() -> None:
    assert parse_path("ticket.tags.0") == ["ticket", "tags", "0"]
    assert parse_path(r"ticket.metadata.a\.b") == ["ticket", "metadata", "a.b"]
    assert parse_path("a\\\\.b") == ["a\\", "b"]
    for bad in ("", "a..b", ".a", "a."):
        with pytest.raises(CStarUsageError, match="empty segment"):
            parse_path(bad)


def test_values_are_typed_as_api_fields() -> None:
    assert parse_edit("override", "ticket.priority=urgent").value == "urgent"
    assert parse_edit("override", "a=12").value == 12
    assert parse_edit("override", "a=1.5").value == 1.5
    assert parse_edit("override", "a=true").value is True
    assert parse_edit("override", "a=null").value is None
    assert parse_edit("override", "a=007").value == "007"
    assert parse_edit("override", "a=x=y").value == "x=y"
    assert parse_edit("override", "a=@notes", read=lambda name: f"<{name}>").value == "<notes>"
    with pytest.raises(CStarUsageError, match="has no value"):
        parse_edit("add", "ticket.tags")
    with pytest.raises(CStarUsageError, match="cannot read files"):
        parse_edit("override", "a=@file")


def test_override_add_remove() -> None:
    out = shaped(
        ("override", "ticket.priority=urgent"),
        ("override", "ticket.tags.0=sso"),
        ("override", "ticket.tags.-1=mfa"),
        ("add", "ticket.tags=vip"),
        ("add", "ticket.tags.0=first"),
        ("add", "ticket.metadata.plan=pro"),
        ("remove", "customer"),
    )
    assert out["ticket"]["priority"] == "urgent"
    assert out["ticket"]["tags"] == ["first", "sso", "mfa", "vip"]
    assert out["ticket"]["metadata"] == {"plan": "pro"}
    assert "customer" not in out
    assert SAMPLE["ticket"]["tags"] == ["login", "auth"]  # the input is not changed
    assert shaped(("remove", "ticket.tags.0"))["ticket"]["tags"] == ["auth"]


def test_parse_edits_orders_overrides_then_adds_then_removes() -> None:
    edits = parse_edits(override=["a=1"], add=["b=2"], remove=["c"])
    assert [e.op for e in edits] == ["override", "add", "remove"]


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (("override", "ticket.nope=1"), "ticket.nope does not exist"),
        (("override", "tickets.priority=1"), "tickets does not exist"),
        (("override", "ticket.tags.2=x"), "ticket.tags.2 is not an index of a list of 2"),
        (("override", "ticket.tags.x=x"), "ticket.tags.x is not an index"),
        (("override", "ticket.priority.deep=x"), "ticket.priority.deep does not exist (ticket.priority is not"),
        (("remove", "customer.email"), "customer.email does not exist"),
        (("add", "ticket.tags.9=x"), "ticket.tags.9 is not a position in a list of 2"),
        (("add", "nope.deeper=x"), "nope does not exist"),
    ],
)
def test_a_path_that_does_not_exist_is_named(edit: tuple[str, str], named: str) -> None:
    err = usage_error(edit)
    assert named in err.message
    assert err.code == "path_not_found"


def test_add_refuses_to_replace_a_key() -> None:
    err = usage_error(("add", "ticket.priority=low"))
    assert err.code == "path_exists"
    assert "--override ticket.priority=VALUE" in (err.hint or "")


# properties ----------------------------------------------------------------------------------------

segment = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=8)
paths = st.lists(segment, min_size=1, max_size=5)
json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.text(max_size=10))


@settings(deadline=None)
@given(paths)
def test_format_path_round_trips(parts: list[str]) -> None:
    assert parse_path(format_path(parts)) == parts


@settings(deadline=None)
@given(paths, st.text(max_size=20))
def test_parse_edit_splits_at_the_first_equals_and_types_the_value(parts: list[str], value: str) -> None:
    edit = parse_edit("override", f"{format_path(parts)}={value}", read=lambda name: name)
    assert list(edit.path) == parts
    assert edit.value == typed_value(value, lambda name: name)


@st.composite
def nested(draw: Any) -> tuple[dict[str, Any], list[str]]:
    """A JSON object and the path of one value inside it."""
    data: dict[str, Any] = {}
    node: Any = data
    path: list[str] = []
    for _ in range(draw(st.integers(1, 4))):
        if isinstance(node, dict):
            key = draw(segment)
            child: Any = draw(st.sampled_from([{}, [], "leaf"]))
            node[key] = child
            path.append(key)
        else:
            node.extend(draw(st.lists(json_scalar, max_size=2)))
            child = draw(st.sampled_from([{}, [], "leaf"]))
            node.append(child)
            path.append(str(len(node) - 1))
        if not isinstance(child, (dict, list)):
            break
        node = child
    return data, path


@settings(deadline=None)
@given(nested(), json_scalar)
def test_override_then_read_gives_the_value_and_remove_deletes_it(case: tuple[dict[str, Any], list[str]], value: Any) -> None:
    data, path = case
    out = apply_edits(data, [Edit("override", tuple(path), value)])
    node: Any = out
    for part in path[:-1]:
        node = node[int(part)] if isinstance(node, list) else node[part]
    assert (node[int(path[-1])] if isinstance(node, list) else node[path[-1]]) == value
    removed: Any = apply_edits(data, [Edit("remove", tuple(path))])
    before: Any = data
    for part in path[:-1]:
        removed = removed[int(part)] if isinstance(removed, list) else removed[part]
        before = before[int(part)] if isinstance(before, list) else before[part]
    if isinstance(removed, list):
        assert len(removed) == len(before) - 1
    else:
        assert path[-1] not in removed and len(removed) == len(before) - 1


@settings(deadline=None)
@given(nested(), segment)
def test_overriding_a_missing_key_always_fails_naming_it(case: tuple[dict[str, Any], list[str]], extra: str) -> None:
    data, path = case
    missing = (*path, extra) if extra != path[-1] else (*path, extra + "_")
    try:
        apply_edits(data, [Edit("override", missing, 1)])
    except CStarUsageError as e:
        assert e.code == "path_not_found" and e.exit_code == 2
    else:
        # Only a list can hold a segment that exists by construction: an index within it.
        raise AssertionError(f"{missing} should not exist in {data}")


# the emulator's contract ---------------------------------------------------------------------------


def test_sample_endpoint_and_data_validation(emulator_session: Any) -> None:
    with emulator_session.client() as api:
        r = api.get("/webhooks/trigger-test/sample", params={"event": "ticket.created"})
        assert r.status_code == 200, r.text
        body = r.json()["data"]
        assert body["event"] == "ticket.created" and body["data"]["ticket"]["id"].startswith("tkt_")
        bad = api.get("/webhooks/trigger-test/sample", params={"event": "ticket.deleted"})
        assert bad.status_code == 400 and bad.json()["error"]["field"] == "event"
        for data in ([1], "x", 3, None):
            r = api.post("/webhooks/trigger-test", json={"event": "ticket.created", "data": data})
            assert r.status_code == 400 and r.json()["error"]["field"] == "data", r.text
        ok = api.post("/webhooks/trigger-test", json={"event": "ticket.created", "data": {"custom": True}})
        assert ok.status_code == 200, ok.text


# end to end ----------------------------------------------------------------------------------------


def _env(emu: Any) -> dict[str, str]:
    return {"CSTAR_API_KEY": emu.keys["sk_test"], "CSTAR_BASE_URL": emu.base_url}


def test_shaped_trigger_reaches_a_verifying_receiver(emulator_session: Any, tmp_path: Any) -> None:
    emu = emulator_session
    payload = tmp_path / "data.json"
    payload.write_text(json.dumps({"ticket": {"id": "tkt_custom", "tags": []}, "note": "ünïcode"}))
    with Receiver("set below") as rx:
        # --no-resume: the shared emulator holds other tests' events for this device and profile.
        listen = Listen(emu, "--no-resume", "--forward-to", rx.url, "--events", "ticket.created")
        rx.secret = listen.ready()
        listen.wait(listen.err, lambda s: s.startswith("Forwarding"))
        first = cstar(
            "trigger", "ticket.created", "--json",
            "--override", "ticket.priority=urgent", "--override", "ticket.messageCount=7",
            "--add", "ticket.tags=vip", "--add", "ticket.metadata.plan=pro", "--remove", "customer",
            env=_env(emu),
        )  # fmt: skip
        assert first.code == 0, first.stderr
        second = cstar("trigger", "ticket.created", "--payload", str(payload), "--add", "ticket.tags=x", env=_env(emu))
        assert second.code == 0, second.stderr
        assert rx.wait_for(2, timeout=20)
        assert listen.finish() == 130
    assert all(d.verified for d in rx.received)
    one, two = (json.loads(d.body) for d in rx.received)
    assert one["id"] == json.loads(first.stdout)["eventId"]
    ticket = one["data"]["ticket"]
    assert ticket["priority"] == "urgent" and ticket["messageCount"] == 7
    assert ticket["tags"][-1] == "vip" and ticket["metadata"]["plan"] == "pro"
    assert "customer" not in one["data"]
    assert two["data"] == {"ticket": {"id": "tkt_custom", "tags": ["x"]}, "note": "ünïcode"}


def test_bad_paths_and_payloads_exit_2_before_sending(emulator_session: Any, tmp_path: Any) -> None:
    env = _env(emulator_session)
    run = cstar("trigger", "ticket.created", "--override", "ticket.nope=1", env=env)
    assert run.code == 2 and "--override ticket.nope: ticket.nope does not exist." in run.stderr
    assert "Traceback" not in run.stderr
    run = cstar("trigger", "ticket.created", "--remove", "ticket.tags.5", env=env)
    assert run.code == 2 and "ticket.tags.5 is not an index" in run.stderr
    run = cstar("trigger", "ticket.created", "--payload", "-", input="[1, 2]", env=env)
    assert run.code == 2 and "is a JSON list, not an object" in run.stderr
    run = cstar("trigger", "ticket.created", "--payload", "-", input="{nope", env=env)
    assert run.code == 2 and "is not JSON" in run.stderr
    run = cstar("trigger", "ticket.created", "--payload", str(tmp_path / "missing.json"), env=env)
    assert run.code == 2 and "Cannot read" in run.stderr


def test_dry_run_prints_the_shaped_sample_and_sends_nothing(emulator_session: Any) -> None:
    env = _env(emulator_session)
    run = cstar("trigger", "customer.created", "--dry-run", "--override", "customer.name=Ada", "--remove", "customer.tags", env=env)
    assert run.code == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["customer"]["name"] == "Ada" and "tags" not in data["customer"]
    with emulator_session.client() as api:
        logs = api.get("/logs", params={"path": "/webhooks/trigger-test", "limit": 1}).json()["data"]
    assert logs[0]["method"] == "GET" and logs[0]["path"].endswith("/webhooks/trigger-test/sample")
