"""Redirect targets that stay on this site."""

from __future__ import annotations


def safe_next(target: str | None, default: str) -> str:
    """``target`` if it is a local path ("/…", not "//…" or with a backslash), else ``default``."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target
