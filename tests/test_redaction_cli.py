"""A key given to cstar (argument, option, URL, header, server message) is never printed whole on
stderr or in a human stdout line, and the shape-based scrubber finds keys in any case, %XX-encoded
or split in two."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cstar_cli.protocol.keys import scrub_secrets
from tests.support.cli import Run, close_pipes, cstar_env, cstar_subprocess, reap_at_teardown
from tests.support.emulator import EmulatorThread, trigger
from tests.support.http_stub import serve_handler

BODY = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=24, max_size=48)
PREFIX = st.sampled_from(["sk_test_", "sk_live_", "pk_test_", "pk_live_", "whsec_"])
AROUND = st.text(alphabet=" \n\t:'\"=&/?.,-abcXYZ…", max_size=12)


def _upper_some(prefix: str, mask: int) -> str:
    return "".join(c.upper() if mask >> i & 1 else c for i, c in enumerate(prefix))


def _encode_some(text: str, mask: int) -> str:
    return "".join(f"%{ord(c):02x}" if mask >> (i % 60) & 1 else c for i, c in enumerate(text))


@given(
    PREFIX,
    BODY,
    AROUND,
    AROUND,
    st.integers(0, 2**60),
    st.integers(0, 2**60),
    st.integers(0, 23),
    st.sampled_from([" ", "\n", "\\n", "%20", "  "]),
)
def test_scrubber_finds_every_form(
    prefix: str, body: str, before: str, after: str, case: int, enc: int, cut: int, sep: str
) -> None:
    secret = _upper_some(prefix, case) + body
    forms = [secret, _encode_some(secret, enc), secret[: len(prefix) + cut] + sep + secret[len(prefix) + cut :]]
    for form in forms:
        text = before + form + after
        out = scrub_secrets(text)
        # At most the last four characters of the body are left, plus what cut it short.
        assert body[:-4] not in out, (text, out)
        assert scrub_secrets(out) == out
        assert scrub_secrets(f" {form} ", keep=(form,)) == f" {form} "


@given(st.text(alphabet="abcdefghij klmnop_%0123456789ABCDEF\n", max_size=200))
def test_scrubber_leaves_text_without_secrets(text: str) -> None:
    if "_test_" not in text.lower() and "_live_" not in text.lower() and "whsec_" not in text.lower():
        assert scrub_secrets(text) == text or "%" in text
    out = scrub_secrets(text)
    assert scrub_secrets(out) == out


def test_scrubber_examples() -> None:
    key = "sk_test_HHtMEV3ceAHg0stAbCdEfGhIjKlMnOpQ12"
    assert scrub_secrets(key.upper()) == "SK_TEST_…PQ12"
    assert scrub_secrets("WHSEC_" + key[8:]) == "WHSEC_…pQ12"
    assert scrub_secrets("?k=%73%6b%5f%74%65%73%74%5f" + key[8:] + "&x=1") == "?k=sk_test_…pQ12&x=1"
    assert scrub_secrets(f"{key[:12]} {key[12:]} then") == "sk_test_…pQ12 then"
    assert scrub_secrets("sk_test_abc is short") == "sk_test_… is short"
    assert scrub_secrets("a%20b%41c task_done") == "a%20b%41c task_done"
    assert scrub_secrets(f"secret {key}", keep=(key,)) == f"secret {key}"


# --- the CLI -----------------------------------------------------------------------------------


def _clean(run: Run, key: str) -> None:
    body = key.split("_", 2)[2]
    for stream in (run.stdout, run.stderr):
        assert key not in stream and body[:-4] not in stream, run


def _run(emu: EmulatorThread, *args: str) -> Run:
    # With --profile, no key in the environment: the stored login of that profile is looked for.
    env = (
        {"CSTAR_BASE_URL": emu.base_url}
        if "--profile" in args
        else {"CSTAR_API_KEY": emu.keys["sk_test"], "CSTAR_BASE_URL": emu.base_url}
    )
    return cstar_subprocess(*args, env=env)


@pytest.mark.parametrize(
    "args",
    [
        ["trigger", "{K}"],
        ["events", "get", "{K}"],
        ["events", "resend", "evt_x", "--webhook", "{K}"],
        ["api", "/tickets/{K}"],
        ["--profile", "{K}", "status"],
        ["--json", "--profile", "{K}", "status"],
        ["--base-url", "http://127.0.0.1:1/?k={K}", "status"],
        ["listen", "-H", "X-Key: {K}\nx"],
        ["trigger", "{U}"],
        ["trigger", "{S}"],
    ],
)
def test_cli_never_prints_a_given_key(emulator_session: EmulatorThread, args: list[str]) -> None:
    key = emulator_session.keys["sk_test"]
    forms = {"{K}": key, "{U}": key.upper(), "{S}": key[:12] + " " + key[12:]}
    argv = [next((a.replace(m, f) for m, f in forms.items() if m in a), a) for a in args]
    run = _run(emulator_session, *argv)
    assert run.code != 0
    assert run.stderr.strip()
    _clean(run, key)
    _clean(run, key.upper())


class _Leaky(http.server.BaseHTTPRequestHandler):
    key = ""

    def do_GET(self) -> None:
        body = json.dumps({"error": {"code": "internal", "message": f"boom {self.key}"}}).encode()
        self.send_response(500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def leaky() -> Iterator[tuple[str, str]]:
    key = "sk_test_HHtMEV3ceAHg0stAbCdEfGhIjKlMnOpQ12"
    handler = type("H", (_Leaky,), {"key": key})
    with serve_handler(handler) as url:
        yield url, key


def test_server_message_holding_a_key_is_redacted(leaky: tuple[str, str]) -> None:
    url, key = leaky
    for args in (["api", "/tickets"], ["--json", "api", "/tickets"], ["events", "get", "evt_1"]):
        run = cstar_subprocess(*args, env={"CSTAR_API_KEY": key, "CSTAR_BASE_URL": url, "CSTAR_MAX_RETRIES": "0"})
        assert run.code != 0
        _clean(run, key)


def _listen_to_a_keyed_url(emu: EmulatorThread, *args: str) -> tuple[str, subprocess.Popen[str]]:
    """(``emu``'s sk_test key, ``cstar listen -f URL ARGS`` started with it) where the refused
    target URL carries the key in its path and, percent-encoded, in its query."""
    key = emu.keys["sk_test"]
    target = f"http://127.0.0.1:1/{key}?q={quote(key)}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "cstar_cli", "listen", "-f", target, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=cstar_env({"CSTAR_API_KEY": key, "CSTAR_BASE_URL": emu.base_url}),
    )
    reap_at_teardown(proc)
    return key, proc


def test_listen_retry_lines_redact_a_key_in_the_url(emulator_session: EmulatorThread) -> None:
    """A failed attempt's line (stdout: ``<-- [ERR] POST URL … retrying``) shows the target URL
    with a key in its path or query redacted, as the outcome line does."""
    key, proc = _listen_to_a_keyed_url(emulator_session, "--no-resume")
    assert proc.stderr is not None and proc.stdout is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line or line.startswith("Forwarding"):
            break
    trigger(emulator_session)
    retry = ""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line or "retrying" in line:
            retry = line
            break
    proc.terminate()
    out, err = proc.communicate(timeout=30)
    close_pipes(proc)
    assert "POST http://127.0.0.1:1/sk_test_…" in retry, retry
    _clean(Run(proc.returncode, retry + out, err), key)


def test_listen_forwarding_line_redacts_a_key_in_the_url(emulator_session: EmulatorThread) -> None:
    key, proc = _listen_to_a_keyed_url(emulator_session)
    assert proc.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith("Forwarding"):
            break
    proc.terminate()
    out, err = proc.communicate(timeout=30)
    close_pipes(proc)
    text = "".join(lines) + err
    assert any(line.startswith("Forwarding all events to http://127.0.0.1:1/sk_test_…") for line in lines), text
    ready = next(line for line in lines if line.startswith("Ready!"))
    assert "whsec_" in ready and "whsec_…" not in ready  # the signing secret is meant to be shown
    _clean(Run(proc.returncode, out, text), key)
