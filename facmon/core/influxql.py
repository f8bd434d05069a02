"""InfluxQL text: the one place that quotes identifiers and string literals for queries."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from facmon.core.errors import FacmonError

_IDENT_ESCAPES = str.maketrans({'"': r"\"", "\\": "\\\\"})
_LITERAL_ESCAPES = str.maketrans({"'": r"\'", "\\": "\\\\"})
_REGEX_SPECIAL = re.compile(r"([\\/.^$|?*+()\[\]{}])")

#: Facility ids a WHERE clause ORs together at most: InfluxDB 1.6 spent over ten minutes planning a statement
#: naming 20,000. Above it a query reads every facility's points of its time range (few: revisions, device
#: heartbeats) and the caller keeps those of its facilities.
MAX_NAMED = 50


class InfluxQLError(FacmonError, ValueError):
    """A value that must not be placed in a query."""


def _check(text: str) -> str:
    if "\n" in text or "\r" in text or "\x00" in text:
        raise InfluxQLError(f"{text!r} contains a line break or NUL")
    return text


def ident(name: str) -> str:
    """A double-quoted identifier (database, measurement, tag or field name)."""
    if not name:
        raise InfluxQLError("empty identifier")
    return '"' + _check(name).translate(_IDENT_ESCAPES) + '"'


def literal(value: str) -> str:
    """A single-quoted string literal, e.g. a tag value in WHERE."""
    return "'" + _check(value).translate(_LITERAL_ESCAPES) + "'"


def regex_literal(value: str, prefix: bool = False) -> str:
    """`/^value$/` (or `/^value/` for a path prefix) with every regex metacharacter escaped."""
    body = _REGEX_SPECIAL.sub(r"\\\1", _check(value))
    return f"/^{body}{'' if prefix else '$'}/"


def time_literal(moment: datetime) -> str:
    """An RFC 3339 UTC time literal."""
    if moment.tzinfo is None:
        raise InfluxQLError("naive datetime: give a timezone")
    return "'" + moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") + "'"
