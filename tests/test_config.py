"""Precedence (flag > env > profile > default), base-URL safety, redaction."""

from __future__ import annotations

import os

import pytest

from cstar_cli.errors import CStarUsageError
from cstar_cli.profiles import Config
from cstar_cli.protocol.keys import key_mode, key_type, redact
from cstar_cli.settings import check_base_url, resolve, validate_key

KEY = "sk_test_" + "q" * 28


def test_base_url_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve().base_url == "https://www.cstar.help"
    Config().set_profile("default", {"base_url": "http://127.0.0.1:9000"})
    assert (resolve().base_url, resolve().base_url_source) == ("http://127.0.0.1:9000", "profile")
    monkeypatch.setenv("CSTAR_BASE_URL", "http://localhost:8787/")
    assert (resolve().base_url, resolve().base_url_source) == ("http://localhost:8787", "env")
    s = resolve(base_url="https://eu.cstar.example/api/v1")
    assert (s.base_url, s.base_url_source) == ("https://eu.cstar.example", "flag")


def test_profile_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = Config()
    cfg.set_profile("work", {"team_id": "w"})
    cfg.set_profile("play", {"team_id": "p"})
    assert resolve().profile == "work"  # first profile written becomes the default
    monkeypatch.setenv("CSTAR_PROFILE", "play")
    assert resolve().profile == "play"
    assert resolve(profile="other").profile == "other"
    with pytest.raises(CStarUsageError):
        resolve(profile="../etc")


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com",
        "http://10.0.0.5:8787",
        "http://127.0.0.1.evil.example",
        "http://127.evil.example:8080",
        "http://127.0.0.1:99999",
        "ftp://x",
        "localhost:8787",
        "",
    ],
)
def test_refuses_unsafe_or_malformed_base_urls(url: str) -> None:
    with pytest.raises(CStarUsageError) as e:
        check_base_url(url)
    assert e.value.hint


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8787", "http://127.0.0.2:8787", "http://localhost", "http://[::1]:9", "https://x.io"]
)
def test_accepts_https_and_loopback_http(url: str) -> None:
    assert check_base_url(url) == url


def test_redaction_and_key_parsing() -> None:
    assert redact(KEY) == "sk_test_…qqqq"
    assert redact("whsec_abcdefghijkl1234") == "whsec_…1234"
    assert redact("short") == "…"
    assert redact(None) == "-"
    assert key_mode(KEY) == "test" and key_type(KEY) == "secret"
    assert key_mode("pk_live_" + "x" * 24) == "live" and key_type("pk_live_" + "x" * 24) == "publishable"
    assert validate_key(f"  {KEY}\n") == KEY
    with pytest.raises(CStarUsageError) as e:
        validate_key("sk_prod_123")
    with pytest.raises(CStarUsageError) as e:
        validate_key("sk_test_" + "x" * 10)
    assert ("x" * 10) not in e.value.message


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc, where nothing can be created")
def test_unwritable_config_dir_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from cstar_cli.errors import CStarError

    monkeypatch.setenv("CSTAR_CONFIG_DIR", "/proc/cstar-nope")
    with pytest.raises(CStarError) as e:
        Config().set_profile("default", {"team_id": "t"})
    assert e.value.code == "config_write_failed" and "CSTAR_CONFIG_DIR" in (e.value.hint or "")
