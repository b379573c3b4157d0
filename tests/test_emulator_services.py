"""The emulator's services and repositories without HTTP: an :class:`Emulator` on a tmp SQLite file,
its services called directly (fast lane: no server, no socket, no process)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import cstar_emulator
from cstar_emulator import Emulator
from cstar_emulator.db import Scope
from cstar_emulator.envelope import ApiError
from cstar_emulator.repositories.request_logs import LogQuery
from cstar_emulator.repositories.table import ListQuery
from cstar_emulator.services.logs import LogFilter
from tests.support.events import drain

#: The service fixtures (``emu``: an emulator on a tmp database; ``scope``: its test mode).
pytest_plugins = ["tests.support.services"]


# -- tickets --------------------------------------------------------------------------------------


def test_a_ticket_with_an_inline_customer_fires_both_events_in_order(emu: Emulator, scope: Scope) -> None:
    sub = emu.event_hub.subscribe(scope)
    ticket = emu.tickets.create(
        scope, "req_1", {"title": "Hello", "priority": "high"}, inline_customer=("Ann", "ann@example.com")
    )
    events = drain(sub)
    assert [t for t, _ in events] == ["customer.created", "ticket.created"]
    assert events[1][1]["ticket"] == ticket and events[1][1]["customer"]["email"] == "ann@example.com"
    assert ticket["status"] == "new" and ticket["priority"] == "high" and ticket["messageCount"] == 0

    # The same email (any case) finds that customer instead of creating another.
    again = emu.tickets.create(scope, "req_2", {"title": "Again"}, inline_customer=("A", "ANN@example.com"))
    assert again["customerId"] == ticket["customerId"]
    assert [t for t, _ in drain(sub)] == ["ticket.created"]


def test_an_unknown_customer_id_is_a_400_and_writes_nothing(emu: Emulator, scope: Scope) -> None:
    before = emu.tickets.page(scope, ListQuery(), 1, 100)[1]
    with pytest.raises(ApiError) as err:
        emu.tickets.create(scope, None, {"title": "x"}, customer_id="cus_nope")
    assert (err.value.status, err.value.field) == (400, "customerId")
    assert emu.tickets.page(scope, ListQuery(), 1, 100)[1] == before


def test_status_transitions_set_resolved_at_and_fire_closed_once(emu: Emulator, scope: Scope) -> None:
    tid = emu.tickets.create(scope, None, {"title": "t"})["id"]
    sub = emu.event_hub.subscribe(scope)

    resolved = emu.tickets.update(scope, tid, None, {"status": "resolved"})
    assert resolved["resolvedAt"] is not None
    # The close also earns its agent XP (player.* events, after these).
    assert [t for t, _ in drain(sub) if t.startswith("ticket.")] == ["ticket.updated", "ticket.closed"]

    # resolved → closed: still done, resolvedAt kept, no second ticket.closed.
    closed = emu.tickets.update(scope, tid, None, {"status": "closed"})
    assert closed["resolvedAt"] == resolved["resolvedAt"]
    assert [t for t, _ in drain(sub)] == ["ticket.updated"]

    reopened = emu.tickets.update(scope, tid, None, {"status": "open", "assigned_to": "bob"})
    assert reopened["resolvedAt"] is None and reopened["assignedTo"] == "bob"
    assert [t for t, _ in drain(sub)] == ["ticket.updated", "ticket.assigned"]

    # Nothing changed: nothing written, nothing fired.
    same = emu.tickets.update(scope, tid, None, {"status": "open", "assigned_to": "bob"})
    assert same == reopened and drain(sub) == []


def test_metadata_patches_merge_and_null_removes_a_key(emu: Emulator, scope: Scope) -> None:
    tid = emu.tickets.create(scope, None, {"title": "m", "metadata": {"a": 1, "b": 2}})["id"]
    updated = emu.tickets.update(scope, tid, None, {"metadata": {"b": None, "c": 3}})
    assert updated["metadata"] == {"a": 1, "c": 3}
    with pytest.raises(ApiError) as err:
        emu.tickets.update(scope, tid, None, {"metadata": {f"k{i}": i for i in range(60)}})
    assert err.value.field == "metadata"


def test_partitions_never_mix(emu: Emulator, scope: Scope) -> None:
    live = Scope(scope.team_id, "live")
    tid = emu.tickets.create(scope, None, {"title": "only in test"})["id"]
    with pytest.raises(ApiError) as err:
        emu.tickets.get(live, tid)
    assert err.value.status == 404
    with pytest.raises(ApiError):
        emu.tickets.update(live, tid, None, {"title": "hijack"})
    assert emu.tickets.get(scope, tid)["title"] == "only in test"
    assert tid not in {t["id"] for t in emu.tickets.page(live, ListQuery(), 1, 100)[0]}


def test_messages_default_their_sender_name_and_touch_the_ticket(emu: Emulator, scope: Scope) -> None:
    ticket = emu.tickets.create(scope, None, {"title": "m"}, inline_customer=("Cleo", None))
    sub = emu.event_hub.subscribe(scope)
    names = [
        emu.tickets.add_message(
            scope, ticket["id"], None, content="hi", sender=sender, sender_name=None, is_internal=False
        )["senderName"]
        for sender in ("agent", "system", "customer")
    ]
    assert names == ["Support Agent", "System", "Cleo"]
    events = drain(sub)
    assert [t for t, _ in events] == ["ticket.message_added"] * 3
    assert events[-1][1]["ticket"]["messageCount"] == 3 and events[-1][1]["message"]["content"] == "hi"
    got = emu.tickets.get(scope, ticket["id"])
    assert [m["sender"] for m in got["messages"]] == ["agent", "system", "customer"]
    assert got["updatedAt"] == got["messages"][-1]["createdAt"]


def test_deleting_cascades_as_the_reference_says(emu: Emulator, scope: Scope) -> None:
    ticket = emu.tickets.create(scope, None, {"title": "d"}, inline_customer=("Del", "del@example.com"))
    emu.tickets.add_message(scope, ticket["id"], None, content="x", sender="agent", sender_name=None, is_internal=False)
    other = emu.tickets.create(scope, None, {"title": "kept"}, customer_id=ticket["customerId"])

    assert emu.customers.delete(scope, ticket["customerId"], None) == {"id": ticket["customerId"], "deleted": True}
    assert emu.tickets.get(scope, other["id"])["customerId"] is None  # kept, unlinked

    emu.tickets.delete(scope, ticket["id"], None)
    assert emu.db.scalar("SELECT COUNT(*) FROM messages WHERE ticket_id = ?", ticket["id"]) == 0


# -- customers, articles, webhooks ----------------------------------------------------------------


def test_a_taken_email_is_a_409_whatever_its_case(emu: Emulator, scope: Scope) -> None:
    emu.customers.create(scope, None, {"name": "A", "email": "dup@example.com"})
    with pytest.raises(ApiError) as err:
        emu.customers.create(scope, None, {"name": "B", "email": "DUP@example.com"})
    assert (err.value.status, err.value.code, err.value.field) == (409, "email_already_exists", "email")
    # The same email in the other partition is another customer.
    emu.customers.create(Scope(scope.team_id, "live"), None, {"name": "C", "email": "dup@example.com"})


def test_publishing_an_article_fires_published(emu: Emulator, scope: Scope) -> None:
    sub = emu.event_hub.subscribe(scope)
    draft = emu.articles.create(scope, None, {"title": "Draft"})
    emu.articles.create(scope, None, {"title": "Live", "status": "published"})
    emu.articles.update(scope, draft["id"], None, {"status": "published"})
    emu.articles.update(scope, draft["id"], None, {"status": "published"})  # no change
    assert [t for t, _ in drain(sub)] == [
        "article.created",
        "article.created",
        "article.published",
        "article.updated",
        "article.published",
    ]


def test_webhook_secrets_are_shown_once_and_trigger_test_checks_its_type(emu: Emulator, scope: Scope) -> None:
    created = emu.webhooks.create(scope, name="w", url="https://example.com/h", events=["ticket.*"], is_active=False)
    assert created["secret"].startswith("whsec_")
    assert "secret" not in emu.webhooks.get(scope, created["id"])
    assert all("secret" not in w for w in emu.webhooks.page(scope, 1, 20)[0])

    with pytest.raises(ApiError) as err:
        emu.webhooks.trigger_test(scope, None, "ticket.craeted")
    assert err.value.field == "event" and "Did you mean ticket.created?" in err.value.message
    result = emu.webhooks.trigger_test(scope, "req_t", "ticket.created")
    assert result["test"] is True and result["deliveries"] == []  # the only webhook is paused


# -- transactions and events ----------------------------------------------------------------------


def test_a_rolled_back_write_fires_nothing_and_frees_its_event_numbers(emu: Emulator, scope: Scope) -> None:
    sub = emu.event_hub.subscribe(scope)
    seq = emu.bus.last_seq(scope)
    with pytest.raises(RuntimeError), emu.db.transaction():
        emu.tickets.create(scope, None, {"title": "doomed"})
        raise RuntimeError("the request failed later")
    assert drain(sub) == [] and emu.bus.last_seq(scope) == seq
    emu.tickets.create(scope, None, {"title": "kept"})
    assert [e.seq for e in emu.bus.after(scope, seq)] == [seq + 1]


def test_revocation_ends_streams_only_once_committed(emu: Emulator, scope: Scope) -> None:
    sub = emu.log_hub.subscribe(scope, tag="x")
    created = emu.keys.create(scope.team_id, "k", "secret", "test")
    tagged = emu.log_hub.subscribe(scope, tag=created["id"])
    with pytest.raises(RuntimeError), emu.db.transaction():
        emu.keys.revoke(scope.team_id, created["id"])
        raise RuntimeError
    assert not tagged.closed
    first = emu.keys.revoke(scope.team_id, created["id"])
    assert first == {"id": created["id"], "revoked": True} and tagged.closed and not sub.closed
    revoked_at = emu.db.scalar("SELECT revoked_at FROM api_keys WHERE id = ?", created["id"])
    emu.keys.revoke(scope.team_id, created["id"])
    assert emu.db.scalar("SELECT revoked_at FROM api_keys WHERE id = ?", created["id"]) == revoked_at
    with pytest.raises(ApiError):
        emu.keys.revoke(scope.team_id, "key_nope")


def test_where_a_listen_socket_resumes(emu: Emulator, scope: Scope) -> None:
    key = emu.auth.lookup(f"Bearer {emu.seed.keys['sk_test']}").key
    assert key is not None
    first = emu.tickets.create(scope, None, {"title": "before"})
    session = emu.sessions.create(key, ["*"], None)
    start = emu.sessions.active(scope, session["id"])
    assert start is not None and start.patterns == ["*"]
    first_id = emu.bus.after(scope, start.start_seq - 1)[0].id

    fresh = emu.sessions.resume_point(scope, None, start.start_seq)
    assert (fresh.after, fresh.resumed_after, fresh.last_event_id) == (start.start_seq, None, first_id)
    assert first["id"] in emu.bus.after(scope, start.start_seq - 1)[0].payload

    emu.tickets.create(scope, None, {"title": "after"})
    newest = emu.bus.after(scope, start.start_seq)[0].id
    resumed = emu.sessions.resume_point(scope, first_id, start.start_seq)
    assert (resumed.after, resumed.resumed_after, resumed.last_event_id) == (start.start_seq, first_id, first_id)
    unknown = emu.sessions.resume_point(scope, "evt_unknown", start.start_seq)
    assert (unknown.after, unknown.resumed_after, unknown.last_event_id) == (None, None, newest)

    # Another mode's key sees no such session; a deleted one is gone.
    assert emu.sessions.active(Scope(scope.team_id, "live"), session["id"]) is None
    emu.sessions.delete(scope, session["id"])
    assert emu.sessions.active(scope, session["id"]) is None
    # The device keeps its signing secret.
    assert emu.sessions.create(key, ["*"], None)["secret"] == session["secret"]


# -- repositories ---------------------------------------------------------------------------------


def test_search_takes_like_wildcards_literally(emu: Emulator, scope: Scope) -> None:
    emu.tickets.create(scope, None, {"title": "100% done"})
    emu.tickets.create(scope, None, {"title": "100 x done"})
    found, total = emu.tickets.page(scope, ListQuery(search="100%"), 1, 20)
    assert total == 1 and found[0]["title"] == "100% done"
    found, total = emu.tickets.page(scope, ListQuery(search="0_"), 1, 20)
    assert total == 0


def test_list_filters_and_pages(emu: Emulator, scope: Scope) -> None:
    for i in range(5):
        emu.articles.create(scope, None, {"title": f"a{i}", "category": "FAQ" if i % 2 else "Other"})
    faq, total = emu.articles.page(scope, ListQuery({"category": "faq", "status": None}), 1, 1)
    assert total == 2 and [a["title"] for a in faq] == ["a3"]  # newest first, category in any case
    second, _ = emu.articles.page(scope, ListQuery({"category": "faq"}), 2, 1)
    assert [a["title"] for a in second] == ["a1"]


@pytest.mark.parametrize(
    ("method", "status", "path"),
    [
        ("get", None, None),
        (None, "4xx", None),
        (None, "201", None),
        (None, None, "/tickets"),
        ("POST", "2xx", "/api/v1"),
    ],
)
def test_the_log_filter_matches_what_its_query_selects(
    emu: Emulator, scope: Scope, method: str | None, status: str | None, path: str | None
) -> None:
    team = scope.team_id
    samples = [
        ("GET", f"/api/v1/teams/{team}/tickets", 200),
        ("POST", f"/api/v1/teams/{team}/tickets", 201),
        ("GET", f"/api/v1/teams/{team}/customers/cus_1", 404),
        ("POST", "/api/v1/me", 405),
        ("DELETE", f"/api/v1/teams/{team}/tickets/tkt_1", 401),
    ]
    for i, (m, p, s) in enumerate(samples):
        entry = {
            "id": f"req_{i}",
            "method": m,
            "path": p,
            "status": s,
            "durationMs": 1.0,
            "createdAt": "2026-01-01T00:00:00.000Z",
            "keyId": None,
            "ip": None,
            "userAgent": None,
            "errorCode": None,
        }
        emu.logs.record(scope, entry, 0.0)
    filt = LogFilter.parse(method, status, path)
    listed, _, _ = emu.logs.page(scope, filt, 100, None)
    everything, _ = emu.logs.logs.page(scope, LogQuery(), 100, None)
    assert [e["id"] for e in listed] == [e["id"] for e in everything if filt.match(e, team)]
    assert listed  # every case selects something


@pytest.mark.parametrize(("field", "value"), [("method", "G3T"), ("status", "6xx"), ("path", "tickets")])
def test_a_bad_log_filter_names_its_field(field: str, value: str) -> None:
    with pytest.raises(ApiError) as err:
        LogFilter.parse(**{"method": None, "status": None, "path": None, field: value})
    assert (err.value.status, err.value.field) == (400, field)


# -- layering -------------------------------------------------------------------------------------


def _import_graph() -> dict[str, set[str]]:
    """Every ``cstar_emulator`` module and what it imports, function-level and ``TYPE_CHECKING``
    imports included (``from package import module`` counts as importing the module)."""
    root = Path(cstar_emulator.__file__).parent
    graph: dict[str, set[str]] = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(
                        package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                    )
                found.add(base)
                found |= {f"{base}.{alias.name}" for alias in node.names}
        graph[name] = found
    return {
        m: {i for i in imported if i in graph or not i.startswith("cstar_emulator")} for m, imported in graph.items()
    }


def test_the_layers_import_only_downwards() -> None:
    graph = _import_graph()

    def imports(prefix: str) -> set[str]:
        return {i for m, imported in graph.items() if m.startswith(prefix) for i in imported}

    above_services = (
        "cstar_emulator.routes",
        "cstar_emulator.state",
        "cstar_emulator.app",
        "cstar_emulator.middleware",
    )
    below = imports("cstar_emulator.services") | imports("cstar_emulator.repositories")
    assert {i for i in imports("cstar_emulator.repositories") if i.startswith("cstar_emulator.services")} == set()
    assert {i for i in below if i.startswith(above_services)} == set()
    assert {i for i in below if i.startswith("starlette")} == set()
    outside = {
        i for i in imports("cstar_emulator") if i.startswith("cstar_cli") and not i.startswith("cstar_cli.protocol")
    }
    assert outside == set()


def test_no_module_imports_itself_through_others() -> None:
    graph = _import_graph()
    # The package's own __init__ re-exports the entry points; a submodule reaching it is not a cycle.
    edges = {m: {i for i in imported if i in graph and i != "cstar_emulator"} for m, imported in graph.items()}
    cycles = []
    for start in edges:
        seen, todo = set(), list(edges[start])
        while todo:
            m = todo.pop()
            if m == start:
                cycles.append(start)
                break
            if m not in seen:
                seen.add(m)
                todo.extend(edges[m])
    assert cycles == []
