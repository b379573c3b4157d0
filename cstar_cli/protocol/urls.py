"""Hosts a key may be sent to over plain ``http://``, and that the emulator answers to: loopback only."""

from __future__ import annotations

import ipaddress

__all__ = ["is_loopback"]


def is_loopback(host: str | None) -> bool:
    """True for ``localhost`` and literal loopback addresses (127.0.0.0/8, ::1) only: a DNS name that
    merely starts with ``127.`` (``127.0.0.1.example.com``) can resolve anywhere."""
    name = (host or "").lower().strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
