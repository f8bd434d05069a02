"""Grafana's substitution of variables and macros in InfluxQL queries, redone here so tests can run every
dashboard query against a real InfluxDB without Grafana.

It follows Grafana's InfluxDB data source (public/app/plugins/datasource/influxdb/datasource.ts) and template
service: the front end replaces dashboard variables (``$var``, ``${var}``, ``${var:format}``) and the global
``${__from}``/``${__to}`` (epoch milliseconds); ``$timeFilter``, ``$__interval`` and ``$__interval_ms`` are
left to the back end (Grafana 10 and later), which writes ``time >= <from>ms and time <= <to>ms``. The older
front-end path wrote relative ranges as ``time >= now() - 6h and time <= now()``: ``Mode.FRONTEND`` does that.
A variable this module does not know raises, so a typo never reaches InfluxDB as literal text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

from dashboards.lint import VARIABLE_RE
from facmon.core.errors import FacmonError

#: Grafana's escapeRegex (packages/grafana-data/src/text/string.ts).
_REGEX_SPECIAL = re.compile(r"[\\^$*+?.()|\[\]{}/]")
#: The InfluxDB data source's influxSpecialRegexEscape, for multi-value variables in the default format.
_INFLUX_SPECIAL = re.compile(r"[$^*{}\[\]'+?.()|]")
_JS_FLOAT = re.compile(r"\s*[+-]?(Infinity|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)")
_RELATIVE = re.compile(r"^now-(\d+)([dhms])$")
_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d|w|y)$")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000, "y": 31_536_000_000}
#: Grafana's roundInterval (rangeutil.ts): (below this many ms, use this interval).
_ROUND = (
    (15, 10), (35, 20), (75, 50), (150, 100), (350, 200), (750, 500), (1500, 1000), (3500, 2000), (7500, 5000),
    (12500, 10000), (17500, 15000), (25000, 20000), (45000, 30000), (90000, 60000), (210000, 120000),
    (450000, 300000), (750000, 600000), (1050000, 900000), (1500000, 1200000), (2700000, 1800000),
    (5400000, 3600000), (9000000, 7200000), (16200000, 10800000), (32400000, 21600000), (86400000, 43200000),
    (604800000, 86400000), (1814400000, 604800000), (3628800000, 2592000000),
)
DEFAULT_MAX_DATA_POINTS = 1000


class UnresolvedVariable(FacmonError, KeyError):
    """A query names a variable or macro that Grafana would leave in the text."""


class Mode(Enum):
    BACKEND = "backend"  # Grafana 10+: absolute milliseconds
    FRONTEND = "frontend"  # classic path: relative ranges as now() - N


@dataclass(frozen=True, slots=True)
class TimeRange:
    """A dashboard time range in epoch ms; ``raw_from`` is Grafana's relative text such as ``now-6h``."""

    from_ms: int
    to_ms: int
    raw_from: str | None = None

    @classmethod
    def last(cls, now_ms: int, amount: int, unit: str) -> TimeRange:
        """The relative range ``now-<amount><unit>`` to ``now``."""
        return cls(now_ms - amount * _UNIT_MS[unit], now_ms, f"now-{amount}{unit}")


@dataclass(frozen=True, slots=True)
class Selection:
    """A variable's current value(s), with the definition flags that change how Grafana formats it.

    ``all_value`` is the variable's custom all value when All is selected (``values`` then lists the options
    for reference only): Grafana substitutes it unformatted, in every format but text and percent-encoding."""

    values: tuple[str, ...]
    multi: bool = False
    include_all: bool = False
    all_value: str | None = None

    @property
    def value(self) -> str | list[str]:
        """What Grafana hands the formatters: a string for single-value variables, else a list."""
        if not self.multi and not self.include_all and len(self.values) == 1:
            return self.values[0]
        return list(self.values)


def escape_regex(value: str) -> str:
    return _REGEX_SPECIAL.sub(lambda m: "\\" + m.group(0), value)


