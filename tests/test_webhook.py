"""Webhook signatures: sign, verify_signature and delivery_headers (the reference's "Signature
verification"; server contract "Event payloads and signatures")."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from cstar_cli.protocol.webhook import DEFAULT_TOLERANCE, compute_signature, delivery_headers, sign, verify_signature

SECRET = "whsec_test_0123456789abcdef"
BODY = '{"id":"evt_1","type":"ticket.created","created_at":"2026-04-27T18:42:11.000Z","data":{"ticket":{"title":"Né"}}}'
NOW = 1_777_000_000


def test_sign_matches_the_reference_algorithm() -> None:
    header = sign(BODY, SECRET, NOW)
    expected = hmac.new(SECRET.encode(), f"{NOW}.{BODY}".encode(), hashlib.sha256).hexdigest()
    assert header == f"t={NOW},v1={expected}"
    assert compute_signature(BODY.encode(), SECRET, NOW) == expected


def test_valid_signature_verifies_for_str_and_bytes() -> None:
    header = sign(BODY, SECRET, NOW)
    assert verify_signature(BODY, header, SECRET, now=NOW)
    assert verify_signature(BODY.encode("utf-8"), header, SECRET, now=NOW + 10)


@pytest.mark.parametrize(
    "body",
    [
        BODY.replace("Né", "Ne"),
        BODY + " ",
        BODY.replace('"id":"evt_1"', '"id": "evt_1"'),
    ],
    ids=["changed-value", "trailing-space", "re-serialised"],
)
def test_tampered_body_fails(body: str) -> None:
    assert not verify_signature(body, sign(BODY, SECRET, NOW), SECRET, now=NOW)


def test_wrong_secret_fails() -> None:
    assert not verify_signature(BODY, sign(BODY, SECRET, NOW), SECRET + "x", now=NOW)


def test_tolerance_window() -> None:
    header = sign(BODY, SECRET, NOW)
    assert verify_signature(BODY, header, SECRET, now=NOW + DEFAULT_TOLERANCE)
    assert verify_signature(BODY, header, SECRET, now=NOW - DEFAULT_TOLERANCE)
    assert not verify_signature(BODY, header, SECRET, now=NOW + DEFAULT_TOLERANCE + 1)
    assert not verify_signature(BODY, header, SECRET, now=NOW - DEFAULT_TOLERANCE - 1)
    assert verify_signature(BODY, header, SECRET, tolerance=3600, now=NOW + 3000)


def test_legacy_sha256_form() -> None:
    digest = hmac.new(SECRET.encode(), BODY.encode(), hashlib.sha256).hexdigest()
    assert verify_signature(BODY, f"sha256={digest}", SECRET)
    assert verify_signature(BODY, f"sha256={digest.upper()}", SECRET)
    assert not verify_signature(BODY + "x", f"sha256={digest}", SECRET)
    assert not verify_signature(BODY, "sha256=", SECRET)


def test_any_of_several_v1_values_may_match() -> None:
    good = compute_signature(BODY, SECRET, NOW)
    assert verify_signature(BODY, f"t={NOW},v1={'0' * 64},v1={good}", SECRET, now=NOW)
    assert verify_signature(BODY, f" t={NOW} , v1={good.upper()} ", SECRET, now=NOW)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage",
        "t=,v1=",
        f"t={NOW}",
        "v1=" + "a" * 64,
        f"t=abc,v1={'a' * 64}",
        f"t={NOW},v2={'a' * 64}",
        f"t=0,v1={'a' * 64}",
        "t==,,,v1",
    ],
)
def test_malformed_headers_are_false_never_raise(header: str | None) -> None:
    assert verify_signature(BODY, header, SECRET, now=NOW) is False


def test_empty_secret_never_verifies() -> None:
    assert not verify_signature(BODY, sign(BODY, "", NOW), "", now=NOW)


def test_delivery_headers_shape() -> None:
    h = delivery_headers(
        BODY,
        SECRET,
        event_id="evt_1",
        event_type="ticket.created",
        webhook_id="cls_1",
        request_id="req_1",
        attempt=3,
        now=NOW + 0.25,
    )
    assert set(h) == {
        "Content-Type",
        "X-Signature",
        "X-Event-Type",
        "X-Event-ID",
        "X-Webhook-ID",
        "X-Timestamp",
        "X-Delivery-Attempt",
        "x-cstar-request-id",
    }
    assert h["Content-Type"] == "application/json"
    assert h["X-Delivery-Attempt"] == "3"
    assert h["X-Timestamp"].endswith("Z") and h["X-Timestamp"].startswith("2026-")
    assert verify_signature(BODY, h["X-Signature"], SECRET, now=NOW)
    no_request = delivery_headers(BODY, SECRET, event_id="e", event_type="t", webhook_id="w", request_id=None)
    assert "x-cstar-request-id" not in no_request
