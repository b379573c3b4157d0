"""Bad input at the edges of the CLI: base URLs that cannot be parsed or carry a query or fragment, an
empty ``--profile``, the "CSTAR_API_KEY overrides" note only when it is true, a 404 on a route cstar
builds itself, ``--forward-to`` passwords in every error, and the example receiver's port and
status ranges."""

from __future__ import annotations

import re

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from cstar_cli import credentials
from cstar_cli.errors import CStarUsageError
from cstar_cli.profiles import Config
from cstar_cli.receiver import Receiver, check_options
from cstar_cli.receiver import main as receiver_main
from cstar_cli.relay import parse_forward_url
from cstar_cli.settings import check_base_url, resolve
from tests.support.cli import cstar
from tests.support.emulator import EmulatorThread

KEY = "sk_test_" + "k" * 28
ENV_KEY = "sk_test_" + "e" * 28

# --- base URLs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://[::1",
        "http://[::1]:x",
        "http://127.0.0.1:8787#frag",
        "http://127.0.0.1:8787?x=1",
        "http://127.0.0.1:8787/?x=1",
        "https://www.cstar.help/#",
        "https://www.cstar.help?",
    ],
)
def test_a_base_url_that_cannot_be_used_is_a_usage_error(url: str) -> None:
    with pytest.raises(CStarUsageError) as e:
        check_base_url(url)
    assert e.value.exit_code == 2 and e.value.code == "invalid_base_url" and e.value.hint
    assert e.value.message.startswith("Invalid base URL")


@pytest.mark.parametrize("how", ["flag", "env"])
@pytest.mark.parametrize("command", [["status"], ["trigger", "ticket.created"], ["login", "--api-key", KEY]])
def test_every_command_refuses_such_a_base_url_with_exit_2(
    how: str, command: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for url in ("http://[::1", "http://127.0.0.1:8787#frag"):
        if how == "env":
            monkeypatch.setenv("CSTAR_BASE_URL", url)
            r = cstar(*command, env={"CSTAR_API_KEY": KEY})
        else:
            r = cstar("--base-url", url, *command, env={"CSTAR_API_KEY": KEY})
        assert r.code == 2, r.output
        assert "Invalid base URL" in r.stderr and "Hint:" in r.stderr and "Unexpected" not in r.stderr


# --- profiles and the override note ------------------------------------------------------------------


def test_an_empty_profile_name_is_a_usage_error() -> None:
    with pytest.raises(CStarUsageError) as e:
        resolve(profile="")
    assert e.value.code == "invalid_profile"
    r = cstar("--profile", "", "login", "--api-key", KEY)
    assert r.code == 2 and "Invalid profile name ''" in r.stderr, r.output
    assert not Config().profiles(), "nothing was stored for any profile"


def test_the_override_note_only_when_the_stored_key_would_have_been_used(monkeypatch: pytest.MonkeyPatch) -> None:
    credentials.store_key("default", KEY)
    Config().set_profile("default", {"key_storage": "file", "base_url": "http://127.0.0.1:8787"})
    monkeypatch.setenv("CSTAR_API_KEY", ENV_KEY)
    same = resolve()
    assert same.key_source == "env" and any("overrides the key stored" in n for n in same.notices)
    other = resolve(base_url="http://127.0.0.1:9999")
    assert other.key_source == "env" and other.notices == []


# --- a 404 on a route cstar builds ------------------------------------------------------------------------


def test_a_404_on_me_says_to_check_the_base_url(emulator: EmulatorThread) -> None:
    base = emulator.base_url + "/not-the-api"
    r = cstar("--base-url", base, "status", env={"CSTAR_API_KEY": emulator.keys["sk_test"]})
    assert r.code == 5, r.output
    assert "Hint:" in r.stderr and "check --base-url" in r.stderr and f"{base} has no GET /api/v1/me" in r.stderr


def test_a_404_for_an_id_the_user_gave_keeps_its_own_hint(emulator: EmulatorThread) -> None:
    r = cstar("keys", "revoke", "key_doesnotexist", "--yes", env={"CSTAR_API_KEY": emulator.keys["sk_test"],
                                                                   "CSTAR_BASE_URL": emulator.base_url})
    assert r.code == 5, r.output
    assert "check --base-url" not in r.stderr


# --- --forward-to passwords ------------------------------------------------------------------------------

SECRET = "S3CR3TPW"
_ANY = st.text(max_size=12)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(["", "//", "http://", "https://", "ftp://", " http://", "h ttp://", "://", "http:/"]),
    st.text(max_size=8),
    _ANY,
    _ANY,
    st.sampled_from(["localhost:3000", "", "[::1", "bad_host", "127.0.0.1:99999", "x[::1]", "h:0"]),
    _ANY,
)
@example("//", "u", "", "", "localhost:3000", "")
@example("http://", "u", "/", "", "localhost", "")
@example("", "u", "?#", "@", "h", "/x")
def test_a_forward_to_password_never_appears_in_an_error(
    scheme: str, user: str, before: str, after: str, host: str, rest: str
) -> None:
    password = before + SECRET + after
    value = f"{scheme}{user}:{password}@{host}{rest}"
    # "x" + ":" + "//S3CR3T…@h" reads as the URL x://S3CR3T…@h, whose user (not password) is shown.
    assume(not (re.fullmatch(r"\s*[A-Za-z][A-Za-z0-9+.-]*", scheme + user) and before.startswith("//")))
    try:
        parse_forward_url(value)
    except CStarUsageError as e:
        shown = e.message + (e.hint or "")
        assert SECRET not in shown, shown


def test_the_reported_scheme_relative_form_is_masked() -> None:
    with pytest.raises(CStarUsageError) as e:
        parse_forward_url("//u:SECRETPW@localhost:3000")
    assert "SECRETPW" not in e.value.message and "u:***@" in e.value.message


# --- the example receiver ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--port", "70000"], "--port 70000"),
        (["--port", "-1"], "--port -1"),
        (["--status", "99"], "--status 99"),
        (["--status", "600"], "--status 600"),
        (["--status", "101"], "--status 101"),
        (["--fail-first", "-2"], "--fail-first -2"),
    ],
)
def test_the_receiver_refuses_out_of_range_options(
    args: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert receiver_main(["--secret", "whsec_x", *args]) == 2
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert out == "" and len(lines) == 2 and lines[0].startswith(f"Error: {says} ") and lines[1].startswith("Hint: ")


@pytest.mark.parametrize(("port", "status"), [(0, 200), (65535, 599), (0, 204)])
def test_the_receiver_accepts_the_edges(port: int, status: int) -> None:
    assert check_options("whsec_x", None, port=port, status=status) is None


def test_the_receiver_class_refuses_them_too() -> None:
    with pytest.raises(ValueError, match="--status 100"):
        Receiver("whsec_x", status=100)
    with pytest.raises(ValueError, match="--port 65536"):
        Receiver("whsec_x", port=65536)