def _influx_special_regex_escape(value: str) -> str:
    return _INFLUX_SPECIAL.sub(lambda m: "\\\\" + m.group(0), value.replace("\\", "\\\\\\\\"))


def influx_default_format(selection: Selection) -> str:
    """The InfluxDB data source's interpolateQueryExpr, used when a query gives no format."""
    value = selection.value
    if not selection.multi and not selection.include_all:
        if isinstance(value, str) and not _JS_FLOAT.match(value):
            return escape_regex(value)
        return value if isinstance(value, str) else ",".join(value)
    if isinstance(value, str):
        return _influx_special_regex_escape(value)
    escaped = [_influx_special_regex_escape(item) for item in value]
    return escaped[0] if len(escaped) == 1 else "|".join(escaped)


def format_value(selection: Selection, fmt: str | None) -> str:
    """A variable's text in one of Grafana's formats (the ones facmon's dashboards may use)."""
    if selection.all_value is not None:
        return selection.all_value
    if fmt is None:
        return influx_default_format(selection)
    value = selection.value
    items = [value] if isinstance(value, str) else value
    if fmt == "regex":
        escaped = [escape_regex(item) for item in items]
        return escaped[0] if isinstance(value, str) or len(escaped) == 1 else "(" + "|".join(escaped) + ")"
    if fmt in ("raw", "csv"):
        return ",".join(items)
    if fmt == "pipe":
        return "|".join(items)
    if fmt == "singlequote":
        return ",".join("'" + item.replace("'", "\\'") + "'" for item in items)
    raise UnresolvedVariable(f"format {fmt!r} is not emulated")


def parse_interval(text: str) -> int:
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not an interval like 10s or 15m")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


def round_interval(ms: float) -> int:
    return next((result for below, result in _ROUND if ms < below), 31_536_000_000)


def seconds_to_hms(seconds: float) -> str:
    """Grafana's secondsToHms: the largest whole unit, floored."""
    for unit, size in (("y", 31_536_000), ("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            return f"{math.floor(seconds / size)}{unit}"
    return f"{math.floor(seconds * 1000)}ms"


def interval(time_range: TimeRange, min_interval: str | None,
             max_data_points: int = DEFAULT_MAX_DATA_POINTS) -> tuple[str, int]:
    """``$__interval`` and ``$__interval_ms``: range / data points, rounded, at least the minimum interval."""
    ms = round_interval((time_range.to_ms - time_range.from_ms) / max_data_points)
    if min_interval is not None:
        ms = max(ms, parse_interval(min_interval))
    return seconds_to_hms(ms / 1000), ms


def time_filter(time_range: TimeRange, mode: Mode) -> str:
    if mode is Mode.FRONTEND and time_range.raw_from is not None:
        match = _RELATIVE.match(time_range.raw_from)
        if match:
            return f"time >= now() - {match.group(1)}{match.group(2)} and time <= now()"
    return f"time >= {time_range.from_ms}ms and time <= {time_range.to_ms}ms"


def interpolate(query: str, variables: Mapping[str, Selection], time_range: TimeRange,
                interval_text: str, interval_ms: int, mode: Mode = Mode.BACKEND) -> str:
    """The query as InfluxDB would receive it from Grafana."""
    builtins = {
        "timeFilter": time_filter(time_range, mode),
        "__interval": interval_text, "interval": interval_text, "__interval_ms": str(interval_ms),
        "__from": str(time_range.from_ms), "__to": str(time_range.to_ms),
    }

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        fmt = match.group(3) or match.group(6)
        if match.group(5):
            raise UnresolvedVariable(f"{match.group(0)}: field paths are not emulated")
        if name in builtins and fmt is None:
            return builtins[name]
        if name in variables:
            return format_value(variables[name], fmt)
        raise UnresolvedVariable(f"{match.group(0)} is not a known variable or macro")

    return VARIABLE_RE.sub(replace, query)
