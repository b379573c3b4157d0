"""A keyring backend for tests: a JSON file named by ``CSTAR_TEST_KEYRING_FILE``, so the keychain code
path runs for real without touching the developer's OS keychain. ``CSTAR_TEST_KEYRING_MODE=hang``
makes every call block (to exercise the timeout); ``=fail`` makes every call raise."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import KeyringError


class FileKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def _path(self) -> Path:
        return Path(os.environ["CSTAR_TEST_KEYRING_FILE"])

    def _mode_check(self) -> None:
        mode = os.environ.get("CSTAR_TEST_KEYRING_MODE")
        if mode == "hang":
            time.sleep(60)
        if mode == "fail":
            raise KeyringError("locked")

    def _load(self) -> dict[str, str]:
        try:
            return json.loads(self._path().read_text())
        except FileNotFoundError:
            return {}

    def get_password(self, service: str, username: str) -> str | None:
        self._mode_check()
        return self._load().get(f"{service}/{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        self._mode_check()
        data = self._load()
        data[f"{service}/{username}"] = password
        self._path().write_text(json.dumps(data))

    def delete_password(self, service: str, username: str) -> None:
        self._mode_check()
        data = self._load()
        data.pop(f"{service}/{username}", None)
        self._path().write_text(json.dumps(data))
