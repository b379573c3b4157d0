"""Network failures in words, TLS failures not retried (client and log stream), `status` retrying like
every other command and timing only the attempt that answered."""

from __future__ import annotations

import datetime
import ipaddress
import json
import socket
import ssl
import threading
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from cstar_cli import credentials
from cstar_cli.api import CStarClient, _transport
from cstar_cli.api._transport import connection_error
from cstar_cli.errors import CStarConnectionError
from tests.support.cli import cstar, cstar_subprocess

KEY = "sk_test_" + "n3Tw" * 7
TEAM = "11111111-2222-3333-4444-555555555555"
CLASS_NAMES = ("ConnectError", "ReadTimeout", "ConnectTimeout", "SSLError", "SSLCertVerificationError", "KeyringError")


def cert_verify_failure(request: httpx.Request) -> httpx.Response:
    cause = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    cause.verify_message = "self-signed certificate"
    raise httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed") from cause


def mock_client(handler: Any, **kw: Any) -> tuple[CStarClient, list[float]]:
    sleeps: list[float] = []
    c = CStarClient(
        KEY, "https://api.example", team_id=TEAM, transport=httpx.MockTransport(handler), sleep=sleeps.append, **kw
    )
    return c, sleeps


# TLS --------------------------------------------------------------------------------------------------


def test_an_unverifiable_certificate_fails_at_once_with_a_hint() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return cert_verify_failure(request)

    c, sleeps = mock_client(handler)
    with pytest.raises(CStarConnectionError) as e:
        c.me()
    assert len(calls) == 1 and sleeps == []
    err = e.value
    assert err.exit_code == 9 and err.code == "tls_verify_failed"
    assert (
        err.message
        == "The server's certificate could not be verified for https://api.example (self-signed certificate)."
    )
    assert "SSL_CERT_FILE" in (err.hint or "") and "--base-url" in (err.hint or "")


def test_other_tls_handshake_failures_are_not_retried_either() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        cause = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
        cause.reason = "WRONG_VERSION_NUMBER"
        raise httpx.ConnectError("wrong version number") from cause

    c, sleeps = mock_client(handler)
    with pytest.raises(CStarConnectionError) as e:
        c.me()
    assert sleeps == [] and e.value.code == "tls_failed" and "wrong version number" in e.value.message


def test_the_log_stream_does_not_retry_a_certificate_failure() -> None:
    c, sleeps = mock_client(cert_verify_failure)
    elements = []
    with pytest.raises(CStarConnectionError) as e:
        for el in c.stream_logs():
            elements.append(el)
    assert elements == [] and sleeps == [] and e.value.code == "tls_verify_failed"


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path, list[str], list[int]]]:
    """A real HTTPS server on 127.0.0.1 with a self-signed certificate that answers ``GET /api/v1/me``
    like the cStar API: ``(base_url, cert_pem_path, paths_requested, connections_accepted)``."""
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    requested: list[str] = []
    connections: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            requested.append(self.path)
            body = json.dumps(
                {
                    "success": True,
                    "data": {"keyType": "secret", "mode": "test", "team": {"id": TEAM, "name": "TLS"}},
                    "meta": {"requestId": "req_tls"},
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    class TLSServer(ThreadingHTTPServer):
        def get_request(self) -> tuple[socket.socket, Any]:
            sock, addr = super().get_request()
            connections.append(1)
            return ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # the client refusing our certificate is the point

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_path, key_path)
    server = TLSServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}", cert_path, requested, connections
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.mark.e2e
def test_a_real_self_signed_server_fails_once_and_ssl_cert_file_fixes_it(
    tls_server: tuple[str, Path, list[str], list[int]],
) -> None:
    url, cert, requested, connections = tls_server
    r = cstar_subprocess("status", "--base-url", url, "--api-key", KEY)
    assert r.code == 9, r.output
    assert "certificate could not be verified" in r.stderr and "SSL_CERT_FILE" in r.stderr
    assert not any(name in r.output for name in CLASS_NAMES)
    assert requested == [] and len(connections) == 1  # one attempt: no retry of a certificate failure

    ok = cstar_subprocess("status", "--json", "--base-url", url, "--api-key", KEY, env={"SSL_CERT_FILE": str(cert)})
    assert ok.code == 0, ok.output
    assert json.loads(ok.stdout)["team"]["name"] == "TLS" and requested == ["/api/v1/me"]


