"""facmon's version, as the installed distribution says (pyproject.toml), for `facmon --version` and reports."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version


def facmon_version() -> str:
    """The installed version; ``unknown`` when facmon runs from a tree that was never installed."""
    try:
        return version("facmon")
    except PackageNotFoundError:
        return "unknown"
