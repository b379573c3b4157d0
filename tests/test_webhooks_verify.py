"""The signature doctor: cstar_cli.protocol.diagnose (properties: a valid signature always verifies,
any single-byte change never does, each constructed fault is named) and ``cstar webhooks verify``,
including on a delivery captured from a real ``cstar listen`` run."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from cstar_cli.errors import EXIT_CODES, EXIT_SIGNATURE_INVALID
from cstar_cli.protocol.diagnose import REASONS, diagnose, parse_signature_header, secret_tail
from cstar_cli.protocol.webhook import sign, verify_signature
from cstar_cli.receiver import Receiver
from tests.support.cli import cstar
from tests.test_listen import Listen

NOW = 1_760_000_000
SECRET = "whsec_0123456789abcdef0123456789abcdefa1b2"
OTHER = "whsec_fedcba9876543210fedcba9876543210zz99"

secrets = st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=12, max_size=48).map(lambda s: "whsec_" + s)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(10**9), 10**9), st.text(max_size=12)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8,
)
bodies = st.dictionaries(st.text(max_size=6), json_values, min_size=1, max_size=4).map(
    lambda d: json.dumps(d, ensure_ascii=False, separators=(",", ":")).encode()
)


def legacy(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# properties ----------------------------------------------------------------------------------------


@settings(deadline=None)
@given(bodies, secrets, st.integers(-299, 299))
def test_a_valid_signature_always_verifies(body: bytes, secret: str, skew: int) -> None:
    header = sign(body, secret, NOW + skew)
    for shown in (header, f"X-Signature: {header}", f"X-Signature {header}", f"  {header}  "):
        verdict = diagnose(body, shown, secret, now=NOW)
        assert verdict.valid and verdict.reason == "valid", verdict
    assert diagnose(body, legacy(body, secret), secret, now=NOW).reason == "valid_legacy"


@settings(deadline=None)
@given(bodies, secrets, st.data())
def test_any_single_byte_change_never_verifies(body: bytes, secret: str, data: st.DataObject) -> None:
    i = data.draw(st.integers(0, len(body) - 1))
    new = data.draw(st.integers(0, 255).filter(lambda b: b != body[i]))
    changed = body[:i] + bytes([new]) + body[i + 1 :]
    for header in (sign(body, secret, NOW), legacy(body, secret)):
        verdict = diagnose(changed, header, secret, now=NOW)
        assert not verdict.valid, verdict
        assert verdict.reason in ("body_reserialised", "body_modified", "signature_mismatch")


@settings(deadline=None)
@given(bodies, secrets, st.text(max_size=80), st.integers(0, 10**10))
def test_valid_exactly_when_verify_signature_accepts(body: bytes, secret: str, header: str, ts: int) -> None:
    for h in (header, f"t={ts},v1={header}", sign(body, secret, ts)):
        assert diagnose(body, h, secret, now=NOW).valid == verify_signature(body, h, secret, now=NOW)


@settings(deadline=None)
@given(bodies, secrets)
def test_each_fault_is_named(body: bytes, secret: str) -> None:
    header = sign(body, secret, NOW)
    parsed = json.loads(body)
    assume(json.dumps(parsed, indent=2).encode() != body)
    # A parser keeps the keys' order; re-serialised with sorted keys the original order is lost.
    pretty = json.dumps(parsed, indent=2, ensure_ascii=True).encode()
    reserialised = diagnose(pretty, header, secret, now=NOW)
    assert reserialised.reason == "body_reserialised" and "verify the raw bytes" in reserialised.detail
    assert diagnose(body + b"\n", header, secret, now=NOW).reason == "body_modified"
    assert diagnose(body, header, secret, now=NOW + 301).reason == "timestamp_outside_tolerance"
    assert diagnose(body, header, secret, 400, now=NOW + 301).reason == "valid"
    other = secret + "x"
    mismatch = diagnose(body, header, other, now=NOW)
    assert mismatch.reason == "signature_mismatch" and secret_tail(other) in mismatch.detail
    assert diagnose(body, header, [other, secret], now=NOW).valid  # a rotation: either secret verifies
    for verdict in (reserialised, mismatch):
        assert secret not in verdict.detail and other not in verdict.detail
        assert verdict.reason in REASONS


@pytest.mark.parametrize(
    ("header", "said"),
    [
        ("", "the header is empty"),
        ("X-Signature: ", "the header is empty"),
        ("X-Timestamp: 2025-01-01T00:00:00Z", "this is the X-Timestamp header"),
        ("v1=" + "a" * 64, "there is no t= timestamp"),
        ("t=123", "there is no v1= signature"),
        ("t=123,v0=abc", "there is no v1= signature (found v0=)"),
        ("t=1760000000000,v1=" + "a" * 64, "looks like milliseconds"),
        ("t=soon,v1=" + "a" * 64, "t=soon is not a unix timestamp in seconds"),
        ("t=1,t=2,v1=" + "a" * 64, "t= is given more than once"),
        ("t=1,v1=abc", "it looks truncated"),
        ("t=1,v1=" + "A+/=" * 11, "not base64"),
        ("t=1 v1=abc", "the parts are separated by commas"),
        ("t=1,garbage,v1=abc", "'garbage' is not key=value"),
        ("sha256=xyz", "the sha256= signature is 3 characters"),
    ],
)
def test_malformed_headers_say_what_is_wrong(header: str, said: str) -> None:
    verdict = diagnose(b"{}", header, SECRET, now=NOW)
    assert verdict.reason == "malformed_header" and not verdict.valid
    assert said in verdict.detail


def test_timestamp_detail_says_by_how_much() -> None:
    header = sign(b"{}", SECRET, NOW - 725)
    assert "12 min 5 s old (tolerance 300 s)" in diagnose(b"{}", header, SECRET, now=NOW).detail
    future = sign(b"{}", SECRET, NOW + 3 * 3600)
    assert "3 h in the future" in diagnose(b"{}", future, SECRET, now=NOW).detail
    late_and_wrong = diagnose(b"{}", header, OTHER, now=NOW)
    assert late_and_wrong.reason == "signature_mismatch" and "12 min 5 s old" in late_and_wrong.detail


def test_headers_parse() -> None:
    parsed = parse_signature_header("X-Signature: t=5,v1=" + "A" * 64 + ",v1=" + "b" * 64)
    assert parsed.timestamp == 5 and parsed.signatures == ("a" * 64, "b" * 64) and not parsed.legacy
    assert secret_tail(SECRET) == "whsec_…a1b2" and secret_tail("short") == "…"


def test_the_module_imports_only_the_protocol_package() -> None:
    import ast
    from pathlib import Path

    import cstar_cli.protocol.diagnose as module

    tree = ast.parse(Path(module.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    assert {m for m in imported if m and m.startswith("cstar_cli")} <= {"cstar_cli.protocol.webhook", "cstar_cli.protocol.keys"}


# the command ---------------------------------------------------------------------------------------


def test_exit_code_is_documented() -> None:
    assert EXIT_SIGNATURE_INVALID == 14 and "signature" in EXIT_CODES[14]


def test_verify_command(tmp_path: Any) -> None:
    body = b'{"id":"evt_1","data":{"ticket":{"title":"\xc3\xa9"}}}'
    header = sign(body, SECRET)
    path = tmp_path / "body.json"
    path.write_bytes(body)
    ok = cstar("webhooks", "verify", "--secret", SECRET, "--header", f"X-Signature: {header}", "--body-file", str(path))
    assert ok.code == 0 and ok.stdout.startswith("✓ Valid signature by whsec_…a1b2"), ok.output
    pretty = json.dumps(json.loads(body), indent=2).encode().decode()
    run = cstar("--json", "webhooks", "verify", "-s", SECRET, "-H", header, input=pretty)
    assert run.code == EXIT_SIGNATURE_INVALID
    assert json.loads(run.stdout) == {
        "valid": False,
        "reason": "body_reserialised",
        "detail": "The signature matches the body as compact JSON: the body was re-serialised: verify the raw bytes as received.",
    }
    run = cstar("webhooks", "verify", "-H", header, "-b", str(path), env={"CSTAR_WEBHOOK_SECRET": OTHER})
    assert run.code == EXIT_SIGNATURE_INVALID and run.stdout.startswith("✗ signature_mismatch: No v1 signature matches whsec_…zz99")
    old = sign(body, SECRET, int(time.time()) - 3600)
    run = cstar("webhooks", "verify", "-s", SECRET, "-H", old, "-b", str(path), "--timestamp-tolerance", "60")
    assert run.code == EXIT_SIGNATURE_INVALID and "timestamp_outside_tolerance" in run.stdout and "(tolerance 60 s)" in run.stdout
    for r in (ok, run):
        assert SECRET not in r.output and OTHER not in r.output


def test_verify_usage_errors(tmp_path: Any) -> None:
    run = cstar("webhooks", "verify", "-H", "t=1,v1=x", "-b", str(tmp_path / "body"))
    assert run.code == 2 and "No signing secret given." in run.stderr
    run = cstar("webhooks", "verify", "-s", SECRET, "-H", "t=1,v1=x", "-b", str(tmp_path / "missing"))
    assert run.code == 2 and "Cannot read" in run.stderr
    run = cstar("webhooks", "verify", "-s", SECRET, "-H", "t=1", "--timestamp-tolerance", "-1", input="{}")
    assert run.code == 2
    assert "Traceback" not in run.output


def test_a_real_delivery_verifies_and_its_reserialised_body_does_not(emulator_session: Any, tmp_path: Any) -> None:
    emu = emulator_session
    with Receiver("set below") as rx:
        listen = Listen(emu, "--forward-to", rx.url, "--events", "ticket.updated")
        secret = rx.secret = listen.ready()
        listen.wait(listen.err, lambda s: s.startswith("Forwarding"))
        env = {"CSTAR_API_KEY": emu.keys["sk_test"], "CSTAR_BASE_URL": emu.base_url}
        assert cstar("trigger", "ticket.updated", env=env).code == 0
        assert rx.wait_for(1, timeout=20)
        assert listen.finish() == 130
    delivery = rx.received[0]
    assert delivery.verified
    raw = tmp_path / "raw.json"
    raw.write_bytes(delivery.body)
    header = f"X-Signature: {delivery.header('X-Signature')}"
    ok = cstar("webhooks", "verify", "-s", secret, "-H", header, "-b", str(raw))
    assert ok.code == 0, ok.output
    parsed = tmp_path / "parsed.json"
    parsed.write_text(json.dumps(json.loads(delivery.body), indent=4))
    bad = cstar("--json", "webhooks", "verify", "-s", secret, "-H", header, "-b", str(parsed))
    assert bad.code == EXIT_SIGNATURE_INVALID and json.loads(bad.stdout)["reason"] == "body_reserialised"