# messages in words ------------------------------------------------------------------------------------


def test_a_refused_connection_says_connection_refused() -> None:
    r = cstar("status", "--base-url", "http://127.0.0.1:9", "--api-key", KEY)
    assert r.code == 9
    assert "could not be reached (connection refused)" in r.stderr
    assert not any(name in r.output for name in CLASS_NAMES)


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (httpx.ReadTimeout("read"), "timed out after 15 s waiting for an answer"),
        (httpx.ConnectTimeout("connect"), "timed out after 10 s while connecting"),
        (httpx.WriteTimeout("write"), "timed out after 15 s while sending the request"),
        (httpx.RemoteProtocolError("Server disconnected"), "closed the connection without a complete answer"),
    ],
)
def test_transport_errors_are_described_in_words(error: Exception, words: str) -> None:
    err = connection_error("https://api.example", error, httpx.Timeout(15.0, connect=10.0))
    assert words in err.message and type(error).__name__ not in err.message


def test_chained_os_errors_give_their_own_text() -> None:
    try:
        try:
            raise socket.gaierror(-2, "Name or service not known")
        except OSError as cause:
            raise httpx.ConnectError("lookup") from cause
    except httpx.ConnectError as e:
        err = connection_error("https://x.example", e)
    assert "host name could not be resolved: name or service not known" in err.message


def test_a_failing_keychain_is_described_without_its_class_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import keyring

    from tests.support.keyring_backend import FileKeyring

    monkeypatch.setenv("CSTAR_TEST_KEYRING_FILE", str(tmp_path / "k.json"))
    monkeypatch.setenv("CSTAR_TEST_KEYRING_MODE", "fail")
    monkeypatch.delenv("CSTAR_CREDENTIAL_STORE")
    previous = keyring.get_keyring()
    keyring.set_keyring(FileKeyring())
    try:
        storage, _, notices = credentials.store_key("default", KEY)
    finally:
        keyring.set_keyring(previous)
    assert storage == "file"
    err = "\n".join(notices)
    assert "the OS keychain failed: locked" in err and "KeyringError" not in err and KEY not in err


# status retries, and times the answering attempt ------------------------------------------------------


def test_status_retries_5xx_and_429_like_the_other_commands(emulator: Any) -> None:
    env = {"CSTAR_BASE_URL": emulator.base_url, "CSTAR_API_KEY": emulator.keys["sk_test"]}
    for status in (500, 503, 429):
        r = httpx.post(f"{emulator.base_url}/_emulator/fail-next", json={"count": 1, "status": status}, timeout=10)
        assert r.status_code == 200
        s = cstar("status", "--json", env=env)
        assert s.code == 0, (status, s.stderr)
        assert json.loads(s.stdout)["api"]["reachable"] is True


def test_round_trip_is_the_answering_attempts_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(_transport, "time", types.SimpleNamespace(monotonic=lambda: clock[0]))
    answers = iter([(0.300, 503), (0.004, 200)])

    def handler(request: httpx.Request) -> httpx.Response:
        took, status = next(answers)
        clock[0] += took
        body = {"success": True, "data": {"team": {"id": TEAM}}, "meta": {"requestId": "req_1"}}
        if status != 200:
            body = {"success": False, "error": {"type": "server_error", "code": "x", "message": "busy"}}
        return httpx.Response(status, json=body)

    def sleep(seconds: float) -> None:
        clock[0] += 2.0

    c = CStarClient(KEY, "https://api.example", transport=httpx.MockTransport(handler), sleep=sleep)
    meta = c.me().meta
    assert meta.attempts == 2
    assert meta.round_trip_ms == pytest.approx(4.0)
    assert meta.elapsed_ms == pytest.approx(2304.0)


def test_a_url_too_long_to_send_is_a_validation_error_not_a_crash() -> None:
    from cstar_cli.errors import CStarValidationError

    client = CStarClient("sk_test_" + "a" * 24, "http://127.0.0.1:9", team_id="t", max_retries=0)
    try:
        with pytest.raises(CStarValidationError) as info:
            client.list_tickets(search="x" * 70_000)
    finally:
        client.close()
    assert info.value.code == "invalid_request_url" and info.value.exit_code == 2
