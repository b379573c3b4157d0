"""The ``--help`` cache's integrity check (cstar_cli.commands.fast): an entry that is truncated,
emptied, overwritten, hashed wrong or of another format is never printed; the help is rendered
afresh, as the full CLI draws it, and the entry is rewritten."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from cstar_cli.commands import fast
from tests.support.entry import entry, full

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CSTAR_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _entry_file(cache_dir: Path) -> Path:
    (only,) = cache_dir.glob("help-*.txt")
    return only


def _header(body: bytes, *, fmt: str = "1", length: int | None = None, digest: str | None = None) -> bytes:
    n = len(body) if length is None else length
    return f"cstar-help {fmt} {n} {digest or hashlib.sha256(body).hexdigest()}\n".encode()


def _valid(data: bytes) -> bool:
    header, _, body = data.partition(b"\n")
    return header == _header(body).rstrip(b"\n")


CORRUPTIONS: dict[str, Callable[[bytes], bytes]] = {
    "truncated": lambda data: data[: len(data) // 2],
    "body-truncated-header-kept": lambda data: data[: data.index(b"\n") + 40],
    "empty": lambda data: b"",
    "garbage": lambda data: b"garbage",
    "old-format-plain-text": lambda data: data.partition(b"\n")[2],
    "wrong-hash": lambda data: _header(data.partition(b"\n")[2], digest="0" * 64) + data.partition(b"\n")[2],
    "same-length-changed-byte": lambda data: data[:-2] + b"X" + data[-1:],
    "longer-than-its-length": lambda data: data + b"extra\n",
    "wrong-length": lambda data: _header(data.partition(b"\n")[2], length=3) + data.partition(b"\n")[2][:3],
    "other-format": lambda data: _header(data.partition(b"\n")[2], fmt="2") + data.partition(b"\n")[2],
    "not-utf8": lambda data: _header(b"\xff\xfe") + b"\xff\xfe",
}


@pytest.mark.parametrize("corrupt", list(CORRUPTIONS.values()), ids=list(CORRUPTIONS))
def test_a_corrupt_entry_is_rendered_afresh_and_rewritten(cache_dir: Path, corrupt: Callable[[bytes], bytes]) -> None:
    fresh = full(["--help"])
    assert entry(["--help"]) == fresh  # a miss: rendered and stored
    path = _entry_file(cache_dir)
    good = path.read_bytes()
    assert _valid(good) and good.partition(b"\n")[2].decode() == fresh[1]
    path.write_bytes(corrupt(good))
    assert entry(["--help"]) == fresh
    assert path.read_bytes() == good  # the entry was replaced, not left corrupt
    assert entry(["--help"]) == fresh  # and now served from the cache
    assert not list(cache_dir.glob("*.tmp"))  # no temporary file left


def test_a_valid_entry_is_served_as_stored(cache_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[int] = []

    def render() -> None:
        calls.append(1)
        print("Usage: cstar … ✓")
        raise SystemExit(0)

    assert fast.cached_help(["--help"], render) == 0
    assert fast.cached_help(["--help"], render) == 0
    assert calls == [1]
    assert capsys.readouterr().out == "Usage: cstar … ✓\n" * 2
    assert _valid(_entry_file(cache_dir).read_bytes())


def test_a_hand_made_entry_with_a_matching_header_is_trusted(
    cache_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The header is an integrity check, not a signature: the key names the entry, the hash its bytes.
    def render() -> None:
        raise AssertionError("a valid entry must not be rendered")

    cache_dir.mkdir()
    body = b"custom help\n"
    (cache_dir / f"help-{fast.help_cache_key(['--help'])}.txt").write_bytes(_header(body) + body)
    assert fast.cached_help(["--help"], render) == 0
    assert capsys.readouterr().out == "custom help\n"
