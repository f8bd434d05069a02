"""InfluxDB line protocol: the only place in facmon that escapes measurement, tag and field text.

What the ingester writes with it is ingest.points; analytics and dashboards write their points with `line()`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from facmon.core.errors import FacmonError

_MEASUREMENT_ESCAPES = str.maketrans({",": r"\,", " ": r"\ "})
_KEY_ESCAPES = str.maketrans({",": r"\,", " ": r"\ ", "=": r"\="})
_STRING_ESCAPES = str.maketrans({'"': r"\"", "\\": "\\\\", "\n": r"\n", "\r": r"\r"})

FieldValue = bool | int | float | str


class LineProtocolError(FacmonError, ValueError):
    """A value that line protocol cannot carry (a newline in a tag, an empty key)."""


def escape_measurement(name: str) -> str:
    _check_key_text(name, "measurement")
    return name.translate(_MEASUREMENT_ESCAPES)


def escape_key(text: str) -> str:
    """Escape a tag key, tag value or field key."""
    _check_key_text(text, "tag or field key/value")
    return text.translate(_KEY_ESCAPES)


def quote_string(text: str) -> str:
    """A string field value; newlines are written as the two characters \\n so one point stays one line."""
    if not text.isascii():
        # A lone surrogate cannot be written as UTF-8; keep it visible as \udXXX instead of failing the batch.
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return '"' + text.translate(_STRING_ESCAPES) + '"'


def _check_key_text(text: str, what: str) -> None:
    if not text:
        raise LineProtocolError(f"empty {what}")
    if "\n" in text or "\r" in text:
        raise LineProtocolError(f"{what} {text!r} contains a line break")
    if "\\" in text:
        # InfluxDB 1.x keeps backslashes in tags literally, so one before an escaped separator is ambiguous.
        raise LineProtocolError(f"{what} {text!r} contains a backslash")


def format_field(value: FieldValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}i"
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise LineProtocolError("NaN and infinity cannot be stored")
        return repr(value)
    return quote_string(value)


def series_key(measurement: str, tags: Mapping[str, str]) -> str:
    """`measurement,tag=value,...` with tags sorted by key (InfluxDB's own order, cheapest to index)."""
    parts = [escape_measurement(measurement)]
    parts.extend(f"{escape_key(key)}={escape_key(tags[key])}" for key in sorted(tags) if tags[key] != "")
    return ",".join(parts)


def line(measurement: str, tags: Mapping[str, str], fields: Mapping[str, FieldValue], ts_ns: int) -> str:
    """One point; fields whose value is None are left out."""
    body = ",".join(f"{escape_key(key)}={format_field(value)}" for key, value in fields.items() if value is not None)
    if not body:
        raise LineProtocolError("a point needs at least one field")
    return f"{series_key(measurement, tags)} {body} {ts_ns}"


def column_lines(measurement: str, tags: Mapping[str, Sequence[str]],
                 fields: Mapping[str, Sequence[FieldValue | None]], ts_ns: Sequence[int]) -> list[str]:
    """Many points given column by column: the same text as line() for each row (``tags`` and ``fields`` map
    each key to one value per row, None leaving that row's field out), each column formatted at once."""
    count = len(ts_ns)
    lengths = {key: len(values) for key, values in (*tags.items(), *fields.items()) if len(values) != count}
    if lengths:
        raise LineProtocolError(f"columns of another length than the {count} timestamps: {lengths}")
    if not count:
        return []
    prefix = escape_measurement(measurement)
    heads = [prefix] * count
    for key in sorted(tags):
        given = {value for value in tags[key] if value != ""}
        if not given:
            continue  # line() leaves out tags without a value
        name = escape_key(key) + "="
        text = {value: name + escape_key(value) for value in given}
        heads = [head + "," + text[value] if value != "" else head for head, value in
                 zip(heads, tags[key], strict=True)]
    columns = [_field_column(key, values) for key, values in fields.items()]
    if not columns:
        raise LineProtocolError("a point needs at least one field")
    if all(all(column) for column in columns):
        bodies = [",".join(items) for items in zip(*columns, strict=True)]
    else:
        bodies = [",".join(item for item in items if item) for items in zip(*columns, strict=True)]
        if not all(bodies):
            raise LineProtocolError("a point needs at least one field")
    return [f"{head} {body} {ts}" for head, body, ts in zip(heads, bodies, ts_ns, strict=True)]


def _field_column(key: str, values: Sequence[FieldValue | None]) -> list[str]:
    """``key=value`` for each row as line() writes it, "" where the value is None."""
    name = escape_key(key) + "="
    kinds = set(map(type, values))
    if kinds == {int}:
        return [f"{name}{value}i" for value in values]
    if kinds == {float}:
        if not all(map(math.isfinite, values)):  # type: ignore[arg-type]  # all floats: checked above
            raise LineProtocolError("NaN and infinity cannot be stored")
        return [name + repr(value) for value in values]
    return ["" if value is None else name + format_field(value) for value in values]
